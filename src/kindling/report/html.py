"""`kindling report RUN` -> RUN/report.html, and `kindling compare RUN RUN...` -> compare.html.

The report builds from whatever the run directory holds: a run cut off before its first validation (no
best model), a run without a validation split, or data that can no longer be rebuilt still gets a page,
and the page says what is missing instead of failing.

    path = write_report("runs/digits")                # from the files training left: plots/*.png, plots/report.json
    path = write_report("runs/digits", refresh=True)  # the best model evaluated again, the plots redrawn
"""

from __future__ import annotations

import importlib.util
import time
from dataclasses import dataclass, field
from pathlib import Path

from kindling import data as data_mod
from kindling.bundle.files import load_bundle
from kindling.errors import UserError, near_folder
from kindling.evaluate import saved as evaluate_saved
from kindling.report import page as H
from kindling.report import saved
from kindling.report.columns import column_rows
from kindling.report.folds import is_cv_dir, write_page
from kindling.task import MONITOR_MODES, task_of_bundle
from kindling.util.codetrust import check_saved_data
from kindling.util.fileio import atomic_write_text, read_json


@dataclass
class RunView:
    """Everything the page shows, gathered once; a missing part is None plus a note."""

    run_dir: Path
    cfg: object
    env: dict = field(default_factory=dict)
    history: list[dict] = field(default_factory=list)
    bundle: object = None
    data: object = None
    evaluation: dict | None = None
    doctor: dict | None = None
    plots: list = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    monitor_mode: str | None = None  # "min" or "max": which epoch is the best
    baseline: dict | None = None  # RUN/baseline.json, scored on the evaluation's split
    objects: dict | None = None  # what kindling.fit handed over, when the run's data is theirs


def resolve_run_dir(run: str | Path) -> Path:
    path = Path(run)
    if path.name == "best" and (path.parent / "config.yaml").is_file():
        path = path.parent
    if not path.exists():
        raise UserError(f"{path} does not exist{near_folder(path)}; pass a run directory (runs/NAME)")
    if not (path / "config.yaml").is_file():
        raise UserError(f"{path} is not a kindling run directory (no config.yaml); pass runs/NAME")
    return path


def gather(run: str | Path, refresh: bool = False, objects: dict | None = None) -> RunView:
    """Read the run: config, env, history, then the evaluation, data summary and plots. Those come from
    plots/report.json and the PNGs when training left them and the run has not changed since (no torch,
    no model run); otherwise (or with `refresh`) the best model is evaluated and the plots redrawn."""
    from kindling.bundle.rundir import load_saved_config  # lazy: yaml
    from kindling.report.evidence import read_history  # lazy: numpy

    run_dir = resolve_run_dir(run)
    view = RunView(run_dir, load_saved_config(run_dir), objects=objects)
    if (run_dir / "env.json").is_file():
        view.env = read_json(run_dir / "env.json", "env.json")
    if (run_dir / "best" / "bundle.json").is_file():  # what training chose later: device, threads
        chosen = read_json(run_dir / "best" / "bundle.json", "best/bundle.json").get("env") or {}
        view.env.update({k: v for k, v in chosen.items() if v is not None})
    view.history = read_history(run_dir)
    found = None if refresh else saved.load(run_dir)
    if found is not None:
        view.evaluation, view.doctor = found["evaluation"], found["doctor"]
        view.notes, view.monitor_mode = list(found["notes"]), found["monitor_mode"]
        view.plots = found["plots"]
        if view.plots is None:  # the pictures are gone but their evidence is current: drawn again
            from kindling.report.render import render_run  # lazy: numpy

            view.plots, _ = render_run(run_dir)
    else:
        _evaluate_and_draw(view)
    _logger_note(view)
    if view.evaluation is not None:
        from kindling.evaluate.baseline_run import load as load_baseline  # lazy: numpy

        view.baseline = load_baseline(run_dir, view.evaluation.get("split"))
    return view


