"""The renderer: a run folder in, every picture out. It reads metrics.jsonl and the evidence files
(kindling.report.evidence) and draws with matplotlib alone into plots/*.png and plots/index.json.

The end of `kindling train`, `kindling report` (when the pictures are missing) and `--refresh` all call
`render_run`, so they draw the same thing. No torch here.

    plots, notes = render_run("runs/digits")
"""

from __future__ import annotations

import functools
import importlib.util
import logging
from pathlib import Path

from kindling.report import evidence, panels
from kindling.report import plots as P
from kindling.report.evidence import Evidence, grid_indices, line_at, read_history, top_indices
from kindling.report.labelplots import label_grid, label_scores_plot, label_top_losses
from kindling.report.panels import top_losses
from kindling.report.plots import save_plots
from kindling.report.tables import table_plots
from kindling.task import TASKS
from kindling.task.inputs import INPUT_KINDS, Inputs

# matplotlib's DejaVu Sans has no Chinese glyphs (THUCNews' class names): one of these fills in when installed
CJK_FONTS = ("Noto Sans CJK SC", "Source Han Sans SC", "WenQuanYi Zen Hei", "WenQuanYi Micro Hei",
             "Microsoft YaHei", "SimHei", "PingFang SC", "Droid Sans Fallback")  # fmt: skip
# and on a machine with none of them, the one the `report` extra ships: Noto Sans SC (SIL Open Font
# License 1.1) from the PyPI package pylopdf-fonts-zh-cn, the smallest OFL wheel with a CJK font found
# (17 MB; mplfonts is 85 MB and bundles SimHei, whose licence does not allow it)
PACKAGED_CJK = ("pylopdf_fonts_zh_cn", "NotoSansSC-Regular.otf")


def render_run(run_dir: Path) -> tuple[list, list[str]]:
    """Draw the run's plots from its files into run_dir/plots -> (plots, notes on what was not drawn)."""
    from kindling.report.usercurves import user_metric_keys  # lazy: yaml

    folder = Path(run_dir) / "plots"
    plots, notes = draw_all(read_history(run_dir), evidence.load(folder), user_metric_keys(run_dir))
    if plots or (folder / "index.json").exists():  # an old index must not list pictures not drawn now
        folder.mkdir(parents=True, exist_ok=True)
        save_plots(folder, plots)
    return plots, notes


def write_and_render(run_dir: Path, ev: Evidence | None, draw: bool = True) -> tuple[list, list[str]]:
    """Replace the run's evidence files with `ev` (None: remove them, they would be stale), then draw
    -> (plots, notes for the page). `draw=False`: no picture now (and no stale index); `kindling report`
    draws them from the evidence when asked."""

    folder = Path(run_dir) / "plots"
    stale = ["evidence.json", "evidence.npz"] + ([] if draw else ["index.json"])  # no index of old pictures
    for name in stale:
        (folder / name).unlink(missing_ok=True)
    if ev is not None:
        folder.mkdir(parents=True, exist_ok=True)
        evidence.save(folder, ev)
    if not draw:
        return [], []
    plots, notes = render_run(run_dir)
    return plots, notes + [p.caption for p in plots if p.data.get("mode") == "pairs"]  # matrix replaced


def draw_all(history: list[dict], ev: Evidence | None, yours: list[str] = ()) -> tuple[list, list[str]]:
    """Every plot that the history and evidence allow; a plot that fails to draw becomes a note.
    `yours`: the keys of the run's own metrics (their curves)."""
    from kindling.report.usercurves import user_metric_curves  # lazy: yaml

    todo = [("learning curves", lambda: [P.learning_curves(history)])] if history else []
    if history and yours:
        todo.append(("your metrics", lambda: [p for p in [user_metric_curves(history, list(yours))] if p]))
    notes = [] if history else ["no epoch has finished yet, so there are no learning curves"]
    if ev is not None and len(ev.y):
        try:
            todo += _evidence_views(ev)
        except Exception as exc:  # noqa: BLE001 - evidence that cannot be read costs its views only
            notes.append(f"the prediction plots failed ({type(exc).__name__}: {exc})")
    drawn = []
    with _fonts():
        for what, draw in todo:
            try:
                drawn.extend(draw())
            except Exception as exc:  # noqa: BLE001 - one picture must not cost the others, or the run
                notes.append(f"the {what} plot failed ({type(exc).__name__}: {exc})")
    return drawn, notes


