"""The Python face of kindling: `fit`, `load` and `Run`, for scripts and notebooks.

    import kindling
    run = kindling.fit(data="digits", epochs=3)                # the same keys as the flags and recipes
    run = kindling.fit("recipes/digits.yaml", lr=0.01)         # a recipe plus overrides
    run.evaluate("test"); run.predict(["seven.png"]); run.report(); run.export("onnx"); run.dir
    model = kindling.load(run.dir)                             # a Predictor: .predict(inputs), .classes

Everything goes through the same config, runner and run directory as the command line, so a run made
here is resumed, evaluated, served or exported from the shell and the other way round. Library calls
never exit the interpreter: a mistake raises `kindling.UserError` with the CLI's one-line message.
"""

from __future__ import annotations

import base64
import html
import json
from dataclasses import fields
from pathlib import Path
from typing import Any

from kindling.config.flags import flag_keys
from kindling.config.types import from_dict
from kindling.errors import UserError, did_you_mean
from kindling.models.usercode import reference_for
from kindling.models.userrefs import given_again, hand_over
from kindling.predict.export import export_run
from kindling.report.html import write_report
from kindling.train.events import Interrupted
from kindling.util.codetrust import point_at

SECTIONS = ("data", "model", "optim", "sched", "train")


def keyword_keys() -> dict[str, str]:
    """keyword -> dotted config key: every flag's name (`batch_size` for --batch-size, `data` for --data)
    and every field name that is unique across the sections (`weight_decay` -> optim.weight_decay)."""
    from kindling.config.schema import RunConfig  # lazy: yaml

    defaults = RunConfig()
    seen: dict[str, list[str]] = {}
    for section in SECTIONS:
        for f in fields(getattr(defaults, section)):
            seen.setdefault(f.name, []).append(f"{section}.{f.name}")
    keys = {name: dotted[0] for name, dotted in seen.items() if len(dotted) == 1}
    keys.update(flag_keys())
    keys.update({"name": "name", "run_dir": "run_dir", "runs_dir": "runs_dir"})
    return keys


def config_from_keywords(recipe: str | Path | None, keywords: dict[str, Any], sets: dict | None = None):
    """The RunConfig for `fit(recipe, **keywords)`: defaults < recipe < keywords < `set` (dotted keys)."""
    from kindling.config.load import load_config  # lazy: yaml

    table = keyword_keys()
    flags: dict[str, Any] = {}
    for key, value in keywords.items():
        if "." in key:  # a dotted key the face itself sets (kindling.cv: data.folds)
            flags[key] = value
        elif key in SECTIONS and isinstance(value, dict):
            for inner, inner_value in value.items():
                flags[f"{key}.{inner}"] = inner_value
        elif key in table:
            flags[table[key]] = value
        else:
            raise UserError(
                f"kindling.fit() got an unknown keyword '{key}'{did_you_mean(key, table)}; "
                "use a flag's name (batch_size, lr, epochs ...) or set={'section.key': value}"
            )
    set_items = [f"{k}={json.dumps(v) if not isinstance(v, str) else v}" for k, v in (sets or {}).items()]
    return load_config(recipe, flags, set_items)


def fit(
    recipe: str | Path | None = None,
    *,
    data: Any = None,
    model: Any = None,
    resume: str | Path | None = None,
    overwrite: bool = False,
    set: dict | None = None,  # noqa: A002 - reads as the CLI's --set
    loss: Any = None,
    metrics: dict | None = None,
    callbacks: list | None = None,
    **keywords: Any,
) -> Run:
    """Train and return the `Run`. `data` and `model` take what the flags take (`"digits"`,
    `"folder:photos"`, `"resnet18"`, `"my_net.py:Net"`), and `data` your own objects too: a map-style
    Dataset of (input, label), a pair (X, y) or a DataFrame with `target=`, with `val=` / `test=` of the
    same kind (kindling.data.objects); every other keyword is a flag's name
    (`epochs=3`, `lr=1e-3`, `batch_size=64`, `target="price"`) or a section dict (`optim={...}`).
    `resume="runs/NAME"` continues a run exactly; Ctrl-C writes a resumable checkpoint, then raises
    KeyboardInterrupt. `loss=fn` (or an nn.Module), `metrics={"top3": fn}` and `callbacks=[obj]` are your
    own code, as `--loss`, `--metric` and `--callback` take it (docs/callbacks.md)."""
    from kindling.crossval import cross_validate, instead_of_one_network, is_cv_dir  # lazy: torch
    from kindling.runner import train  # lazy: yaml

    keywords.update(_own_code(loss, metrics, callbacks))
    cfg, objects = _config(recipe, data, model, resume, set, keywords)
    try:
        if resume is not None and is_cv_dir(
            resume
        ):  # a small table's fold ensemble (kindling.config.defaults)
            return CrossValidation(cross_validate(cfg, resume=resume, objects=objects), objects)
        instead = instead_of_one_network(overwrite)
        run_dir = train(cfg, resume=resume, overwrite=overwrite, instead=instead, objects=objects)
    except Interrupted as exc:
        where = resume or cfg.resolved_run_dir()
        raise KeyboardInterrupt(f"{exc}; resume with kindling.fit(resume={str(where)!r})") from None
    return CrossValidation(run_dir, objects) if is_cv_dir(run_dir) else Run(run_dir, objects)


