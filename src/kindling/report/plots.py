"""The run's pictures, drawn with matplotlib alone: learning curves, confusion matrix, per-class accuracy,
text confusions and the regression view; numpy in, PNG bytes out (kindling.report.panels: the image panels).

Each function returns a `Plot` that carries the numbers it drew (`data`), so a test (or the HTML report)
checks the picture's content against `evaluate`, not only that a file exists:

    plot = confusion_plot(cm, ["cat", "dog"])
    plot.data["matrix"] == cm            # the counts behind the coloured cells

Figures live on an Agg canvas (no pyplot, no display, no global state). Only the renderer imports this.
"""

from __future__ import annotations

import io
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from kindling.util.fileio import atomic_write_bytes, atomic_write_json

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
    from matplotlib.backends.backend_agg import FigureCanvasAgg  # lazy: matplotlib
    from matplotlib.figure import Figure  # lazy: matplotlib

    fig = Figure(figsize=(width, height), dpi=100)
    FigureCanvasAgg(fig)
    return fig


def set_title(ax, text: str, **kwargs) -> None:
    """ax.set_title at a fixed height: left to matplotlib, every draw measures the tick labels for it."""
    ax.set_title(text, y=1.0, **kwargs)


def to_png(fig) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", pil_kwargs={"compress_level": 1})
    return buf.getvalue()


# ---------------------------------------------------------------- learning curves


def _metric_keys(history: list[dict]) -> list[str]:
    """The task metric(s) recorded besides loss: acc for classification; f1 (micro) for multi-label;
    mae, r2 for regression."""
    keys = {k.split("_", 1)[1] for r in history for k in r if k.startswith(("train_", "val_"))}
    return [k for k in ("f1", "acc", "mae", "rmse", "r2") if k in keys][:1]


def lr_axis(ax, epochs: list, rates: list):
    """The learning rate, dashed, on a log axis at the right: a schedule spans decades, and a constant
    rate gets one labelled tick instead of a linear axis's repeated, rounded labels."""
    from matplotlib.ticker import LogLocator, NullFormatter  # lazy: matplotlib

    lr_ax = ax.twinx()
    shown = [v if v is not None and v > 0 else np.nan for v in rates]
    lr_ax.plot(epochs, shown, "--", color=LR_COLOR, linewidth=1.2)
    positive = [v for v in shown if np.isfinite(v)]
    if positive:
        lr_ax.set_yscale("log")
        lo, hi = min(positive), max(positive)
        lr_ax.set_ylim(lo / 2, hi * 2)  # a decade at most around a constant rate
        lr_ax.yaxis.set_major_locator(LogLocator(base=10, numticks=6))
        lr_ax.yaxis.set_minor_formatter(NullFormatter())  # powers of ten only: no crowded labels
    lr_ax.set_ylabel("learning rate", color=LR_COLOR)
    lr_ax.tick_params(axis="y", colors=LR_COLOR, labelsize=8)
    return lr_ax


def learning_curves(history: list[dict]) -> Plot:
    """Train/val loss (the learning rate on a second axis) and the task metric, against epoch."""
    from matplotlib.ticker import MaxNLocator  # lazy: matplotlib

    epochs = [r["epoch"] for r in history]
    metric = (_metric_keys(history) or ["loss"])[0]
    keys = ("train_loss", "val_loss", f"train_{metric}", f"val_{metric}", "lr")
    series = {k: [r.get(k) for r in history] for k in keys}
    fig = new_figure(10, 3.6)
    ax_loss, ax_metric = fig.subplots(1, 2)
    for ax, key, title in ((ax_loss, "loss", "loss (dashed: learning rate)"), (ax_metric, metric, metric)):
        for phase, colour in (("train", TRAIN_COLOR), ("val", VAL_COLOR)):
            values = series.get(f"{phase}_{key}") or []
            if any(v is not None for v in values):
                shown = [np.nan if v is None else v for v in values]
                ax.plot(epochs, shown, "o-", ms=3, color=colour, label=phase)
        ax.set_xlabel("epoch")
        ax.set_ylabel(key)
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.grid(alpha=0.3)
        set_title(ax, title)
    if any(v is not None for v in series["lr"]):
        lr_axis(ax_loss, epochs, series["lr"])
    if ax_metric.lines:
        ax_metric.legend(loc="lower right" if metric in ("f1", "acc", "r2") else "upper right", fontsize=8)
    fig.subplots_adjust(left=0.07, right=0.97, bottom=0.14, top=0.9, wspace=0.4)
    data = {"epoch": epochs, **series, "metric": metric}
    return Plot("learning_curves", "Learning curves", to_png(fig), data)


# ---------------------------------------------------------------- classification


def normalise_rows(cm: np.ndarray) -> np.ndarray:
    totals = cm.sum(1, keepdims=True)
    return np.divide(cm, totals, out=np.zeros(cm.shape, dtype=float), where=totals > 0)


def confused_pairs(cm: np.ndarray, class_names: list[str], top: int = 20) -> list[dict]:
    """The off-diagonal cells with the most samples, largest first: (true, predicted, count)."""
    off = np.array(cm, dtype=np.int64).copy()
    np.fill_diagonal(off, 0)
    pairs = []
    for index in np.argsort(off, axis=None, kind="stable")[::-1][:top]:
        i, j = np.unravel_index(index, off.shape)
        if off[i, j] <= 0:
            break
        pairs.append({"true": class_names[i], "predicted": class_names[j], "count": int(off[i, j])})
    return pairs


