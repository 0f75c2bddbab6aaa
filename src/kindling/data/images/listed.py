"""Images listed in a table: `csv:labels.csv` with a column of image paths and the labels of each
(one class, a label set `a|b`, or 0/1 columns), routed here by kindling.data.tables.labelled.

    path,tags
    img/0001.png,even|loop
    img/0002.png,

Paths are relative to the CSV's folder (or data.root), or absolute. A missing file is one line naming
its row (or, with --skip-bad, left out with a warning). The images decode once into memory as every
image source's do (kindling.data.images.decode); data.val and data.test name tables of the same columns,
otherwise a seeded split is cut from the training rows (stratified on the class or the label combination).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from kindling.data.images.common import Listing, image_module, read_class_names, refuse_or_skip, take
from kindling.data.images.decode import decode_listing, photo_side
from kindling.data.memory import Split
from kindling.data.module import DataModule
from kindling.errors import UserError


def image_rows_module(
    parts: dict, column: str, root: Path, targets, cfg, where: str, photos: int | None = None
) -> DataModule:
    """`parts`: {split: (rows, targets tensor)} (None for a split not given); `targets` names the
    classes or labels, says whether they are multi-label, and cuts the seeded splits."""
    whole, which, ys, bad = Listing(), [], [], []
    for split, part in parts.items():
        if part is None:
            continue
        frame, y = part
        for position, (index, cell) in enumerate(zip(frame.index, frame[column])):
            origin = f"{where} row {int(index) + 2}"  # the header is line 1
            path = _resolve(cell, root)
            if path is None:
                bad.append(f"{origin}: image {cell!r} not found in {root}")
                continue
            whole.add(path, len(ys), f"{origin} ({cell})")
            ys.append(y[position])
            which.append(split)
    refuse_or_skip(bad, cfg.skip_bad, "fix the path", where, "rows whose image is missing")
    if not len(whole):
        raise UserError(
            f"{where}: no row names an image file that exists; check column '{column}' and data.root"
        )
    x, keep = decode_listing(whole, cfg, f"csv {where}", photos)
    y = torch.stack([ys[i] for i in keep])
    everything = Split(x, y, [whole.origins[i] for i in keep])
    kept = np.array([which[i] for i in keep])
    splits = {name: take(everything, np.flatnonzero(kept == name)) for name in ("train", "val", "test")}
    if splits["train"] is None:
        raise UserError(f"{where}: no usable images in the training rows")
    if splits["val"] is None:
        with_test = splits["test"] is None
        tr, va, te = targets.split(splits["train"].y, cfg, with_test)
        train = splits["train"]
        splits["train"], splits["val"] = take(train, tr), take(train, va)
        if with_test:
            splits["test"] = take(train, te)
    extras = {"source": "csv", "image_column": column}
    photos = photo_side(len(whole), cfg, photos)
    if photos and tuple(x.shape[-2:]) == (photos, photos):  # resized for a CNN from scratch: defaults.py
        extras["photo_side"] = photos
    names = read_class_names(cfg.class_names, targets.names) if not targets.multilabel else targets.names
    return image_module(splits, names, f"csv {where}", extras, targets.task)


def _resolve(cell, root: Path) -> Path | None:
    """The image file a cell names (relative to `root`, or absolute), or None when there is none."""
    if cell is None or (isinstance(cell, float) and cell != cell) or not str(cell).strip():
        return None
    path = Path(str(cell).strip()).expanduser()
    path = path if path.is_absolute() else root / path
    return path if path.is_file() else None