def cv(
    recipe: str | Path | None = None,
    *,
    folds: int | None = None,
    ensemble: bool = False,
    data: Any = None,
    model: Any = None,
    resume: str | Path | None = None,
    overwrite: bool = False,
    set: dict | None = None,  # noqa: A002 - reads as the CLI's --set
    loss: Any = None,
    metrics: dict | None = None,
    callbacks: list | None = None,
    **keywords: Any,
) -> CrossValidation:
    """K-fold cross-validation, as `kindling cv --folds K` (kindling.crossval): the keywords are `fit`'s;
    each fold is a `Run` (`.folds`), `.summary` holds the mean and spread of each metric, and with
    `ensemble=True` the K fold models are one Bundle, so `.evaluate()`, `.predict()`, `.export()` and
    `kindling.load(result.dir)` use their average. `resume="runs/NAME"` continues a killed one."""
    from kindling.crossval import check_count, cross_validate  # lazy: torch

    if folds is not None:
        keywords["data.folds"] = check_count(folds)
    keywords.update(_own_code(loss, metrics, callbacks))
    cfg, objects = _config(recipe, data, model, resume, set, keywords)
    try:
        cv_dir = cross_validate(cfg, folds or cfg.data.folds, ensemble, resume, overwrite, objects=objects)
    except Interrupted as exc:
        where = resume or cfg.resolved_run_dir()
        raise KeyboardInterrupt(f"{exc}; resume with kindling.cv(resume={str(where)!r})") from None
    return CrossValidation(cv_dir, objects)


def _own_code(loss: Any, metrics: dict | None, callbacks: list | None) -> dict:
    """`loss=`, `metrics=`, `callbacks=` as the config's specs: one found at the top of a .py module is
    named by its file (recorded, resumable anywhere); any other object is this process's own
    (kindling.models.userrefs)."""

    given_again([])  # what this call names (hand_over), nothing of an earlier call's
    given: dict[str, Any] = {}
    if loss is not None:
        given["loss"] = hand_over("loss", loss)
    if metrics is not None:
        if not isinstance(metrics, dict):
            raise UserError(
                f"kindling.fit(metrics=...) takes a dict of name -> function, e.g. metrics={{'top3': top3}}; "
                f"got a {type(metrics).__name__}"
            )
        for key in metrics:
            if not (isinstance(key, str) and key.isidentifier()):
                raise UserError(
                    f"kindling.fit(metrics={{{key!r}: ...}}): a metric's key is logged as val_KEY, so it is a "
                    "name of letters, digits and _ (e.g. 'top3')"
                )
        given["metrics"] = [hand_over("metric", fn, key) for key, fn in metrics.items()]
    if callbacks is not None:
        if not isinstance(callbacks, (list, tuple)):
            callbacks = [callbacks]
        taken: set[str] = set()
        given["callbacks"] = [hand_over("callback", obj, taken=taken) for obj in callbacks]
    return given


