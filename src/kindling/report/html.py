"""`kindling report RUN` -> RUN/report.html, and `kindling compare RUN RUN...` -> compare.html.

The report builds from whatever the run directory holds: a run cut off before its first validation (no
best model), a run without a validation split, or data that can no longer be rebuilt still gets a page,
and the page says what is missing instead of failing.

    path = write_report("runs/digits")                # from the files training left: plots/*.png, plots/report.json
    path = write_report("runs/digits", refresh=True)  # the best model evaluated again, the plots redrawn
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

from kindling.errors import UserError
from kindling.report import page as H


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


def resolve_run_dir(run: str | Path) -> Path:
    path = Path(run)
    if path.name == "best" and (path.parent / "config.yaml").is_file():
        path = path.parent
    if not path.exists():
        raise UserError(f"{path} does not exist; pass a run directory (runs/NAME)")
    if not (path / "config.yaml").is_file():
        raise UserError(f"{path} is not a kindling run directory (no config.yaml); pass runs/NAME")
    return path


def gather(run: str | Path, refresh: bool = False) -> RunView:
    """Read the run: config, env, history, then the evaluation, data summary and plots. Those come from
    plots/report.json and the PNGs when training left them and the run has not changed since (no torch,
    no model run); otherwise (or with `refresh`) the best model is evaluated and the plots redrawn."""
    from kindling.fileio import read_json
    from kindling.report import saved
    from kindling.report.evidence import read_history
    from kindling.runner import load_saved_config

    run_dir = resolve_run_dir(run)
    view = RunView(run_dir, load_saved_config(run_dir))
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
            from kindling.report.render import render_run

            view.plots, _ = render_run(run_dir)
    else:
        _evaluate_and_draw(view)
    _logger_note(view)
    return view


def _evaluate_and_draw(view: RunView) -> None:
    """The slow path: the Bundle and the data rebuilt, the model run once, its evidence written and every
    plot drawn from the folder (as at the end of training); the results saved (plots/report.json) so that
    the next report of this run reads them."""
    from kindling.metrics import MONITOR_MODES
    from kindling.report import evidence, saved
    from kindling.report.render import render_run

    view.monitor_mode = MONITOR_MODES.get(view.cfg.train.monitor, "max")
    folder = view.run_dir / "plots"
    found = _load_model_and_data(view)
    for stale in ("evidence.json", "evidence.npz"):
        (folder / stale).unlink(missing_ok=True)
    if found is not None:
        folder.mkdir(parents=True, exist_ok=True)
        evidence.save(folder, found)
    view.plots, notes = render_run(view.run_dir)
    view.notes.extend(notes + saved.plot_notes(view.plots))
    if view.bundle is not None and view.data is not None:
        saved.save(view.run_dir, view.evaluation, view.doctor, view.notes, view.monitor_mode)


def _load_model_and_data(view: RunView):
    """Bundle, data, data doctor and the evaluation; returns the evidence for the plots."""
    from kindling import data as data_mod
    from kindling.bundle import load_bundle
    from kindling.report import saved
    from kindling.report.evidence import collect_and_evaluate, plot_split
    from kindling.report.tables import has_table_rows, table_rows

    try:
        view.bundle = load_bundle(view.run_dir)
    except UserError as exc:
        view.notes.append(f"no best model: {exc}")
    try:
        view.data = data_mod.build(view.cfg.data, quiet=True)
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
    found, view.evaluation = collect_and_evaluate(view.bundle.model, sig, split, split_name)
    if has_table_rows(sig):
        found.table = table_rows(view.bundle)
    return found


def _logger_note(view: RunView) -> None:
    if (view.run_dir / "tb").is_dir():
        return
    import importlib.util

    chosen = view.cfg.train.logger
    if importlib.util.find_spec("tensorboard") is None:
        view.notes.append(
            "no TensorBoard logs: the tensorboard package is not installed (`pip install tensorboard`)"
        )
    else:
        view.notes.append(f"no TensorBoard logs: the run was trained with train.logger={chosen}")


# ---------------------------------------------------------------- metrics from metrics.jsonl


def best_record(history: list[dict], monitor: str, mode: str | None = None) -> dict | None:
    """The epoch record with the best monitored value (val_*, or train_* in a run without validation).
    `mode` ("min" / "max") as the trainer used it; without it, looked up in kindling.metrics (imports torch)."""
    if mode is None:
        from kindling.metrics import MONITOR_MODES

        mode = MONITOR_MODES.get(monitor, "max")
    if not history:
        return None
    key = monitor if any(monitor in r for r in history) else monitor.replace("val_", "train_")
    scored = [r for r in history if isinstance(r.get(key), (int, float))]
    if not scored:
        return None
    pick = max if mode == "max" else min
    return pick(scored, key=lambda r: r[key])


def shown_keys(history: list[dict]) -> list[str]:
    keys = list(dict.fromkeys(k for r in history for k in r))
    return [k for k in keys if k not in ("step",) and not k.endswith("_n")]


def metrics_table(history: list[dict], monitor: str, mode: str | None = None) -> str:
    if not history:
        return "<p>No epoch has finished yet (metrics.jsonl is empty).</p>"
    keys = shown_keys(history)
    rows = []
    for label, record, rid in (
        ("final", history[-1], "final"),
        (f"best ({monitor})", best_record(history, monitor, mode), "best"),
    ):
        if record is not None:
            rows.append(
                f'<tr data-row="{rid}"><th>{H.esc(label)}</th>'
                + "".join(H.metric_cell(k, record.get(k)) for k in keys)
                + "</tr>"
            )
    head = "<th></th>" + "".join(f'<th class="num">{H.esc(k)}</th>' for k in keys)
    return f'<div class="scroll"><table id="metrics"><thead><tr>{head}</tr></thead><tbody>{"".join(rows)}</tbody></table></div>'


# ---------------------------------------------------------------- sections


def _summary(view: RunView) -> str:
    cfg, history = view.cfg, view.history
    best = best_record(history, cfg.train.monitor, view.monitor_mode)
    monitor_key = (
        cfg.train.monitor
        if best and cfg.train.monitor in best
        else cfg.train.monitor.replace("val_", "train_")
    )
    seconds = sum(r.get("seconds", 0) for r in history)
    items = [
        ("model", cfg.model.name),
        ("data", cfg.data.name),
        ("epochs", f"{len(history)} of {cfg.train.epochs}"),
        (f"best {monitor_key}", H.fmt(best[monitor_key]) if best else "—"),
        ("best epoch", str(best["epoch"]) if best else "—"),
        ("training time", f"{seconds:.1f} s"),
    ]
    if view.evaluation is not None:
        key = "accuracy" if "accuracy" in view.evaluation else "rmse"
        items.append((f"{view.evaluation['split']} {key}", H.fmt(view.evaluation[key])))
    return H.cards(items, small={"model", "data"})


def _evaluation(view: RunView) -> str:
    ev = view.evaluation
    if ev is None:
        return ""
    keys = [k for k in ("accuracy", "macro_f1", "loss", "mae", "rmse", "r2", "n") if k in ev]
    head = "".join(f'<th class="num">{k}</th>' for k in keys)
    row = "".join(H.metric_cell(f"{ev['split']}_{k}", ev[k]) for k in keys)
    body = f'<div class="scroll"><table id="evaluation"><thead><tr>{head}</tr></thead><tbody><tr>{row}</tr></tbody></table></div>'
    if "per_class_accuracy" in ev:
        rows = []
        for name, acc in ev["per_class_accuracy"].items():
            r = ev["report"][name]
            rows.append(
                [
                    name,
                    f'<td class="num">{H.bar(acc)} {acc:.4f}</td>',
                    f"{r['precision']:.4f}",
                    f"{r['recall']:.4f}",
                    f"{r['f1']:.4f}",
                    r["support"],
                ]
            )
        body += "<h3>Per class</h3>" + H.table(
            ["class", "accuracy", "precision", "recall", "f1", "support"], rows
        )
    return H.section("evaluation", f"The best model on the {ev['split']} split", body)


def _data(view: RunView) -> str:
    doc = view.doctor
    if doc is None:
        return ""
    sizes = ", ".join(f"{k} {v:,}" for k, v in doc["splits"].items())
    body = (
        f"<p>{H.esc(view.cfg.data.name)}: {H.esc(doc['task'])}, {H.esc(doc['input_kind'])} input of shape "
        f"{H.esc(doc['input_shape'])}; splits: {H.esc(sizes)}.</p>"
    )
    counts = doc.get("class_counts")
    if counts:
        splits = list(counts)
        rows = [[name] + [counts[s][name] for s in splits] for name in counts[splits[0]]]
        body += H.table(["class", *splits], rows)
        if doc.get("imbalance"):
            body += f"<p>Imbalance (largest / smallest training class): {doc['imbalance']}</p>"
    dup = doc["duplicates"]
    across = ", ".join(f"{k}: {v['count']}" for k, v in dup["across"].items())
    body += (
        f"<p>Exact duplicate samples across splits: {H.esc(across) if across else '<span class=ok>none</span>'}."
        f" Within splits: {H.esc(', '.join(f'{k} {v}' for k, v in dup['within'].items()))}.</p>"
    )
    return H.section("data", "Data (data doctor)", body)


def _plots(view: RunView) -> str:
    if not view.plots:
        return ""
    return H.section(
        "plots", "Plots", '<div class="plots">' + "".join(H.figure(p) for p in view.plots) + "</div>"
    )


def _setup(view: RunView) -> str:
    env_rows = [[k, "" if v is None else v] for k, v in view.env.items()]
    tb = view.run_dir / "tb"
    tb_line = (
        (
            f"<p>TensorBoard logs: <code>{H.esc(tb)}</code> — open them with "
            f"<code>kindling tensorboard {H.esc(view.run_dir)}</code></p>"
        )
        if tb.is_dir()
        else ""
    )
    body = (
        f'<div class="two"><div><h3>Config</h3><pre>{H.esc(view.cfg.to_yaml())}</pre></div>'
        f"<div><h3>Environment</h3>{H.table(['key', 'value'], env_rows, numeric_from=9)}{tb_line}</div></div>"
    )
    return H.section("setup", "Config and environment", body)


def render(view: RunView) -> str:
    cfg = view.cfg
    metrics = H.section(
        "metrics",
        "Metrics (from metrics.jsonl)",
        metrics_table(view.history, cfg.train.monitor, view.monitor_mode),
    )
    sections = [
        ("summary", "", H.section("summary", "Summary", _summary(view))),
        ("missing", "Missing", H.notes(view.notes)),
        ("metrics", "Metrics", metrics),
        ("evaluation", "Evaluation", _evaluation(view)),
        ("plots", "Plots", _plots(view)),
        ("data", "Data", _data(view)),
        ("setup", "Config", _setup(view)),
    ]
    when = time.strftime("%Y-%m-%d %H:%M")
    subtitle = f"{cfg.model.name} on {cfg.data.name} — {view.run_dir}"
    return H.page(
        f"kindling report: {view.run_dir.name}", subtitle, sections, f"written by kindling report, {when}"
    )


def write_report(run: str | Path, output: str | Path | None = None, refresh: bool = False) -> Path:
    """RUN/report.html (or `output`). `refresh`: evaluate and redraw even when the saved results are current."""
    from kindling.fileio import atomic_write_text

    view = gather(run, refresh)
    path = Path(output) if output else view.run_dir / "report.html"
    atomic_write_text(path, render(view))
    return path


# ---------------------------------------------------------------- several runs


def write_compare(runs: list[str | Path], output: str | Path = "compare.html") -> Path:
    """One page: the runs' curves overlaid, their metrics side by side."""
    from kindling.fileio import atomic_write_text
    from kindling.report.curves import compare_curves
    from kindling.report.evidence import read_history
    from kindling.runner import load_saved_config

    if len(runs) < 1:
        raise UserError("compare needs at least one run directory")
    dirs = [resolve_run_dir(r) for r in runs]
    labels = _unique_labels(dirs)
    histories = {label: read_history(d) for label, d in zip(labels, dirs)}
    rows = []
    for label, d in zip(labels, dirs):
        cfg, history = load_saved_config(d), histories[label]
        best = best_record(history, cfg.train.monitor) or {}
        final = history[-1] if history else {}
        key = cfg.train.monitor if cfg.train.monitor in best else cfg.train.monitor.replace("val_", "train_")
        rows.append(
            [
                label,
                cfg.model.name,
                cfg.data.name,
                f"{len(history)}/{cfg.train.epochs}",
                H.fmt(cfg.optim.lr),
                H.metric_cell(f"{label}:best_{key}", best.get(key)),
                H.metric_cell(f"{label}:final_val_loss", final.get("val_loss", final.get("train_loss"))),
                H.metric_cell(f"{label}:final_val_acc", final.get("val_acc", final.get("train_acc"))),
                f"{sum(r.get('seconds', 0) for r in history):.1f} s",
            ]
        )
    table = H.table(
        ["run", "model", "data", "epochs", "lr", "best monitored", "final loss", "final acc", "time"],
        rows,
        numeric_from=3,
    )
    plots = [compare_curves({k: v for k, v in histories.items() if v})] if any(histories.values()) else []
    sections = [
        ("runs", "Runs", H.section("runs", "Metrics side by side", table)),
        ("curves", "Curves", H.section("curves", "Curves overlaid", "".join(H.figure(p) for p in plots))),
    ]
    path = Path(output)
    atomic_write_text(path, H.page("kindling compare", " vs ".join(labels), sections))
    return path


def _unique_labels(dirs: list[Path]) -> list[str]:
    names = [d.name for d in dirs]
    return [str(d) if names.count(d.name) > 1 else d.name for d in dirs]
