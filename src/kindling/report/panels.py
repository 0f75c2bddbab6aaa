"""Image panels: the prediction grid (green titles right, red wrong, as seed 003 draws it) and the top
losses (fastai's plot_top_losses). numpy in, Plot out, like plots.py. The images are laid out as one
mosaic in one matplotlib axes, titles written over each cell: one axes to draw instead of one per image.
"""

from __future__ import annotations

import numpy as np

from kindling.report.plots import GREEN, RED, Plot, new_figure, text_rows, to_png


def _rgb(image: np.ndarray, cell: int) -> np.ndarray:
    """uint8 C,H,W -> uint8 cell,cell,3: nearest-neighbour scaled to fit, centred on white."""
    image = np.asarray(image)
    rgb = np.repeat(image[:1], 3, 0) if image.shape[0] == 1 else image[:3]
    _, h, w = rgb.shape
    scale = cell / max(h, w)
    rows = np.minimum((np.arange(max(1, round(h * scale))) / scale).astype(int), h - 1)
    cols = np.minimum((np.arange(max(1, round(w * scale))) / scale).astype(int), w - 1)
    scaled = rgb[:, rows][:, :, cols].transpose(1, 2, 0)
    out = np.full((cell, cell, 3), 255, dtype=np.uint8)
    top, left = (cell - scaled.shape[0]) // 2, (cell - scaled.shape[1]) // 2
    out[top : top + scaled.shape[0], left : left + scaled.shape[1]] = scaled
    return out


def image_panel(images, titles: list[str], colors: list[str], ncols: int, title: str, cell: int = 96):
    """Images in a grid, a coloured title over each and a title over all -> PNG bytes."""
    n = len(images)
    ncols = max(1, min(ncols, n))
    nrows = max(1, -(-n // ncols))
    band = 14 * max((t.count("\n") + 1 for t in titles), default=1) + 6  # pixels of title over each cell
    gap = 10
    width, height = ncols * (cell + gap) + gap, nrows * (band + cell + gap)
    mosaic = np.full((height, width, 3), 255, dtype=np.uint8)
    spots = []
    for i, image in enumerate(images):
        r, c = divmod(i, ncols)
        left, top = gap + c * (cell + gap), r * (band + cell + gap) + band
        mosaic[top : top + cell, left : left + cell] = _rgb(image, cell)
        spots.append((left + cell / 2, top - 3))
    fig = new_figure(width / 100, (height + 34) / 100)
    ax = fig.add_axes((0, 0, 1, height / (height + 34)))
    ax.imshow(mosaic, interpolation="nearest")
    ax.axis("off")
    for (x, y), text, color in zip(spots, titles, colors):
        ax.text(x, y, text, color=color, fontsize=8, ha="center", va="bottom", fontweight="bold")
    fig.suptitle(title, y=1 - 8 / (height + 34), va="top", fontsize=11)
    return to_png(fig)


def prediction_grid(images: np.ndarray, y_true, y_pred, class_names: list[str], split: str = "test") -> Plot:
    """Seed 003's grid: each image titled 'predicted (true)', green when right, red when wrong."""
    rows = [
        {"true": class_names[t], "predicted": class_names[p], "correct": t == p}
        for t, p in zip(np.asarray(y_true).tolist(), np.asarray(y_pred).tolist())
    ]
    titles = [f"{r['predicted']} ({r['true']})" for r in rows]
    colors = [GREEN if r["correct"] else RED for r in rows]
    png = image_panel(images, titles, colors, 8, f"Predictions on {split}: predicted (true)")
    right = sum(r["correct"] for r in rows)
    caption = f"{right} of {len(rows)} right; green: right, red: wrong."
    return Plot("prediction_grid", "Prediction grid", png, {"samples": rows}, caption)


def top_losses(
    losses,
    y_true,
    y_pred,
    p_pred,
    class_names: list[str],
    names: list[str],
    images=None,
    split: str = "test",
    indices=None,
) -> Plot:
    """The samples the model is most wrong about (fastai's plot_top_losses), highest loss first: the
    arrays hold those samples already. `p_pred`: the probability given to the predicted class; `images`:
    uint8 N,C,H,W (None: a text table); `indices`: each sample's index in the split."""
    losses = np.asarray(losses, dtype=float)
    order = np.argsort(-losses, kind="stable")
    rows = []
    for i in order.tolist():
        t, p = int(y_true[i]), int(y_pred[i])
        rows.append(
            {
                "index": int(indices[i]) if indices is not None else i,
                "name": names[i] if i < len(names) else str(i),
                "true": class_names[t],
                "predicted": class_names[p],
                "loss": float(losses[i]),
                "probability": float(p_pred[i]) if p_pred is not None else None,
            }
        )
    if images is not None:
        titles = [
            f"{r['predicted']} / {r['true']}\nloss {r['loss']:.2f} p {r['probability']:.2f}\n{r['name'][-18:]}"
            for r in rows
        ]
        colors = [GREEN if r["true"] == r["predicted"] else RED for r in rows]
        title = f"Top losses on {split}: predicted / true, loss, probability, sample"
        png = image_panel(np.asarray(images)[order], titles, colors, min(len(rows), 5) or 1, title, 120)
    else:
        lines = [f"{r['predicted']} / {r['true']}   loss {r['loss']:.2f}   {r['name'][:70]}" for r in rows]
        png = to_png(text_rows(lines, f"Top losses on {split}: predicted / true, loss, sample"))
    caption = "The samples the model is most wrong about; check their labels first."
    return Plot("top_losses", "Top losses", png, {"rows": rows}, caption)
