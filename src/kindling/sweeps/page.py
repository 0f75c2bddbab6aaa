"""`runs/NAME/sweep.html`: the trials, the optimisation history, the parallel coordinates of the searched
settings and their importances, in one self-contained file (PNGs inline, as the run report's).

The pictures are drawn with matplotlib on kindling's own figures (`kindling.report.plots`): Optuna's
plotly charts need plotly.js (3.5 MB inline, or a CDN), and its matplotlib ones draw through pyplot's
global state and style. The importances are Optuna's (`optuna.importance`, fANOVA).
"""

from __future__ import annotations

import base64
import math
from pathlib import Path

import yaml

from kindling.report import page as report_page
from kindling.sweeps.study import optuna
from kindling.sweeps.trials import Row, best_trial, train_command
from kindling.util.fileio import atomic_write_text

COLORS = {"complete": "#1f77b4", "pruned": "#bbbbbb", "failed": "#d62728"}


def write_page(session, rows: list[Row]) -> Path:

    sweep = session.sweep
    keys = [p.key for p in sweep.space]
    best = best_trial(session)
    notes: list[str] = []
    plots = []
    for draw in (history_plot, parallel_plot):
        try:
            plot = draw(rows, keys, sweep.monitor, sweep.direction)
        except Exception as exc:  # a picture that cannot be drawn is a note; the page is still written
            notes.append(f"{draw.__name__} could not be drawn: {type(exc).__name__}: {exc}")
            continue
        if plot is not None:
            plots.append(plot)
    importances, why = param_importances(session)
    if importances:
        plots.append(importance_plot(importances))
    elif why:
        notes.append(why)
    done = sum(r.state == "complete" for r in rows)
    cards = [
        ("study", sweep.name),
        ("trials", f"{done} complete, {sum(r.state == 'pruned' for r in rows)} pruned of {len(rows)}"),
        (f"best {sweep.monitor}", "-" if best is None else f"{best.value:.4f} (trial {best.number})"),
        ("direction", sweep.direction),
        ("pruner", sweep.pruner),
    ]
    spec = {k: v for k, v in vars(sweep).items() if k not in ("folder", "config")}
    page = render(
        title=f"kindling sweep: {sweep.name}",
        subtitle=f"{sweep.recipe or ''} — {len(rows)} trials",
        footer="",
        nav=[("summary", "Summary"), ("trials", "Trials"), ("plots", "Plots"), ("setup", "Sweep")],
        cards=cards,
        command=train_command(sweep, best.params) if best is not None else "",
        notes=notes,
        rows=rows,
        keys=keys,
        monitor=sweep.monitor,
        best=best.number if best is not None else None,
        plots=plots,
        spec_yaml=yaml.safe_dump(spec, sort_keys=False)
        + yaml.safe_dump({"config": sweep.config}, sort_keys=False),
    )
    return atomic_write_text(sweep.folder / "sweep.html", page)


def render(**context) -> str:
    """The page from sweeps/templates/sweep.html, on the run report's base template, macros and filters."""

    import jinja2  # lazy: jinja2

    folders = [Path(__file__).parent / "templates", Path(report_page.__file__).parent / "templates"]
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader([str(f) for f in folders]), autoescape=True, trim_blocks=True
    )
    env.filters.update(
        fmt=report_page.fmt,
        exact=report_page.exact,
        level=report_page.level,
        b64=lambda b: base64.b64encode(b).decode("ascii"),
    )
    env.globals["wide"] = {"sweep_history", "sweep_parallel", "sweep_importance"}
    return env.get_template("sweep.html").render(**context) + "\n"


def history_plot(rows: list[Row], keys: list[str], monitor: str, direction: str):
    """Each trial's value by trial number, coloured by how it ended, and the best so far as a step line."""
    from kindling.report.plots import Plot, new_figure, set_title, to_png  # lazy: numpy

    scored = [r for r in rows if r.value is not None and math.isfinite(r.value)]
    if not scored:
        return None
    fig = new_figure(9, 3.6)
    ax = fig.add_subplot()
    for state, color in COLORS.items():
        mine = [r for r in scored if r.state == state]
        if mine:
            ax.scatter(
                [r.number for r in mine], [r.value for r in mine], s=22, color=color, label=state, zorder=3
            )
    best_so_far, best = [], None
    done = sorted((r for r in scored if r.state == "complete"), key=lambda r: r.number)
    for r in done:
        better = best is None or (r.value > best if direction == "maximize" else r.value < best)
        best = r.value if better else best
        best_so_far.append((r.number, best))
    if best_so_far:
        last = max(r.number for r in scored)
        best_so_far.append((last, best_so_far[-1][1]))  # the line runs on to the last trial
        ax.step(*zip(*best_so_far), where="post", color="#ff7f0e", label="best so far")
    from matplotlib.ticker import MaxNLocator  # lazy: matplotlib

    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlabel("trial")
    ax.set_ylabel(monitor)
    set_title(ax, f"Optimisation history ({direction} {monitor}; a pruned trial shows its last epoch)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    return Plot("sweep_history", "Optimisation history", to_png(fig), {"trials": [r.number for r in scored]})


def _axis_values(rows: list[Row], key: str) -> tuple[list[float], list[str] | None, bool]:
    """A setting's values on a 0..1 axis: numbers scaled (log when they span a factor of 20 or more),
    choices spaced evenly; -> (positions, tick labels for choices, log)."""
    values = [r.params.get(key) for r in rows]
    if all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values):
        lo, hi = min(values), max(values)
        log = lo > 0 and hi / lo >= 20
        f = math.log if log else float
        span = (f(hi) - f(lo)) or 1.0
        return [(f(v) - f(lo)) / span for v in values], None, log
    names = sorted({str(v) for v in values})
    step = 1.0 / max(1, len(names) - 1)
    return [names.index(str(v)) * step if len(names) > 1 else 0.5 for v in values], names, False


