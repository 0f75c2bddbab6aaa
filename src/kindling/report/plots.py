"""The run's pictures: learning curves, confusion matrix, per-class accuracy, prediction grid, top losses,
regression and text views. matplotlib's Agg canvas only (no pyplot, no display), numpy in, PNG bytes out.

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
    """Train/val loss (lr on a second axis) and the task metric against epoch."""
    from matplotlib.ticker import MaxNLocator

    epochs = [r["epoch"] for r in history]
    metric = (_metric_keys(history) or ["loss"])[0]
    series = {
        k: [r.get(k) for r in history]
        for k in ("train_loss", "val_loss", f"train_{metric}", f"val_{metric}", "lr")
    }
    fig = new_figure(10, 3.6)
    ax_loss, ax_metric = fig.subplots(1, 2)
    for ax, key, label in ((ax_loss, "loss", "loss"), (ax_metric, metric, metric)):
        for phase, color in (("train", TRAIN_COLOR), ("val", VAL_COLOR)):
            values = series.get(f"{phase}_{key}")
            if values and any(v is not None for v in values):
                ax.plot(
                    epochs, [np.nan if v is None else v for v in values], "o-", ms=3, color=color, label=phase
                )
        ax.set_xlabel("epoch")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_ylabel(label)
        ax.grid(alpha=0.3)
    # one legend (each costs ~25 ms): the colours are the same in both panels; away from where curves end
    ax_metric.legend(loc="lower right" if metric in ("acc", "r2") else "upper right", fontsize=8)
    ax_lr = ax_loss.twinx()
    ax_lr.plot(epochs, series["lr"], "--", color=LR_COLOR, lw=1)
    ax_lr.set_ylabel("learning rate", color=LR_COLOR)
    ax_lr.tick_params(axis="y", labelcolor=LR_COLOR, labelsize=7)
    set_title(ax_loss, "loss (dashed: learning rate)")
    set_title(ax_metric, metric)
    fig.subplots_adjust(left=0.07, right=0.92, bottom=0.14, top=0.9, wspace=0.5)  # tight_layout: 5x slower
    data = {"epoch": epochs, **series, "metric": metric}
    return Plot("learning_curves", "Learning curves", to_png(fig), data)


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
    side = min(9.0, 1.8 + 0.42 * k)
    fig = new_figure(side + (1.0 if k > 15 else 0.3), side)
    ax = fig.add_subplot()
    image = ax.imshow(norm, cmap="Blues", vmin=0, vmax=1)
    ax.set_xticks(
        range(k), class_names, rotation=45 if max(map(len, class_names), default=1) > 3 else 0, ha="right"
    )
    ax.set_yticks(range(k), class_names)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    if k <= 15:
        for i in range(k):
            for j in range(k):
                if cm[i, j]:
                    color = "white" if norm[i, j] > 0.5 else "black"
                    ax.text(
                        j,
                        i,
                        f"{norm[i, j]:.2f}\n{cm[i, j]}",
                        ha="center",
                        va="center",
                        fontsize=7,
                        color=color,
                    )
    else:  # no numbers in the cells: a colour bar reads the fractions (with them it is one axes too many)
        fig.colorbar(image, ax=ax, fraction=0.046, pad=0.03, label="fraction of the true class")
    set_title(ax, f"Confusion matrix ({split}, rows normalised)")
    _margins(fig, class_names, class_names, right=0.95 if k > 15 else 0.3)
    data = {"mode": "matrix", "matrix": cm.tolist(), "normalised": norm.tolist(), "class_names": class_names}
    return Plot(
        "confusion_matrix",
        "Confusion matrix",
        to_png(fig),
        data,
        "Each cell: fraction of the true class, count below.",
    )


def per_class_plot(per_class_accuracy: dict[str, float], split: str = "test", limit: int = 40) -> Plot:
    """Per-class accuracy bars (seed 004's 'Accuracy of ...' lines as a picture); the worst `limit` when many."""
    items = list(per_class_accuracy.items())
    if len(items) > limit:
        items = sorted(items, key=lambda kv: kv[1])[:limit]
    names = [n for n, _ in items]
    values = [v for _, v in items]
    longest = max(map(len, names), default=1)
    fig = new_figure(max(5.0, 0.35 * len(items) + 1.5), 3.0 + (0.05 * longest if longest > 3 else 0))
    ax = fig.add_subplot()
    colors = [GREEN if v >= 0.9 else ("#bf8700" if v >= 0.7 else RED) for v in values]
    ax.bar(range(len(items)), values, color=colors)
    ax.set_xticks(
        range(len(items)), names, rotation=45 if max(map(len, names), default=1) > 3 else 0, ha="right"
    )
    ax.set_ylim(0, 1.05)
    ax.set_ylabel("accuracy")
    ax.axhline(float(np.mean(values)) if values else 0, color=LR_COLOR, ls="--", lw=1)
    shown = "" if len(items) == len(per_class_accuracy) else f", the {limit} worst"
    set_title(ax, f"Per-class accuracy ({split}{shown}; dashed: mean)")
    _margins(fig, names, ["1.00"])
    return Plot("per_class_accuracy", "Per-class accuracy", to_png(fig), {"per_class_accuracy": dict(items)})


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