def _evaluate_and_draw(view: RunView) -> None:
    """The slow path: the Bundle and the data rebuilt, the model run once, its evidence written and every
    plot drawn from the folder (as at the end of training); the results saved (plots/report.json) so that
    the next report of this run reads them."""
    from kindling.report.render import write_and_render  # lazy: numpy

    view.monitor_mode = MONITOR_MODES.get(view.cfg.train.monitor, "max")
    view.plots, notes = write_and_render(view.run_dir, _load_model_and_data(view))
    view.notes.extend(notes)
    if view.bundle is not None:  # a metric of yours as the monitor: its direction is in the Bundle
        yours = ((view.bundle.meta.get("metrics") or {}).get("user_code") or {}).get("metrics") or {}
        mine = yours.get(view.cfg.train.monitor.removeprefix("val_")) if isinstance(yours, dict) else None
        if isinstance(mine, dict) and mine.get("mode") in ("min", "max"):
            view.monitor_mode = mine["mode"]
    if view.bundle is not None and view.data is not None:
        evaluate_saved.save(view.run_dir, view.evaluation, view.doctor, view.notes, view.monitor_mode)


def _load_model_and_data(view: RunView):
    """Bundle, data, data doctor and the evaluation; returns the evidence for the plots."""
    from kindling.evaluate.evaluation import own_metrics  # lazy: torch
    from kindling.report.evidence import collect_and_evaluate, plot_split  # lazy: numpy
    from kindling.report.tables import has_table_rows, table_rows  # lazy: numpy

    try:
        view.bundle = load_bundle(view.run_dir)
    except UserError as exc:
        view.notes.append(f"no best model: {exc}")
    try:
        check_saved_data(view.cfg.data.name, view.run_dir, "train a run from it here first")
        view.data = data_mod.build(view.cfg.data, quiet=True, objects=view.objects)
    except UserError as exc:
        view.notes.append(
            f"the data could not be rebuilt ({exc}); data summary, per-class table and "
            "interpretation plots are left out"
        )
        return None
    view.doctor, notes = saved.data_summary(view.data)
    view.notes.extend(notes)
    split_name, split = plot_split(view.data)
    if view.bundle is None or split is None:
        return None
    sig = view.bundle.signature
    task = task_of_bundle(view.bundle)
    try:
        mine = own_metrics(view.bundle, note=view.notes.append)
    except UserError as exc:  # your metric's file moved or changed: the page without it
        view.notes.append(f"your metrics are left out: {exc}")
        mine = None
    found, view.evaluation = collect_and_evaluate(
        view.bundle.model, sig, split, split_name, task=task, metrics=mine
    )
    if has_table_rows(sig):
        found.table = table_rows(view.bundle, view.objects)
    return found


def _logger_note(view: RunView) -> None:
    if (view.run_dir / "tb").is_dir():
        return

    chosen = view.cfg.train.logger
    chosen = ",".join(chosen) if isinstance(chosen, list) else chosen  # train.logger: [csv, mlflow]
    if importlib.util.find_spec("tensorboard") is None:
        view.notes.append(
            "no TensorBoard logs: the tensorboard package is not installed (`pip install tensorboard`)"
        )
    else:
        view.notes.append(f"no TensorBoard logs: the run was trained with train.logger={chosen}")


# ---------------------------------------------------------------- metrics from metrics.jsonl


def best_record(history: list[dict], monitor: str, mode: str | None = None) -> dict | None:
    """The epoch record with the best monitored value (val_*, or train_* in a run without validation).
    `mode` ("min" / "max") as the trainer used it; without it, looked up in kindling.task.metrics (imports torch)."""
    if mode is None:
        mode = MONITOR_MODES.get(monitor, "max")
    key = _monitor_key(history, monitor)
    scored = [r for r in history if isinstance(r.get(key), (int, float))]
    if not scored:
        return None
    return (max if mode == "max" else min)(scored, key=lambda r: r[key])


def monitor_key(history: list[dict], monitor: str) -> str:
    """The key the monitor was read by: val_*, or train_* in a run without validation."""
    return _monitor_key(history, monitor)


def _monitor_key(history: list[dict], monitor: str) -> str:
    return monitor if any(monitor in r for r in history) else monitor.replace("val_", "train_")


