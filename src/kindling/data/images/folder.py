"""`folder:DIR`: a folder per class (seed 001's hymenoptera_data, seed 003's flower_data).

    DIR/train/ants/0013035.jpg      DIR/val/ants/...     (or valid/, validation/; test/ optional)
    DIR/ants/0013035.jpg                                 (no split folders: a seeded stratified split)

Class names are the train folder's sub-folder names in sorted order (as torchvision's ImageFolder
orders them); data.class_names maps them to display names (seed 003's cat_to_name.json).
data.train / data.val / data.test name other class-folder trees explicitly.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from kindling.data.images.common import (
    Listing,
    image_module,
    read_class_names,
    refuse_or_skip,
    seeded_splits,
    take,
    warn,
)
from kindling.data.images.decode import decode_listing, photo_side
from kindling.data.images.load import IMAGE_SUFFIXES
from kindling.data.memory import Split
from kindling.data.module import DataModule
from kindling.errors import UserError

VAL_NAMES = ("val", "valid", "validation")


def split_trees(root: Path, cfg) -> dict[str, Path | None]:
    """Which folder holds each split: explicit data.train/val/test first, then DIR/train + DIR/val."""
    trees: dict[str, Path | None] = {"train": None, "val": None, "test": None}
    if (root / "train").is_dir():
        trees["train"] = root / "train"
        trees["val"] = next((root / n for n in VAL_NAMES if (root / n).is_dir()), None)
        trees["test"] = root / "test" if (root / "test").is_dir() else None
    else:
        trees["train"] = root
    for name in trees:
        explicit = getattr(cfg, name)
        if explicit:
            path = Path(explicit).expanduser()
            if not path.is_dir():
                raise UserError(
                    f"data.{name} {path} is not a folder; for folder data it names a folder of class folders"
                )
            trees[name] = path
    return trees


def class_folders(tree: Path) -> list[str]:
    return sorted(p.name for p in tree.iterdir() if p.is_dir() and not p.name.startswith("."))


def list_tree(tree: Path, classes: list[str], skip_bad: bool, split: str) -> tuple[Listing, list[str]]:
    """Every file under each class folder of `tree` -> (listing, bad-file reasons).

    Hidden files are ignored; a file that is not an image (by its suffix) is bad. An empty class
    folder in the training tree is an error (with --skip-bad, a warning and the class stays empty).
    """
    listing, bad = Listing(), []
    index = {name: i for i, name in enumerate(classes)}
    for name in class_folders(tree):
        if name not in index:
            raise UserError(
                f"{tree / name}: class folder '{name}' is not among the training classes ({', '.join(classes[:8])}"
                f"{', ...' if len(classes) > 8 else ''}); every split needs the same class folders"
            )
        files = sorted(p for p in (tree / name).rglob("*") if p.is_file() and not p.name.startswith("."))
        images = [p for p in files if p.suffix.lower() in IMAGE_SUFFIXES]
        bad += [
            f"{p}: not an image file (suffix '{p.suffix}'); images are {', '.join(sorted(IMAGE_SUFFIXES))}"
            for p in files
            if p.suffix.lower() not in IMAGE_SUFFIXES
        ]
        if not images and split == "train":
            message = f"{tree / name}: class folder '{name}' has no images; add images or remove the folder"
            if not skip_bad:
                raise UserError(message)
            warn(message)
        for p in images:
            listing.add(p, index[name], str(p))
    return listing, bad


def folder(cfg, photos: int | None = None) -> DataModule:
    """images: folder:DIR with a folder per class (train/ and val/ inside, or a seeded split)

    The decoded tensor is cached, so the second run starts at once."""
    root = Path(cfg.name.split(":", 1)[1]).expanduser()
    if not root.is_dir():
        raise UserError(
            f"{cfg.name}: folder {root} does not exist; pass folder:DIR with one sub-folder per class"
        )
    trees = split_trees(root, cfg)
    classes = class_folders(trees["train"])
    if len(classes) < 2:
        raise UserError(
            f"{trees['train']}: found {len(classes)} class folder(s); a classifier needs at least 2 "
            f"(layout: {trees['train']}/CLASS_NAME/image.png)"
        )
    whole, which, bad = Listing(), [], []
    for split, tree in trees.items():
        if tree is None:
            continue
        part, part_bad = list_tree(tree, classes, cfg.skip_bad, split)
        bad += part_bad
        for p, y, o in zip(part.paths, part.labels, part.origins):
            whole.add(p, y, o)
        which += [split] * len(part)
    refuse_or_skip(bad, cfg.skip_bad, "remove it", str(root), "file(s) that are not images")
    x, keep = decode_listing(whole, cfg, f"folder {root}", photos)
    y = torch.tensor([whole.labels[i] for i in keep], dtype=torch.long)
    names = [str(whole.paths[i]) for i in keep]
    kept_split = np.array([which[i] for i in keep])
    everything = Split(x, y, names)
    parts = _assemble(everything, kept_split, cfg, trees)
    extras = {"source": "folder", "class_folders": classes}
    photos = photo_side(len(whole), cfg, photos)
    if photos and tuple(x.shape[-2:]) == (photos, photos):  # resized for a CNN from scratch: defaults.py
        extras["photo_side"] = photos
    display = read_class_names(cfg.class_names, classes)
    return image_module(parts, display, f"folder {root}", extras)


def _assemble(everything: Split, kept_split: np.ndarray, cfg, trees: dict) -> dict[str, Split | None]:
    """Splits from their folders; what is missing is cut from train with a seeded stratified split."""
    parts = {name: take(everything, np.flatnonzero(kept_split == name)) for name in ("train", "val", "test")}
    train = parts["train"]
    if train is None:
        raise UserError("the training folder has no usable images")
    if trees["val"] is None:
        tr, va, te = seeded_splits(train.y.numpy(), cfg, with_test=trees["test"] is None)
        parts["train"], parts["val"] = take(train, tr), take(train, va)
        if trees["test"] is None:
            parts["test"] = take(train, te)
    return parts
