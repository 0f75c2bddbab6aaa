"""A multi-label model's pictures: per-label precision, recall and F1; the prediction grid, each image
titled with every label predicted over its threshold (and the true ones); the top losses.

numpy in, Plot out, like plots.py and panels.py; the evidence holds (N, K) 0/1 truths and predictions
(kindling.report.evidence), made with the Bundle's tuned thresholds.
"""

from __future__ import annotations

import numpy as np

from kindling.report.panels import image_panel
from kindling.report.plots import (
    GREEN,
    LR_COLOR,
    RED,
    TRAIN_COLOR,
    Plot,
    new_figure,
    set_title,
    text_rows,
    to_png,
)


def names_of(row, class_names: list[str]) -> str:
    """A 0/1 row -> its labels, comma-separated ('-' for none)."""
    chosen = [class_names[j] for j in np.flatnonzero(np.asarray(row) > 0.5)]
    return ", ".join(chosen) or "-"


def label_scores(y_true, y_pred, class_names: list[str]) -> dict[str, dict]:
    """Per label: precision, recall, F1 and support of 0/1 predictions (N, K) against the truth."""
    truth, pred = np.asarray(y_true) > 0.5, np.asarray(y_pred) > 0.5
    tp, fp, fn = (truth & pred).sum(0), (~truth & pred).sum(0), (truth & ~pred).sum(0)
    scores = {}
    for j, name in enumerate(class_names):
        precision = tp[j] / (tp[j] + fp[j]) if tp[j] + fp[j] else 0.0
        recall = tp[j] / (tp[j] + fn[j]) if tp[j] + fn[j] else 0.0
        f1 = 2 * tp[j] / (2 * tp[j] + fp[j] + fn[j]) if tp[j] + fp[j] + fn[j] else 0.0
        scores[name] = {"precision": float(precision), "recall": float(recall), "f1": float(f1)}
        scores[name]["support"] = int(truth[:, j].sum())
    return scores


def label_scores_plot(y_true, y_pred, class_names: list[str], split: str = "test", limit: int = 40) -> Plot:
    """Precision, recall and F1 bars per label (the `limit` lowest F1 when there are more)."""
    scores = label_scores(y_true, y_pred, class_names)
    items = list(scores.items())
    if len(items) > limit:
        items = sorted(items, key=lambda kv: kv[1]["f1"])[:limit]
    shown = "" if len(items) == len(scores) else f", the {limit} lowest F1"
    fig = new_figure(max(5.0, 0.6 * len(items) + 1.5), 3.8)
    ax = fig.add_subplot()
    x = np.arange(len(items))
    for offset, key, colour in (
        (-0.27, "precision", TRAIN_COLOR),
        (0, "recall", LR_COLOR),
        (0.27, "f1", GREEN),
    ):
        ax.bar(x + offset, [s[key] for _, s in items], width=0.26, color=colour, label=key)
    names = [n for n, _ in items]
    slant = max(map(len, names), default=1) > 3
    ax.set_xticks(x, names, rotation=45 if slant else 0, ha="right" if slant else "center")
    ax.set_ylim(0, 1.05)
    ax.grid(axis="y", alpha=0.3)
    ax.legend(fontsize=8, loc="lower right")
    set_title(ax, f"Per label, at its threshold ({split}{shown})")
    fig.tight_layout()
    return Plot("per_label", "Per-label precision, recall, F1", to_png(fig), {"per_label": dict(items)})


def label_grid(images, y_true, y_pred, class_names: list[str], split: str = "test") -> Plot:
    """Each image titled with the labels predicted over their thresholds and, below, the true ones;
    green when the two sets are the same, red otherwise."""
    rows = [
        {"true": names_of(t, class_names), "predicted": names_of(p, class_names)}
        for t, p in zip(np.asarray(y_true), np.asarray(y_pred))
    ]
    for row in rows:
        row["correct"] = row["true"] == row["predicted"]
    titles = [f"{r['predicted']}\n({r['true']})" for r in rows]
    colors = [GREEN if r["correct"] else RED for r in rows]
    png = image_panel(images, titles, colors, 8, f"Predictions on {split}: labels over threshold (true)", 110)
    right = sum(r["correct"] for r in rows)
    caption = f"{right} of {len(rows)} with exactly the true labels; green: every label right, red: not."
    return Plot("prediction_grid", "Prediction grid", png, {"samples": rows}, caption)


def label_top_losses(losses, y_true, y_pred, class_names: list[str], names: list[str], images=None,
                     split: str = "test", indices=None) -> Plot:  # fmt: skip
    """The samples with the highest loss (binary cross-entropy averaged over the labels), highest first."""
    losses = np.asarray(losses, dtype=float)
    order = np.argsort(-losses, kind="stable")
    rows = [
        {
            "index": int(indices[i]) if indices is not None else i,
            "name": names[i] if i < len(names) else str(i),
            "true": names_of(y_true[i], class_names),
            "predicted": names_of(y_pred[i], class_names),
            "loss": float(losses[i]),
        }
        for i in order.tolist()
    ]
    if images is not None:
        titles = [f"{r['predicted']} / {r['true']}\nloss {r['loss']:.2f}\n{r['name'][-18:]}" for r in rows]
        colors = [GREEN if r["true"] == r["predicted"] else RED for r in rows]
        title = f"Top losses on {split}: predicted / true labels, loss, sample"
        png = image_panel(np.asarray(images)[order], titles, colors, min(len(rows), 5) or 1, title, 120)
    else:
        lines = [f"{r['predicted']} / {r['true']}   loss {r['loss']:.2f}   {r['name'][:60]}" for r in rows]
        png = to_png(text_rows(lines, f"Top losses on {split}: predicted / true labels, loss, sample"))
    caption = "The samples the model is most wrong about; check their labels first."
    return Plot("top_losses", "Top losses", png, {"rows": rows}, caption)