def _fonts():
    """matplotlib's settings while drawing: its own font first, then an installed CJK font for the glyphs
    that one lacks (matplotlib falls back glyph by glyph)."""

    import matplotlib  # lazy: matplotlib
    from matplotlib import font_manager  # lazy: matplotlib

    # a CJK font without a bold face makes matplotlib warn on every bold title; the fallback is what we want
    logging.getLogger("matplotlib.font_manager").setLevel(logging.ERROR)
    installed = {font.name for font in font_manager.fontManager.ttflist}
    families = ["DejaVu Sans", *(name for name in CJK_FONTS if name in installed)]
    if len(families) == 1:
        families += [name for name in [packaged_cjk_font()] if name]
    return matplotlib.rc_context({"font.family": families})


@functools.cache
def packaged_cjk_font() -> str | None:
    """The family name of the CJK font the `report` extra ships (PACKAGED_CJK), added to matplotlib's
    font manager on first use; None when the package is not installed."""

    from matplotlib import font_manager  # lazy: matplotlib

    spec = importlib.util.find_spec(PACKAGED_CJK[0])  # its folder only: nothing of it is imported
    folder = (spec.submodule_search_locations or [None])[0] if spec else None
    path = Path(folder, PACKAGED_CJK[1]) if folder else None
    if path is None or not path.is_file():
        return None
    font_manager.fontManager.addfont(str(path))
    return font_manager.FontProperties(fname=str(path)).get_name()


def _evidence_views(ev: Evidence) -> list:
    """(what, draw) for the views of the best model's predictions that its Task names (`report_views`)
    and this evidence can show."""

    task = TASKS.get(ev.task)
    views = (VIEWS[name](ev) for name in (task.report_views if task else ()))
    return [view for view in views if view is not None]


def _regression(ev: Evidence):

    if ev.table is not None:
        return "regression", lambda: table_plots(ev.table)
    return "regression", lambda: [P.regression_plot(ev.y, ev.pred, ev.split)]


def _confusion(ev: Evidence):

    return "confusion matrix", lambda: [P.confusion_plot(ev.confusion(), ev.class_names, ev.split)]


def _per_class(ev: Evidence):

    accuracy = P.per_class_accuracy
    return "per-class accuracy", lambda: [
        P.per_class_plot(accuracy(ev.confusion(), ev.class_names), ev.split)
    ]


def _prediction_grid(ev: Evidence):

    if ev.sample_images is None:
        return None
    pick = grid_indices(len(ev.y))
    grid = (ev.images_at(pick), ev.y[pick], ev.pred[pick], ev.class_names, ev.split)
    return "prediction grid", lambda: [panels.prediction_grid(*grid)]


def _confused_pairs(ev: Evidence):

    if not _text_lines(ev):  # each sample is named FILE:LINE: line_at reads the few examples shown
        return None
    pairs = (ev.class_names, ev.y, ev.pred, ev.names, ev.split, line_at)
    return "confused pairs", lambda: [P.text_confusions(ev.confusion(), *pairs)]


def _text_lines(ev: Evidence) -> bool:
    """Whether the samples are lines of text (named FILE:LINE), by the input kind's hooks."""

    return INPUT_KINDS.get(ev.input_kind, Inputs).text_lines


def _label_scores(ev: Evidence):
    return "per-label", lambda: [label_scores_plot(ev.y, ev.pred, ev.class_names, ev.split)]


def _label_grid(ev: Evidence):
    if ev.sample_images is None:
        return None
    pick = grid_indices(len(ev.y))
    grid = (ev.images_at(pick), ev.y[pick], ev.pred[pick], ev.class_names, ev.split)
    return "prediction grid", lambda: [label_grid(*grid)]


def _label_top_losses(ev: Evidence):
    order = top_indices(ev.loss)
    text = _text_lines(ev)
    shown = [line_at(ev.names[i]) if text else ev.names[i] for i in order.tolist() if i < len(ev.names)]
    images = ev.images_at(order) if ev.sample_images is not None else None
    rows = (ev.loss[order], ev.y[order], ev.pred[order], ev.class_names, shown, images, ev.split, order)
    return "top losses", lambda: [label_top_losses(*rows)]


VIEWS = {
    "per-label scores": _label_scores,
    "label grid": _label_grid,
    "label top losses": _label_top_losses,
    "regression": _regression,
    "confusion matrix": _confusion,
    "per-class accuracy": _per_class,
    "prediction grid": _prediction_grid,
    "top losses": lambda ev: ("top losses", lambda: [_top_losses(ev, _text_lines(ev))]),
    "confused pairs": _confused_pairs,
}


def _top_losses(ev: Evidence, text: bool):

    order = top_indices(ev.loss)
    shown = [line_at(ev.names[i]) if text else ev.names[i] for i in order.tolist() if i < len(ev.names)]
    p_pred = ev.p_pred[order] if ev.p_pred is not None else None
    images = ev.images_at(order) if ev.sample_images is not None else None
    return top_losses(
        ev.loss[order], ev.y[order], ev.pred[order], p_pred, ev.class_names, shown, images, ev.split, order
    )
