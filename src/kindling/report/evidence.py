"""What the pictures are drawn from, kept in the run folder as plain files: the best model's predictions
on one split, with a few of its samples.

    plots/evidence.npz   y, pred, loss (per sample), p_pred (the probability given to the prediction),
                         sample_index and sample_images (the prediction grid's and top losses' images),
                         table_* (a table regression's every row: actual, predicted, split, dates)
    plots/evidence.json  what they mean: split, task, input kind, class names, sample names

Training writes them at its end (kindling.report.record), `kindling report --refresh` writes them again;
the renderer (kindling.report.render) reads only these files and metrics.jsonl.
"""

from __future__ import annotations

import io
import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from kindling.task import task_for
from kindling.util.fileio import atomic_write_bytes, atomic_write_json

GRID_SAMPLES = 16
TOP_LOSSES = 9
VERSION = 1


@dataclass
class Evidence:
    """The best model on one split: truth, prediction, per-sample loss (numpy), and what they mean."""

    split: str
    task: str  # the Task's name: "classification", "regression" or "multilabel"
    input_kind: str
    class_names: list[str]
    y: np.ndarray  # true class ids, or true values (regression)
    pred: np.ndarray  # predicted class ids, or predicted values
    loss: np.ndarray  # per sample: cross-entropy, or squared error in the target's units
    p_pred: np.ndarray | None = None  # classification: the probability of the predicted class
    names: list[str] = field(default_factory=list)  # file / row / text of each sample, when kept
    sample_index: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    sample_images: np.ndarray | None = None  # uint8 S, C, H, W of the samples at sample_index
    table: dict | None = None  # a table regression's rows: actual, predicted, split, dates, target, eval

    def confusion(self) -> np.ndarray:
        k = len(self.class_names)
        return np.bincount(self.y * k + self.pred, minlength=k * k).reshape(k, k)

    def images_at(self, index) -> np.ndarray:
        """The kept images of the samples at these split positions (all of them were kept)."""
        where = np.searchsorted(self.sample_index, np.asarray(index, dtype=np.int64))
        return self.sample_images[where]


def grid_indices(n: int, count: int = GRID_SAMPLES, seed: int = 0) -> np.ndarray:
    """A fixed, seeded choice of samples for the prediction grid (the same ones every time)."""
    return np.sort(np.random.default_rng(seed).permutation(n)[: min(n, count)])


def top_indices(loss: np.ndarray, k: int = TOP_LOSSES) -> np.ndarray:
    return np.argsort(-loss, kind="stable")[:k]


class Collected:
    """Per-sample results of one pass of a model over `split`, fed its raw outputs batch by batch in the
    split's order (by evaluate's pass: collect_and_evaluate). The Task says what the outputs mean."""

    def __init__(self, task, split, split_name: str):
        self.task, self.sig, self.split, self.split_name = task, task.sig, split, split_name
        self.parts: list[tuple] = []

    def __call__(self, out, y) -> None:
        out, y = out.float(), y.to(out.device)  # kept where they are: no GPU sync per batch
        self.parts.append((y, *self.task.per_sample(out, y)))

    def evidence(self) -> Evidence:
        import torch  # lazy: torch

        if not self.parts:  # an empty split: nothing to draw
            empty = np.zeros(0, dtype=np.int64)
            return Evidence(self.split_name, self.sig.task, self.sig.input_kind, [], empty, empty, empty)
        y, pred, loss, p_pred = (
            torch.cat(column).cpu().numpy() if column[0] is not None else None for column in zip(*self.parts)
        )
        sig, split = self.sig, self.split
        ev = Evidence(self.split_name, sig.task, sig.input_kind, list(sig.class_names), y, pred, loss, p_pred)
        ev.names = [str(n) for n in split.names]
        if self.task.inputs.pictures and split.x.dtype == torch.uint8:
            ev.sample_index = np.union1d(grid_indices(len(y)), top_indices(loss)).astype(np.int64)
            ev.sample_images = split.x[torch.from_numpy(ev.sample_index)].cpu().numpy()
        return ev


def collect_and_evaluate(
    model, sig, split, split_name: str, device="cpu", task=None, metrics: dict | None = None
) -> tuple[Evidence, dict]:
    """One pass of the model over `split`: the evidence the plots draw and the metrics `kindling evaluate`
    gives (the same function computes them), so the model runs once for both. `task`: the Bundle's
    (`kindling.task.task_of_bundle`), else the data's with the model's output convention. `metrics`:
    your own, {key: fn}."""
    from kindling.evaluate.evaluation import evaluate_model  # lazy: torch

    task = task or task_for(sig, model)
    collected = Collected(task, split, split_name)
    evaluation = evaluate_model(model, sig, split, split_name, device, collected, task=task, metrics=metrics)
    return collected.evidence(), evaluation


def plot_split(data) -> tuple[str, object] | tuple[None, None]:
    """The split the interpretation plots use: test (held out, as evaluate), else val."""
    for name in ("test", "val"):
        part = data.split(name)
        if part is not None and len(part):
            return name, part
    return None, None


# ---------------------------------------------------------------- files


ARRAYS = ("y", "pred", "loss", "p_pred", "sample_index", "sample_images")
META = ("split", "task", "input_kind", "class_names", "names")


def save(folder: Path, ev: Evidence) -> None:
    """plots/evidence.npz and plots/evidence.json, each written atomically (the JSON last)."""

    arrays = {k: getattr(ev, k) for k in ARRAYS if getattr(ev, k) is not None}
    meta = {"version": VERSION, **{k: getattr(ev, k) for k in META}}
    if ev.table is not None:
        arrays.update({f"table_{k}": v for k, v in ev.table.items() if isinstance(v, np.ndarray)})
        meta["table"] = {k: v for k, v in ev.table.items() if not isinstance(v, np.ndarray)}
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    atomic_write_bytes(Path(folder) / "evidence.npz", buf.getvalue())
    atomic_write_json(Path(folder) / "evidence.json", meta)


def load(folder: Path) -> Evidence | None:
    """The evidence saved in `folder`, or None when it is missing, unreadable or of another version."""
    folder = Path(folder)
    try:
        meta = json.loads((folder / "evidence.json").read_text(encoding="utf-8"))
        with np.load(folder / "evidence.npz", allow_pickle=False) as npz:
            arrays = {k: npz[k] for k in npz.files}
    except (OSError, ValueError):
        return None
    if not isinstance(meta, dict) or meta.get("version") != VERSION:
        return None
    ev = Evidence(**{k: meta[k] for k in META}, **{k: arrays[k] for k in ("y", "pred", "loss")})
    for key in ARRAYS[3:]:
        if key in arrays:
            setattr(ev, key, arrays[key])
    if "table" in meta:
        ev.table = {**meta["table"], **{k[6:]: v for k, v in arrays.items() if k.startswith("table_")}}
    return ev


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