def _config(recipe, data: Any, model: Any, resume, sets: dict | None, keywords: dict):
    """-> (the RunConfig of `fit` and `cv`, the objects handed over or None): your objects named, your
    model referenced, and on a resume the run's saved config with only the keys given now on top."""
    from kindling.bundle.rundir import load_saved_config  # lazy: yaml

    objects = None
    if data is not None and not isinstance(data, (str, Path)):  # a Dataset, (X, y) or a DataFrame
        data, objects = _hand_over(
            data, keywords
        )  # {"name": "objects:N", "display_name": "MNIST (a Dataset)"}
    if data is not None:
        keywords["data"] = data
    if model is not None:  # a name, a spec, or the user's class / factory / instance
        keywords["model"] = model if isinstance(model, str) else reference_for(model)
    if resume is None or recipe is not None:
        return config_from_keywords(recipe, keywords, sets), objects

    base = load_saved_config(Path(resume)).to_dict()
    if objects is not None and str(base["data"]["name"]).startswith("objects:"):
        keywords["data"]["name"] = base["data"]["name"]  # the same data handed again: the run's own handle
    cfg = config_from_keywords(None, keywords, sets)
    return from_dict(type(cfg), _merge_changed(base, cfg.to_dict(), keywords, sets)), objects


def _hand_over(data: Any, keywords: dict) -> tuple[dict, dict]:
    """Python objects as `data` (and `val=` / `test=` that are objects, not split files) -> (the data
    section: the spec that names them (kindling.data.objects) and the name the run shows for them; the
    objects, which the run is passed and the `Run` holds)."""
    from kindling.data.objects import display_name, hand_over  # lazy: torch

    parts = {k: keywords.pop(k) for k in ("val", "test") if not isinstance(keywords.get(k, ""), (str, Path))}
    spec, objects = hand_over(data, parts.get("val"), parts.get("test"), keywords.get("target"))
    return {"name": spec, "display_name": display_name(data)}, objects


def _merge_changed(base: dict, new: dict, keywords: dict, sets: dict | None) -> dict:
    """A resumed run's saved config with only the keys the caller gave on top."""
    from kindling.config.load import flatten, set_dotted  # lazy: yaml

    table = keyword_keys()
    given = [table[k] for k in keywords if k in table] + list(sets or {})
    flat = flatten(new)
    for dotted in given:
        set_dotted(base, dotted, flat.get(dotted))
    return base


def load(
    path: str | Path,
    device: str = "cpu",
    code: str | Path | None = None,
    trust_code: bool = False,
    tta: bool = False,
):
    """A Predictor for a run directory or a Bundle folder: `.predict(inputs)`, `.classes`, `.signature`;
    `tta=True` averages an image model's predictions over the flips and shifts it trained with.

    A model from your own file is imported from that file when you trained with it on this machine;
    `code="my_net.py"` names the file again (a Bundle trained elsewhere, a file moved since: used when
    its sha256 is the recorded one), `trust_code=True` uses the Bundle's own copy (kindling.util.codetrust)."""
    from kindling.predict.predictor import Predictor  # lazy: numpy

    _name_code(code)
    return Predictor.load(path, device, trust_code, tta)


def _name_code(code: str | Path | None) -> None:
    """`code=`: the user's own model file, named again for the Bundles this process loads."""
    if code is not None:
        point_at(code)