def _pairs_plot(cm: np.ndarray, class_names: list[str], split: str) -> Plot:
    k, pairs = len(class_names), confused_pairs(cm, class_names)
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


def confusion_plot(cm, class_names: list[str], split: str = "test") -> Plot:
    """Row-normalised confusion matrix, fraction and count in each cell up to 15 classes (a colour bar
    above); over 30 classes, the most confused pairs instead."""
    cm = np.asarray(cm, dtype=np.int64)
    k = len(class_names)
    if k > MAX_MATRIX_CLASSES:
        return _pairs_plot(cm, class_names, split)
    norm = normalise_rows(cm)
    side = min(9.0, 2.2 + 0.38 * k)
    fig = new_figure(max(5.2, side + (1.4 if k > 15 else 0.4)), side)
    ax = fig.add_subplot()
    image = ax.imshow(norm, cmap="Blues", vmin=0, vmax=1)
    if k <= 15:
        for i, j in zip(*np.nonzero(cm)):
            ink = "white" if norm[i, j] > 0.5 else "black"
            ax.text(j, i, f"{norm[i, j]:.2f}\n{cm[i, j]}", ha="center", va="center", fontsize=7, color=ink)
    else:
        fig.colorbar(image, ax=ax, fraction=0.046, pad=0.04, label="fraction of the true class")
    slant = max(map(len, class_names), default=1) > 3
    ax.set_xticks(range(k), class_names, rotation=45 if slant else 0, ha="right" if slant else "center")
    ax.set_yticks(range(k), class_names)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    set_title(ax, f"Confusion matrix ({split}, rows normalised)")
    fig.tight_layout()
    data = {"mode": "matrix", "matrix": cm.tolist(), "normalised": norm.tolist(), "class_names": class_names}
    caption = "Each cell: fraction of the true class, count below." if k <= 15 else ""
    return Plot("confusion_matrix", "Confusion matrix", to_png(fig), data, caption)


def per_class_accuracy(cm: np.ndarray, names: list[str]) -> dict[str, float]:
    support = np.asarray(cm).sum(1)
    return {n: float(cm[i, i] / support[i]) if support[i] else 0.0 for i, n in enumerate(names)}


def per_class_plot(per_class: dict[str, float], split: str = "test", limit: int = 40) -> Plot:
    """Per-class accuracy bars (seed 004's 'Accuracy of ...' lines as a picture); the worst `limit` when many."""
    items = list(per_class.items())
    if len(items) > limit:
        items = sorted(items, key=lambda kv: kv[1])[:limit]
    names, values = [n for n, _ in items], [v for _, v in items]
    shown = "" if len(items) == len(per_class) else f", the {limit} worst"
    fig = new_figure(max(5.0, 0.4 * len(items) + 1.5), 3.6)
    ax = fig.add_subplot()
    colours = [GREEN if v >= 0.9 else ("#bf8700" if v >= 0.7 else RED) for v in values]
    ax.bar(range(len(items)), values, color=colours)
    if values:
        ax.axhline(float(np.mean(values)), color=LR_COLOR, ls="--", linewidth=1)
    slant = max(map(len, names), default=1) > 3
    ax.set_xticks(range(len(items)), names, rotation=45 if slant else 0, ha="right" if slant else "center")
    ax.set_ylim(0, 1.05)
    ax.set_ylabel("accuracy")
    ax.grid(axis="y", alpha=0.3)
    set_title(ax, f"Per-class accuracy ({split}{shown}; dashed: mean)")
    fig.tight_layout()
    return Plot("per_class_accuracy", "Per-class accuracy", to_png(fig), {"per_class_accuracy": dict(items)})


def text_rows(lines: list[str], title: str):
    from matplotlib import rcParams  # lazy: matplotlib

    family = ["DejaVu Sans Mono", *rcParams["font.family"]]  # with the CJK fallback, when render set one
    fig = new_figure(9, 0.3 * max(1, len(lines)) + 0.8)
    ax = fig.add_subplot()
    ax.axis("off")
    for i, line in enumerate(lines):
        y = 1 - (i + 0.5) / max(1, len(lines))
        ax.text(0, y, line, family=family, fontsize=8, va="center", transform=ax.transAxes)
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
    title = f"Most confused pairs on {split}, true \u2192 predicted, with examples"
    fig = text_rows(lines or ["(no mistakes)"], title)
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


# ---------------------------------------------------------------- files


def index_entry(plot: Plot) -> dict:
    return {
        "name": plot.name,
        "title": plot.title,
        "file": f"{plot.name}.png",
        "caption": plot.caption,
        "data": plot.data,
    }


def save_plots(folder: Path, plots: list[Plot]) -> None:
    """Each plot as folder/NAME.png (atomically), then index.json with the numbers drawn."""

    for plot in plots:
        atomic_write_bytes(Path(folder) / f"{plot.name}.png", plot.png)
    atomic_write_json(Path(folder) / "index.json", [index_entry(p) for p in plots])
