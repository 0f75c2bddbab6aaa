"""Image panels: the prediction grid (green titles right, red wrong, as seed 003 draws it) and the top
losses (fastai's plot_top_losses). numpy in, Plot out, like plots.py; a panel is pixels and titles only,
no axes, so it is composed with PIL (kindling.report.raster): about 5 ms against 55-75 ms in matplotlib."""

from __future__ import annotations

import numpy as np

from kindling.report.plots import GREEN, RED, Plot, text_rows, to_png


def _to_rgb_cell(image: np.ndarray, cell: int) -> np.ndarray:
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


def _image_panel(images, titles, colors, ncols: int, title: str, cell: int = 120) -> bytes:
    """Images in a grid with a coloured title over each, and a title over all -> PNG bytes."""
    from kindling.report.raster import Page

    n = len(images)
    ncols = max(1, min(ncols, n))
    nrows = max(1, -(-n // ncols))
    gap, head = 12, 34
    band = 14 * max((t.count("\n") + 1 for t in titles), default=1) + 4
    width, height = ncols * (cell + gap) + gap, head + nrows * (band + cell + gap)
    spots = [
        (gap + c * (cell + gap), head + r * (band + cell + gap) + band)
        for r, c in map(lambda i: divmod(i, ncols), range(n))
    ]
    page = Page(width, height)
    page.text((width / 2, 10), title, size=14, anchor="ma")
    for image, text, color, (left, top) in zip(images, titles, colors, spots):
        page.paste(_to_rgb_cell(image, cell), (left, top))
        page.text((left + cell / 2, top - 3), text, size=11, fill=color, anchor="md", bold=True, spacing=2)
    return page.png()


def prediction_grid(images: np.ndarray, y_true, y_pred, class_names: list[str], split: str = "test") -> Plot:
    """Seed 003's grid: each image titled 'predicted (true)', green when right, red when wrong."""
    rows = []
    for t, p in zip(np.asarray(y_true).tolist(), np.asarray(y_pred).tolist()):
        rows.append({"true": class_names[t], "predicted": class_names[p], "correct": t == p})
    titles = [f"{r['predicted']} ({r['true']})" for r in rows]
    colors = [GREEN if r["correct"] else RED for r in rows]
    n = len(rows)
    png = _image_panel(images, titles, colors, 8, f"Predictions on {split}: predicted (true)")
    right = sum(r["correct"] for r in rows)
    return Plot(
        "prediction_grid",
        "Prediction grid",
        png,
        {"samples": rows},
        f"{right} of {n} right; green: right, red: wrong.",
    )


def top_losses(
    losses,
    y_true,
    y_pred,
    probs,
    class_names: list[str],
    names: list[str],
    images=None,
    split: str = "test",
    k: int = 9,
    text_of=None,
    indices=None,
) -> Plot:
    """The k samples the model is most wrong about (fastai's plot_top_losses): highest loss first.
    `images`: uint8 N,C,H,W (None: a text table). `indices`: each sample's index in the split, when the
    arrays given are already a selection of it (else their own positions)."""
    losses = np.asarray(losses, dtype=float)
    order = np.argsort(-losses, kind="stable")[:k]
    rows = []
    for i in order.tolist():
        t, p = int(y_true[i]), int(y_pred[i])
        rows.append(
            {
                "index": int(indices[i]) if indices is not None else i,
                "name": (text_of or str)(names[i]) if i < len(names) else str(i),
                "true": class_names[t],
                "predicted": class_names[p],
                "loss": float(losses[i]),
                "probability": float(probs[i][p]) if probs is not None else None,
            }
        )
    if images is not None:
        titles = [
            f"{r['predicted']} / {r['true']}\nloss {r['loss']:.2f} p {r['probability']:.2f}\n{r['name'][-18:]}"
            for r in rows
        ]
        colors = [GREEN if r["true"] == r["predicted"] else RED for r in rows]
        png = _image_panel(
            images[order],
            titles,
            colors,
            min(len(rows), 5) or 1,
            f"Top losses on {split}: predicted / true, loss, probability, sample",
            cell=140,
        )
    else:
        png = to_png(
            text_rows(
                [f"{r['predicted']} / {r['true']}   loss {r['loss']:.2f}   {r['name'][:70]}" for r in rows],
                f"Top losses on {split}: predicted / true, loss, sample",
            )
        )
    return Plot(
        "top_losses",
        "Top losses",
        png,
        {"rows": rows},
        "The samples the model is most wrong about; check their labels first.",
    )