class Run:
    """A finished (or interrupted) run: its directory and what the CLI does with one. A run trained on
    Python objects (`kindling.fit(data=...)`) holds them, for its evaluate, report and export: they live
    as long as this Run (or your own references) does, and no longer."""

    def __init__(self, run_dir: str | Path, objects: dict | None = None):
        self.dir = Path(run_dir).resolve()
        self._objects = objects  # what kindling.fit handed over (kindling.data.objects), or None
        if not (self.dir / "config.yaml").is_file():
            raise UserError(f"{self.dir} is not a kindling run directory (no config.yaml)")

    def __repr__(self) -> str:
        return f"Run({str(self.dir)!r})"

    @property
    def history(self) -> list[dict]:
        """metrics.jsonl: one record per epoch."""
        path = self.dir / "metrics.jsonl"
        if not path.is_file():
            return []
        return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]

    def evaluate(
        self, split: str = "test", data: str | None = None, code: str | Path | None = None, tta: bool = False
    ) -> dict:
        """The dict `kindling evaluate RUN --json` prints (written to metrics_<split>.json, as there);
        `code=` as in `kindling.load`; `tta=True` as `--tta` (metrics_<split>_tta.json)."""
        from kindling.evaluate.evaluation import evaluate, write_metrics  # lazy: torch

        _name_code(code)
        objects = self._objects if data is None else None  # other data named now: not the run's objects
        result = evaluate(self.dir, split, data, tta=tta, objects=objects)
        write_metrics(self.dir, split, result, tta=tta)
        return result

    def predict(
        self, inputs, top_k: int = 3, code: str | Path | None = None, tta: bool = False
    ) -> list[dict]:
        """Predictions as `kindling predict RUN ... --json` gives them, for what you hold, by the model's
        input kind: a DataFrame, dicts, an array or tensor, or a CSV path (tables); PIL images, arrays,
        tensors, image files, folders or globs (images); strings or a text file (text). `code=` as in
        `kindling.load`; `tta=True` as `--tta` (each prediction then carries `tta_views`)."""
        from kindling.predict.batch import Job, check_job, run_job  # lazy: numpy
        from kindling.predict.predictor import Predictor  # lazy: numpy

        _name_code(code)
        predictor = Predictor.load(self.dir, tta=tta)
        items = [inputs] if isinstance(inputs, (str, Path)) else inputs
        paths = isinstance(items, (list, tuple)) and items and all(isinstance(i, (str, Path)) for i in items)
        if not (paths and predictor.task.inputs.pictures):  # what a Python user holds (kindling.task.held)
            return predictor.predict(inputs, top_k)
        job = Job([str(i) for i in items], top_k=top_k, progress=False)  # image files, folders, globs
        check_job(job, predictor)
        results, _ = run_job(job, predictor)
        return results

    def report(self, refresh: bool = False, code: str | Path | None = None) -> Path:
        """Write report.html (every plot, the evaluation, the config) and return its path."""

        _name_code(code)
        return Path(write_report(self.dir, None, refresh, objects=self._objects))

    def export(
        self, fmt: str = "onnx", output: str | Path | None = None, code: str | Path | None = None
    ) -> dict:
        """Export to ONNX or TorchScript, checked against PyTorch; -> the export report."""

        _name_code(code)
        return export_run(self.dir, fmt, output, objects=self._objects)

    def load(self, device: str = "cpu", code: str | Path | None = None):
        return load(self.dir, device, code)

    def _repr_html_(self) -> str:
        """In Jupyter, the last expression of a cell shows the learning curves and the last metrics."""
        rows = self.history
        parts = [f"<b>kindling run</b> <code>{html.escape(str(self.dir))}</code>"]
        curves = self.dir / "plots" / "learning_curves.png"
        if curves.is_file():
            data = base64.b64encode(curves.read_bytes()).decode()
            parts.append(f'<br><img src="data:image/png;base64,{data}" style="max-width:640px">')
        if rows:
            last = rows[-1]
            cells = "".join(
                f"<tr><td>{html.escape(k)}</td><td>{v:.4g}</td></tr>"
                for k, v in last.items()
                if isinstance(v, (int, float)) and k not in ("epoch", "step")
            )
            parts.append(f"<br>epoch {last.get('epoch')}<table>{cells}</table>")
        return "".join(parts)


class CrossValidation(Run):
    """A cross-validation's folder (kindling.crossval): its fold runs, their summary, and (made with
    `ensemble=True`) the fold ensemble, which `evaluate`, `predict`, `export` and `load` use as any Bundle."""

    def __init__(self, cv_dir: str | Path, objects: dict | None = None):
        super().__init__(cv_dir, objects)
        from kindling.crossval import is_cv_dir  # lazy: torch

        if not is_cv_dir(self.dir):
            raise UserError(f"{self.dir} is not a cross-validation (no cv.json)")

    def __repr__(self) -> str:
        return f"CrossValidation({str(self.dir)!r})"

    @property
    def state(self) -> dict:
        from kindling.crossval import read_state  # lazy: torch

        return read_state(self.dir)

    @property
    def folds(self) -> list[Run]:
        """Each fold's run, in order (the ones run so far)."""
        state = self.state
        folds = range(state["folds"])
        return [Run(self.dir / f"fold-{i}", self._objects) for i in folds if str(i) in state["done"]]

    @property
    def summary(self) -> dict:
        """{"val" | "test": {metric: {"mean", "std", "values"}}}: over the folds (val: each held-out part)."""
        return self.state.get("summary", {})

    @property
    def ensemble(self) -> bool:
        return (self.dir / "best" / "model.safetensors").is_file()