def parallel_plot(rows: list[Row], keys: list[str], monitor: str, direction: str):
    """One line per finished trial across the searched settings and the score, coloured by the score."""
    from matplotlib import colormaps, colors  # lazy: matplotlib

    from kindling.report.plots import Plot, new_figure, set_title, to_png  # lazy: numpy

    done = [
        r for r in rows if r.state == "complete" and r.value is not None and all(k in r.params for k in keys)
    ]
    if len(done) < 2:
        return None
    axes = [*keys, monitor]
    columns = [_axis_values(done, k) for k in keys]
    scores = [r.value for r in done]
    lo, hi = min(scores), max(scores)
    columns.append(([(s - lo) / ((hi - lo) or 1.0) for s in scores], None, False))
    norm = colors.Normalize(lo, hi)
    cmap = colormaps["viridis" if direction == "maximize" else "viridis_r"]
    fig = new_figure(9, 3.8)
    ax = fig.add_subplot()
    for i, r in enumerate(done):
        ax.plot(
            range(len(axes)), [col[0][i] for col in columns], color=cmap(norm(r.value)), alpha=0.8, lw=1.2
        )
    for x, (key, (_, names, log)) in enumerate(zip(axes, columns)):
        ax.axvline(x, color="#888", lw=0.8)
        raw = [r.params.get(key) for r in done] if key != monitor else scores
        label = (
            ", ".join(names)
            if names
            else f"{_short(min(raw))} .. {_short(max(raw))}{' (log)' if log else ''}"
        )
        ax.text(x, -0.12, label, ha="center", va="top", fontsize=7, transform=ax.get_xaxis_transform())
    ax.set_xticks(range(len(axes)), [a.removeprefix("model.options.") for a in axes], fontsize=8)
    ax.set_yticks([])
    ax.set_xlim(-0.2, len(axes) - 0.8)
    set_title(ax, f"Parallel coordinates of the complete trials (colour: {monitor})")
    fig.subplots_adjust(bottom=0.22, top=0.88, left=0.04, right=0.98)
    return Plot("sweep_parallel", "Parallel coordinates", to_png(fig), {"axes": axes})


def _short(value) -> str:
    return f"{value:.3g}" if isinstance(value, float) else str(value)


def param_importances(session) -> tuple[dict, str]:
    """Optuna's fANOVA importances of the searched settings; ({}, why) when they cannot be told yet."""

    opt = optuna()
    done = [t for t in session.study.get_trials(deepcopy=False) if t.state.name == "COMPLETE"]
    if len(done) < 2 or len(session.sweep.params) < 1:
        return {}, "parameter importances need at least two complete trials"
    try:
        evaluator = opt.importance.FanovaImportanceEvaluator(seed=0)
        return dict(opt.importance.get_param_importances(session.study, evaluator=evaluator)), ""
    except (RuntimeError, ValueError) as exc:  # e.g. every complete trial had the same values
        return {}, f"parameter importances could not be computed: {exc}"


def importance_plot(importances: dict):
    from kindling.report.plots import Plot, new_figure, set_title, to_png  # lazy: numpy

    keys = list(importances)[::-1]
    fig = new_figure(7, 0.5 + 0.45 * len(keys))
    ax = fig.add_subplot()
    ax.barh(range(len(keys)), [importances[k] for k in keys], color="#1f77b4")
    ax.set_yticks(range(len(keys)), keys, fontsize=8)
    ax.set_xlabel("importance (fANOVA, share of the variance of the score)")
    set_title(ax, "Parameter importances")
    fig.tight_layout()
    return Plot("sweep_importance", "Parameter importances", to_png(fig), {"importances": importances})
