"""What the pictures are drawn from: a run's history, and the best model's predictions on one split.

    preds = collect(bundle.model, bundle.signature, data.test, "test")
    plots = draw_all(history, preds, bundle.signature)

The same two functions serve the end-of-training callback (the trainer's data in memory) and
`kindling report` (the Bundle and the data rebuilt from the run's config), so both draw the same thing.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from kindling.report.plots import Plot

GRID_SAMPLES = 16
TOP_LOSSES = 9


@dataclass
class Predictions:
    """The best model on one split: truth, prediction, probabilities and per-sample loss (numpy)."""

    split: str
    y: np.ndarray  # true class ids, or true values (regression)
    pred: np.ndarray  # predicted class ids, or predicted values
    loss: np.ndarray  # per sample: cross-entropy, or squared error in the target's units
    probs: np.ndarray | None = None  # N, K (classification)
    names: list[str] = field(
        default_factory=list
    )  # file / row / text of each sample, when the source keeps it
    images: np.ndarray | None = None  # uint8 N, C, H, W for image inputs

    def confusion(self, k: int) -> np.ndarray:
        return np.bincount(self.y * k + self.pred, minlength=k * k).reshape(k, k)

    def images_at(self, index) -> np.ndarray:
        return self.images[np.asarray(index, dtype=np.int64)]


def collect(model, sig, split, split_name: str, device="cpu") -> Predictions:
    """Run `model` (eval mode, no grad) over `split` as evaluate does, keeping per-sample results."""
    return collect_and_evaluate(model, sig, split, split_name, device)[0]


def collect_and_evaluate(model, sig, split, split_name: str, device="cpu") -> tuple[Predictions, dict]:
    """One pass of the model over `split`: the per-sample Predictions the plots draw and the metrics that
    `kindling evaluate` gives (the same function computes them), so the model runs once for both."""
    from kindling.evaluate import evaluate_model

    collected = Collected(model, sig, split, split_name, device, evaluate=False)
    evaluation = evaluate_model(model, sig, split, split_name, device, collected)
    return collected.predictions(), evaluation


class Collected:
    """Per-sample results of one pass of a model over `split`, fed its raw outputs batch by batch (in
    the split's order): by evaluate's pass (collect_and_evaluate), or by the trainer's validation pass
    (trainer.val_watchers), which then also adds up evaluate's metrics (`evaluate=True`)."""

    def __init__(self, model, sig, split, split_name: str, device="cpu", evaluate: bool = True):
        from kindling.data.transforms import target_scale
        from kindling.evaluate import Evaluation

        self.sig, self.split, self.split_name = sig, split, split_name
        self.t_mean, self.t_std = target_scale(sig)
        self.log_probs = getattr(model, "outputs_log_probs", False)
        self.evaluation = Evaluation(model, sig, device) if evaluate else None
        self.ys, self.preds, self.losses, self.probs = [], [], [], []
        self.n = 0

    def __call__(self, out, y) -> None:
        import torch.nn.functional as F

        if self.evaluation is not None:
            self.evaluation.update(out, y)
        out, y = out.float(), y.to(out.device)  # kept where they are: no GPU sync per batch
        if self.sig.task == "regression":
            value = out.view(len(y), -1)[:, 0] * self.t_std + self.t_mean
            self.preds.append(value)
            self.losses.append((value - y.float()) ** 2)
        else:
            logp = out if self.log_probs else F.log_softmax(out, dim=1)
            self.preds.append(logp.argmax(1))
            self.losses.append(F.nll_loss(logp, y, reduction="none"))
            self.probs.append(logp.exp())
        self.ys.append(y)
        self.n += len(y)

    @property
    def complete(self) -> bool:
        return self.n == len(self.split)

    def predictions(self) -> Predictions:
        import torch

        split = self.split
        images = split.x.numpy() if self.sig.input_kind == "image" and split.x.dtype == torch.uint8 else None

        def joined(parts):
            return torch.cat(parts).cpu().numpy()

        return Predictions(
            self.split_name,
            joined(self.ys),
            joined(self.preds),
            joined(self.losses),
            joined(self.probs) if self.probs else None,
            list(split.names),
            images,
        )

    def result(self) -> tuple[Predictions, dict]:
        """(Predictions, evaluate's metrics) of a pass fed with `evaluate=True`."""
        return self.predictions(), self.evaluation.result(self.split_name)


def grid_indices(n: int, count: int = GRID_SAMPLES, seed: int = 0) -> np.ndarray:
    """A fixed, seeded choice of samples for the prediction grid (the same ones every time)."""
    return np.sort(np.random.default_rng(seed).permutation(n)[: min(n, count)])


# A plot to draw, as data only: (file stem, drawing function's name in DRAWERS, its keyword arguments:
# JSON values and numpy arrays). Specs cross to the report sidecar process (kindling.report.sidecar),
# so they hold no callables: "text_of": "line_at" stands for line_at below.
Spec = tuple[str, str, dict]

DRAWERS = {
    "learning_curves": "plots",
    "confusion_plot": "plots",
    "per_class_plot": "plots",
    "text_confusions": "plots",
    "regression_plot": "plots",
    "prediction_grid": "panels",
    "top_losses": "panels",
}


def draw(spec: Spec) -> Plot:
    """Draw one spec in this process."""
    import importlib

    _, fn, kwargs = spec
    if fn not in DRAWERS:
        raise ValueError(f"no drawing function {fn!r}")
    function = getattr(importlib.import_module(f"kindling.report.{DRAWERS[fn]}"), fn)
    if kwargs.get("text_of") == "line_at":
        kwargs = {**kwargs, "text_of": line_at}
    return function(**kwargs)


def history_specs(history: list[dict]) -> tuple[list[Spec], list[str]]:
    if not history:
        return [], ["no epoch has finished yet, so there are no learning curves"]
    return [("learning_curves", "learning_curves", {"history": history})], []


def prediction_specs(preds: Predictions | None, sig) -> list[Spec]:
    """The views of the best model's predictions that apply to this task."""
    if preds is None or len(preds.y) == 0:
        return []
    split = preds.split
    if sig.task == "regression":
        return [("regression", "regression_plot", {"y_true": preds.y, "y_pred": preds.pred, "split": split})]
    names = list(sig.class_names)
    cm = preds.confusion(len(names))
    text_of = "line_at" if sig.input_kind == "text" else None
    specs: list[Spec] = [
        ("confusion_matrix", "confusion_plot", {"cm": cm, "class_names": names, "split": split}),
        (
            "per_class_accuracy",
            "per_class_plot",
            {"per_class_accuracy": _per_class_accuracy(cm, names), "split": split},
        ),
    ]
    if preds.images is not None:
        pick = grid_indices(len(preds.y))
        grid = {"y_true": preds.y[pick], "y_pred": preds.pred[pick], "class_names": names, "split": split}
        specs.append(("prediction_grid", "prediction_grid", {"images": preds.images_at(pick), **grid}))
    order = np.argsort(-preds.loss, kind="stable")[:TOP_LOSSES]  # only the rows drawn travel
    top = {
        "losses": preds.loss[order],
        "y_true": preds.y[order],
        "y_pred": preds.pred[order],
        "probs": preds.probs[order] if preds.probs is not None else None,
        "class_names": names,
        "names": [preds.names[i] if i < len(preds.names) else str(i) for i in order.tolist()],
        "images": preds.images_at(order) if preds.images is not None else None,
        "split": split,
        "k": TOP_LOSSES,
        "text_of": text_of,
        "indices": order,
    }
    specs.append(("top_losses", "top_losses", top))
    if sig.input_kind == "text":
        pairs = {"cm": cm, "class_names": names, "y_true": preds.y, "y_pred": preds.pred}
        specs.append(
            (
                "confused_pairs",
                "text_confusions",
                {**pairs, "names": list(preds.names), "split": split, "text_of": text_of},
            )
        )
    return specs


def draw_all(
    history: list[dict], preds: Predictions | None, sig, extra_regression=None
) -> tuple[list[Plot], list[str]]:
    """Every plot that the run's history and predictions allow, drawn here -> (plots, notes on what could
    not be drawn). `extra_regression`: the tables' date-aware regression plots, used instead of the
    plain scatter when they draw."""
    specs, notes = history_specs(history)
    extra = []
    if sig.task == "regression" and extra_regression is not None and preds is not None and len(preds.y):
        try:
            extra = extra_regression() or []
        except Exception as exc:  # the tables plots are optional; fall back to the plain scatter
            notes.append(f"the table's date-aware regression plots failed ({type(exc).__name__}: {exc})")
    specs += [s for s in prediction_specs(preds, sig) if not (extra and s[0] == "regression")]
    return [draw(spec) for spec in specs] + extra, notes


def line_at(name: str, limit: int = 160) -> str:
    """A text source names each sample FILE:LINE; show that line (the text itself) when the file is here."""
    path, _, number = name.rpartition(":")
    if not number.isdigit() or not Path(path).is_file():
        return name
    with open(path, encoding="utf-8", errors="replace") as f:
        for i, line in enumerate(f, 1):
            if i == int(number):
                return " | ".join(part.strip() for part in line.strip().split("\t"))[:limit]
    return name


def _per_class_accuracy(cm: np.ndarray, names: list[str]) -> dict[str, float]:
    support = cm.sum(1)
    return {n: float(cm[i, i] / support[i]) if support[i] else 0.0 for i, n in enumerate(names)}


def read_history(run_dir: Path) -> list[dict]:
    """metrics.jsonl -> list of epoch records (a torn last line, from a crash mid-write, is skipped)."""
    path = Path(run_dir) / "metrics.jsonl"
    if not path.is_file():
        return []
    records = []
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            records.append(json.loads(line))
        except json.JSONDecodeError:
            continue
    return records


def plot_split(data) -> tuple[str, object] | tuple[None, None]:
    """The split the interpretation plots use: test (held out, as evaluate), else val."""
    for name in ("test", "val"):
        part = data.split(name)
        if part is not None and len(part):
            return name, part
    return None, None


def tables_regression_plots(run_dir: Path):
    """The tables module's date-aware regression plots, when that module exists: a callable or None."""
    try:
        from kindling.data.tables.plots import regression_plots
    except ImportError:
        return None

    def draw() -> list[Plot]:
        result = regression_plots(run_dir)
        items = result.items() if isinstance(result, dict) else ((Path(p).stem, p) for p in (result or []))
        found = []
        for name, item in items:
            if isinstance(item, Plot):
                found.append(item)
            elif isinstance(item, (bytes, bytearray)):
                found.append(Plot(str(name), str(name).replace("_", " ").capitalize(), bytes(item)))
            elif Path(item).is_file():
                found.append(
                    Plot(
                        Path(item).stem,
                        Path(item).stem.replace("_", " ").capitalize(),
                        Path(item).read_bytes(),
                    )
                )
        return found

    return draw
