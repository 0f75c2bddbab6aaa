"""The run's pictures: learning curves, confusion matrix, per-class accuracy, prediction grid, top losses,
regression and text views; numpy in, PNG bytes out. The learning curves, confusion matrix and per-class
bars are drawn with PIL (kindling.report.raster: milliseconds each); the regression, text and many-class
views with matplotlib's Agg canvas (no pyplot, no display).

Each function returns a `Plot` that carries the numbers it drew (`data`), so a test (or the HTML report)
can check the picture's content against `evaluate`, not only that a file exists:

    plot = confusion_plot(cm, ["cat", "dog"])
    plot.data["matrix"] == cm            # the counts behind the coloured cells

This module imports neither torch nor pyplot, so it is cheap to load in any process.
"""

from __future__ import annotations

import io
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

GREEN, RED = "#1a7f37", "#cf222e"
TRAIN_COLOR, VAL_COLOR, LR_COLOR = "#0969da", "#d1242f", "#8c959f"
MAX_MATRIX_CLASSES = 30  # above this a confusion matrix is unreadable: show the most confused pairs


@dataclass
class Plot:
    name: str  # file stem in plots/
    title: str
    png: bytes
    data: dict = field(default_factory=dict)  # the numbers drawn
    caption: str = ""


def new_figure(width: float, height: float):
    """A Figure on an Agg canvas; pyplot's global state is never touched."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), dpi=100)
    FigureCanvasAgg(fig)
    return fig


def set_title(ax, text: str, **kwargs) -> None:
    """ax.set_title at a given height: with y left to matplotlib, every draw measures all the tick labels
    to keep the title clear of top ticks (a third of a plot's drawing time); no plot here has any."""
    ax.set_title(text, y=1.0, **kwargs)


def to_png(fig) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", pil_kwargs={"compress_level": 1})
    return buf.getvalue()


# ---------------------------------------------------------------- learning curves


def _metric_keys(history: list[dict]) -> list[str]:
    """The task metric(s) recorded besides loss: acc for classification; mae, r2 for regression."""
    keys = {k.split("_", 1)[1] for r in history for k in r if k.startswith(("train_", "val_"))}
    return [k for k in ("acc", "mae", "rmse", "r2") if k in keys][:1]


def learning_curves(history: list[dict]) -> Plot:
    """Train/val loss (lr on a second axis) and the task metric against epoch. Drawn with PIL at twice
    the size and scaled down (antialiased): ~15 ms, against ~100 ms for the matplotlib figure."""
    from kindling.report.raster import Page, Panel, nice_ticks, shrink

    epochs = [r["epoch"] for r in history]
    metric = (_metric_keys(history) or ["loss"])[0]
    series = {
        k: [r.get(k) for r in history]
        for k in ("train_loss", "val_loss", f"train_{metric}", f"val_{metric}", "lr")
    }
    s = 2
    page = Page(1000 * s, 360 * s)
    x_range = (min(epochs), max(epochs)) if epochs else (0, 1)
    legend = []
    for n, (key, title) in enumerate((("loss", "loss (dashed: learning rate)"), (metric, metric))):
        drawn = {
            phase: values
            for phase in ("train", "val")
            if (values := series.get(f"{phase}_{key}")) and any(v is not None for v in values)
        }
        found = [v for values in drawn.values() for v in values if v is not None and np.isfinite(v)]
        box = tuple(v * s for v in (80 + 500 * n, 40, 440 + 500 * n, 300))
        panel = Panel(page, box, x_range, (min(found), max(found)) if found else (0, 1), s)
        panel.frame("epoch", key, title, integer_x=True)
        for phase, values in drawn.items():
            colour = TRAIN_COLOR if phase == "train" else VAL_COLOR
            panel.series(epochs, values, colour)
            if n == 1:
                legend.append((phase, colour))
        rates = [v for v in series["lr"] if v is not None]
        if n == 0 and rates:
            ticks = nice_ticks(min(rates), max(rates), 5)
            panel.series(epochs, series["lr"], LR_COLOR, dash=4, marker=False, y_lim=(ticks[0], ticks[-1]))
            panel.right_axis(ticks, "learning rate", LR_COLOR)
        if n == 1 and legend:
            panel.legend(legend, "lower right" if metric in ("acc", "r2") else "upper right")
    data = {"epoch": epochs, **series, "metric": metric}
    return Plot("learning_curves", "Learning curves", shrink(page, s).png(), data)


# ---------------------------------------------------------------- classification


def _margins(fig, x_labels: list[str], y_labels: list[str], right: float = 0.15) -> None:
    """Room for the tick labels, computed from their length (fig.tight_layout measures every artist: slow)."""
    width, height = fig.get_size_inches()
    x_len = max(map(len, x_labels), default=1)
    y_len = max(map(len, y_labels), default=1)
    bottom = 0.6 + (0.075 * x_len * 0.7 if x_len > 3 else 0.2)  # rotated labels take ~0.7 of their length
    left = 0.55 + 0.075 * y_len
    fig.subplots_adjust(
        left=left / width, bottom=bottom / height, right=1 - right / width, top=1 - 0.4 / height
    )


def normalise_rows(cm: np.ndarray) -> np.ndarray:
    totals = cm.sum(1, keepdims=True)
    return np.divide(cm, totals, out=np.zeros(cm.shape, dtype=float), where=totals > 0)


def confused_pairs(cm: np.ndarray, class_names: list[str], top: int = 20) -> list[dict]:
    """The off-diagonal cells with the most samples, largest first: (true, predicted, count)."""
    off = np.array(cm, dtype=np.int64).copy()
    np.fill_diagonal(off, 0)
    flat = np.argsort(off, axis=None)[::-1][:top]
    pairs = []
    for index in flat:
        i, j = np.unravel_index(index, off.shape)
        if off[i, j] <= 0:
            break
        pairs.append({"true": class_names[i], "predicted": class_names[j], "count": int(off[i, j])})
    return pairs


def confusion_plot(cm, class_names: list[str], split: str = "test") -> Plot:
    """Row-normalised confusion matrix with class names; over 30 classes, the top confused pairs instead."""
    cm = np.asarray(cm, dtype=np.int64)
    k = len(class_names)
    if k > MAX_MATRIX_CLASSES:
        pairs = confused_pairs(cm, class_names)
        fig = new_figure(8, max(2.5, 0.32 * len(pairs) + 1))
        ax = fig.add_subplot()
        labels = [f"{p['true']} \u2192 {p['predicted']}" for p in pairs][::-1]
        ax.barh(labels or ["(no mistakes)"], [p["count"] for p in pairs][::-1] or [0], color=RED)
        ax.set_xlabel("samples")
        set_title(ax, f"Most confused pairs, true \u2192 predicted ({k} classes, {split})")
        fig.tight_layout()
        data = {"mode": "pairs", "matrix": cm.tolist(), "pairs": pairs, "class_names": class_names}
        caption = f"{k} classes is too many for a readable matrix: the {len(pairs)} most frequent mistakes."
        return Plot("confusion_matrix", "Confusion (most confused pairs)", to_png(fig), data, caption)
    norm = normalise_rows(cm)
    png, layout = _matrix_picture(cm, norm, class_names, f"Confusion matrix ({split}, rows normalised)")
    data = {"mode": "matrix", "matrix": cm.tolist(), "normalised": norm.tolist(), "class_names": class_names}
    data["layout"] = layout  # where the cells are in the picture (left, top, cell size in pixels)
    return Plot(
        "confusion_matrix",
        "Confusion matrix",
        png,
        data,
        "Each cell: fraction of the true class, count below." if len(class_names) <= 15 else "",
    )


def _matrix_picture(cm: np.ndarray, norm: np.ndarray, names: list[str], title: str) -> tuple[bytes, dict]:
    """Cells coloured by the row fraction (Blues), fraction and count in each non-empty cell up to 15
    classes, a colour bar instead above; class names on both axes (slanted when long)."""
    from kindling.report.raster import Page, blues, font

    k = len(names)
    numbers = k <= 15
    cell = 48 if k <= 10 else (36 if k <= 15 else max(14, 420 // k))
    slant = max(map(len, names), default=1) > 3
    widest = max((font(11).getlength(n) for n in names), default=10)
    left, top, grid = int(widest) + 40, 44, k * cell
    bottom = (int(widest * 0.72) if slant else 16) + 40
    width, height = left + grid + (90 if not numbers else 24), top + grid + bottom
    page = Page(max(width, int(font(14).getlength(title)) + 20), height)
    colours = np.repeat(np.repeat(blues(norm), cell, 0), cell, 1)
    page.paste(colours, (left, top))
    page.rect((left, top, left + grid, top + grid), outline="#444444")
    if numbers:
        for i in range(k):
            for j in range(k):
                if cm[i, j]:
                    ink = "white" if norm[i, j] > 0.5 else "black"
                    centre = (left + j * cell + cell / 2, top + i * cell + cell / 2)
                    page.text(centre, f"{norm[i, j]:.2f}\n{cm[i, j]}", size=10, fill=ink, anchor="mm")
    for i, name in enumerate(names):
        middle = i * cell + cell / 2
        page.text((left - 6, top + middle), name, anchor="rm")
        if slant:
            page.text((left + middle + 4, top + grid + 4), name, anchor="rt", rotate=45)
        else:
            page.text((left + middle, top + grid + 5), name, anchor="ma")
    page.text((left + grid / 2, height - 22), "predicted", size=12, anchor="ma")
    page.text((10, top + grid / 2), "true", size=12, anchor="lm", rotate=90)
    page.text((page.image.width / 2, 12), title, size=14, anchor="ma")
    if not numbers:  # a colour bar reads the fractions
        x = left + grid + 16
        bar = np.repeat(blues(np.linspace(1, 0, grid))[:, None], 14, 1)
        page.paste(bar, (x, top))
        page.rect((x, top, x + 14, top + grid), outline="#444444")
        for value in (0.0, 0.5, 1.0):
            page.text((x + 18, top + grid * (1 - value)), f"{value:.1f}", size=10, anchor="lm")
        page.text((x + 50, top + grid / 2), "fraction of the true class", size=10, anchor="mm", rotate=90)
    return page.png(), {"left": left, "top": top, "cell": cell}


def per_class_plot(per_class_accuracy: dict[str, float], split: str = "test", limit: int = 40) -> Plot:
    """Per-class accuracy bars (seed 004's 'Accuracy of ...' lines as a picture); the worst `limit` when many."""
    from kindling.report.raster import Page, font

    items = list(per_class_accuracy.items())
    if len(items) > limit:
        items = sorted(items, key=lambda kv: kv[1])[:limit]
    names = [n for n, _ in items]
    values = [v for _, v in items]
    shown = "" if len(items) == len(per_class_accuracy) else f", the {limit} worst"
    title = f"Per-class accuracy ({split}{shown}; dashed: mean)"
    slot = max(24, min(56, 560 // max(1, len(items))))
    slant = max(map(len, names), default=1) > 3
    widest = max((font(11).getlength(n) for n in names), default=10)
    left, top, plot_h = 64, 40, 200
    bottom = (int(widest * 0.72) if slant else 16) + 16
    width = max(left + slot * len(items) + 24, int(font(14).getlength(title)) + 20)
    page = Page(width, top + plot_h + bottom)
    scale = plot_h / 1.05
    base = top + plot_h
    for tick in (0.0, 0.2, 0.4, 0.6, 0.8, 1.0):
        y = base - tick * scale
        page.line(((left, y), (left + slot * len(items), y)), fill="#e6e6e6")
        page.text((left - 6, y), f"{tick:.1f}", size=10, anchor="rm")
    for i, (name, value) in enumerate(items):
        colour = GREEN if value >= 0.9 else ("#bf8700" if value >= 0.7 else RED)
        x0 = left + i * slot + slot * 0.1
        page.rect((x0, base - value * scale, x0 + slot * 0.8, base), fill=colour)
        middle = left + i * slot + slot / 2
        if slant:
            page.text((middle + 4, base + 4), name, anchor="rt", rotate=45)
        else:
            page.text((middle, base + 5), name, anchor="ma")
    mean = float(np.mean(values)) if values else 0.0
    page.line(
        ((left, base - mean * scale), (left + slot * len(items), base - mean * scale)), fill=LR_COLOR, dash=5
    )
    page.line(((left, top), (left, base)), fill="#444444")
    page.line(((left, base), (left + slot * len(items), base)), fill="#444444")
    page.text((14, top + plot_h / 2), "accuracy", size=12, anchor="lm", rotate=90)
    page.text((width / 2, 10), title, size=14, anchor="ma")
    return Plot("per_class_accuracy", "Per-class accuracy", page.png(), {"per_class_accuracy": dict(items)})


# ---------------------------------------------------------------- image views


def text_rows(lines: list[str], title: str):
    fig = new_figure(9, 0.3 * max(1, len(lines)) + 0.8)
    ax = fig.add_subplot()
    ax.axis("off")
    for i, line in enumerate(lines):
        ax.text(
            0,
            1 - (i + 0.5) / max(1, len(lines)),
            line,
            family="monospace",
            fontsize=8,
            va="center",
            transform=ax.transAxes,
        )
    set_title(ax, title, fontsize=10)
    return fig


def text_confusions(
    cm, class_names: list[str], y_true, y_pred, names: list[str], split: str = "test", text_of=None
) -> Plot:
    """For text: the most confused class pairs, each with up to two examples: `text_of(name)` turns a
    sample's name (e.g. FILE:LINE) into its text; without it the names are shown."""
    pairs = confused_pairs(np.asarray(cm), class_names, top=8)
    y_true, y_pred = np.asarray(y_true), np.asarray(y_pred)
    index = {n: i for i, n in enumerate(class_names)}
    lines = []
    for pair in pairs:
        hits = np.flatnonzero((y_true == index[pair["true"]]) & (y_pred == index[pair["predicted"]]))[:2]
        pair["examples"] = [(text_of or str)(names[i]) for i in hits.tolist() if i < len(names)]
        lines.append(f"{pair['true']} \u2192 {pair['predicted']}: {pair['count']}")
        lines.extend(f"    \u201c{text[:90]}\u201d" for text in pair["examples"])
    fig = text_rows(
        lines or ["(no mistakes)"], f"Most confused pairs on {split}, true \u2192 predicted, with examples"
    )
    return Plot("confused_pairs", "Most confused pairs", to_png(fig), {"pairs": pairs})


# ---------------------------------------------------------------- regression


def regression_plot(y_true, y_pred, split: str = "test") -> Plot:
    """Actual against predicted (the diagonal is perfect) and residuals against predicted."""
    y_true, y_pred = np.asarray(y_true, dtype=float), np.asarray(y_pred, dtype=float)
    residuals = y_true - y_pred
    fig = new_figure(10, 4)
    ax_fit, ax_res = fig.subplots(1, 2)
    ax_fit.scatter(y_true, y_pred, s=10, alpha=0.7, color=TRAIN_COLOR)
    lo, hi = float(min(y_true.min(), y_pred.min())), float(max(y_true.max(), y_pred.max()))
    ax_fit.plot([lo, hi], [lo, hi], "--", color=LR_COLOR)
    ax_fit.set_xlabel("actual")
    ax_fit.set_ylabel("predicted")
    set_title(ax_fit, f"Actual vs predicted ({split})")
    ax_res.scatter(y_pred, residuals, s=10, alpha=0.7, color=VAL_COLOR)
    ax_res.axhline(0, color=LR_COLOR, ls="--")
    ax_res.set_xlabel("predicted")
    ax_res.set_ylabel("actual - predicted")
    set_title(ax_res, "Residuals")
    fig.tight_layout()
    data = {"actual": y_true.tolist(), "predicted": y_pred.tolist(), "mae": float(np.abs(residuals).mean())}
    return Plot("regression", "Actual vs predicted", to_png(fig), data)


def save_plots(folder: Path, plots: list[Plot]) -> list[Path]:
    """Write each plot as folder/NAME.png (atomically) and an index.json with the numbers drawn."""
    paths = write_pngs(folder, plots)
    write_index(folder, [index_entry(p) for p in plots])
    return paths


def write_pngs(folder: Path, plots: list[Plot]) -> list[Path]:
    from kindling.fileio import atomic_write_bytes

    return [atomic_write_bytes(Path(folder) / f"{p.name}.png", p.png) for p in plots]


def index_entry(plot: Plot) -> dict:
    return {
        "name": plot.name,
        "title": plot.title,
        "file": f"{plot.name}.png",
        "caption": plot.caption,
        "data": plot.data,
    }


def write_index(folder: Path, entries: list[dict]) -> Path:
    from kindling.fileio import atomic_write_json

    return atomic_write_json(Path(folder) / "index.json", entries)