def _cards(view: RunView) -> list[tuple[str, str]]:
    cfg, history = view.cfg, view.history
    best = best_record(history, cfg.train.monitor, view.monitor_mode)
    key = _monitor_key(history, cfg.train.monitor)
    cards = [
        ("model", cfg.model.name),
        ("data", cfg.data.shown),
        ("epochs", f"{len(history)} of {cfg.train.epochs}"),
        (f"best {key}", H.fmt(best[key]) if best else "—"),
        ("best epoch", str(best["epoch"]) if best else "—"),
        ("training time", f"{sum(r.get('seconds', 0) for r in history):.1f} s"),
    ]
    if view.evaluation is not None:
        name = next((k for k in ("accuracy", "micro_f1", "rmse") if k in view.evaluation), "loss")
        cards.append((f"{view.evaluation['split']} {name}", H.fmt(view.evaluation[name])))
        if view.baseline is not None and name in view.baseline:
            cards.append((f"baseline {name}", H.fmt(view.baseline[name])))
    return cards


# the evaluation's numbers the page shows, in this order, where the evaluation has them
EV_KEYS = (
    "accuracy",
    "balanced_accuracy",
    "micro_f1",
    "macro_f1",
    "mAP",
    "subset_accuracy",
    "roc_auc",
    "pr_auc",
)
EV_KEYS += ("loss", "mae", "rmse", "r2", "n")


def render(view: RunView) -> str:
    cfg, history, ev = view.cfg, view.history, view.evaluation
    best = best_record(history, cfg.train.monitor, view.monitor_mode)
    rows = [("final", "final", history[-1])] if history else []
    rows += [("best", f"best ({cfg.train.monitor})", best)] if best else []
    keys = list(dict.fromkeys(k for r in history for k in r if k != "step" and not k.endswith("_n")))
    present = {"missing": view.notes, "evaluation": ev, "plots": view.plots, "data": view.doctor}
    present["columns"] = column_rows(view.run_dir)
    labels = [
        ("missing", "Missing"),
        ("metrics", "Metrics"),
        ("evaluation", "Evaluation"),
        ("plots", "Plots"),
    ]
    nav = [
        (a, label)
        for a, label in [*labels, ("data", "Data"), ("columns", "Columns"), ("setup", "Config")]
        if present.get(a, True)
    ]
    tb = view.run_dir / "tb"
    return H.render(
        "report.html",
        title=f"kindling report: {view.run_dir.name}",
        subtitle=f"{cfg.model.name} on {cfg.data.shown} — {view.run_dir}",
        footer=f"written by kindling report, {time.strftime('%Y-%m-%d %H:%M')}",
        nav=nav,
        cards=_cards(view),
        notes=view.notes,
        metric_keys=keys,
        metric_rows=rows,
        ev={**ev, **(ev.get("user_metrics") or {})} if ev else ev,  # your own metrics: columns too
        ev_keys=[k for k in EV_KEYS if k in (ev or {})] + list((ev or {}).get("user_metrics") or {}),
        ev_classes=list((ev or {}).get("per_class_accuracy", {})),
        ev_model=cfg.model.name,
        baseline=view.baseline,
        baseline_line=_baseline_line(ev, view.baseline),
        plots=view.plots,
        doc=view.doctor,
        columns=column_rows(view.run_dir),
        data_name=cfg.data.shown,
        config_yaml=cfg.to_yaml(),
        env=[(k, "" if v is None else v) for k, v in view.env.items()],
        tb=tb if tb.is_dir() else None,
        run_dir=view.run_dir,
    )


def _baseline_line(evaluation: dict | None, baseline: dict | None) -> str | None:
    """The compare line (with its advice when the baseline wins), as the run printed it."""
    if evaluation is None or baseline is None:
        return None
    from kindling.evaluate.baseline import compare_line  # lazy: numpy

    return compare_line(evaluation, baseline)


def write_report(
    run: str | Path, output: str | Path | None = None, refresh: bool = False, objects: dict | None = None
) -> Path:
    """RUN/report.html (or `output`). `refresh`: evaluate and redraw even when the saved results are
    current. `objects`: what kindling.fit handed over, when the run's data is theirs (a `Run` holds it)."""

    if is_cv_dir(run):  # a cross-validation (kindling cv): the page comparing its folds
        return write_page(run, output)
    view = gather(run, refresh, objects)
    path = Path(output) if output else view.run_dir / "report.html"
    atomic_write_text(path, render(view))
    return path
