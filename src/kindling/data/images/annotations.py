"""`annotations:FILE`: seed 003's `filename label` text files.

    image_06734.jpg 0
    image_06735.jpg 0

Labels are class numbers (0-based) or class names. Images are looked up in data.root, or else next
to the annotation file and in `<stem>_filelist/` beside it (seed 003 keeps train.txt's images in
train_filelist/ and val.txt's in val_filelist/). data.val and data.test name the other split files;
without them a seeded stratified split is cut from the train file.

Several labels on a line make it multi-label (a sample may then have none):

    photo_001.jpg cat dog          # or cat|dog (data.label_sep)
    photo_002.jpg

(a line counts its labels after the first field that ends in an image suffix; data.task=multilabel
reads every file this way).
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
)
from kindling.data.images.decode import decode_listing
from kindling.data.images.load import IMAGE_SUFFIXES
from kindling.data.labelsets import LabelSets, split_cells, split_indices
from kindling.data.memory import Split
from kindling.data.module import DataModule
from kindling.errors import UserError
from kindling.util.fileio import read_utf8


def read_lines(path: Path) -> list[tuple[str, str, str]]:
    """(filename, label, origin 'FILE:LINE') for every entry; blank lines and # comments are skipped."""
    if not path.is_file():
        raise UserError(
            f"annotation file {path} does not exist; pass annotations:FILE with `filename label` lines"
        )
    text = read_utf8(path, "an annotation file holds `filename label` lines")
    out = []
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        fields = line.rsplit(None, 1)  # the label is the last field; a file name may contain spaces
        if len(fields) != 2:
            fields = ["", ""]
        out.append((fields[0], fields[1], f"{path}:{number}"))
    return out


def roots_for(path: Path, root: str | None) -> list[Path]:
    if root:
        return [Path(root).expanduser()]
    return [path.parent, path.parent / f"{path.stem}_filelist"]


class Labels:
    """Maps label fields to class indices: numbers as given, or names in sorted order (fitted on train)."""

    def __init__(self, train_fields: list[str]):
        self.numeric = all(f.lstrip("-").isdigit() for f in train_fields if f)
        if self.numeric:  # classes 0..max: a label of val/test beyond the train file's is out of range
            self.count = max((int(f) for f in train_fields if f), default=-1) + 1
            self.keys = [str(i) for i in range(self.count)]
        else:
            self.keys = sorted({f for f in train_fields if f})
            self.count = len(self.keys)
        self.index = {k: i for i, k in enumerate(self.keys)}

    def parse(self, field: str, origin: str) -> int:
        """The class index of `field`; ValueError with the reason when it is out of range or unknown."""
        if self.numeric:
            if not field.lstrip("-").isdigit():
                raise ValueError(f"label '{field}' is not a class number")
            value = int(field)
            if not 0 <= value < self.count:
                raise ValueError(f"label {value} is out of range (classes are 0..{self.count - 1})")
            return value
        if field not in self.index:
            raise ValueError(f"label '{field}' is not a class of the training file")
        return self.index[field]


def build_listing(path: Path, entries, labels: Labels, cfg, bad: list[str]) -> Listing:
    """Resolve each entry to an existing image file and a class index; problems go to `bad`."""
    listing = Listing()
    roots = roots_for(path, cfg.root)
    # the folders named relative to the annotation file when beside it: a long path said twice drowned the line
    shown = " or ".join(
        "its folder"
        if r == path.parent
        else f"{r.relative_to(path.parent)}/"
        if r.is_relative_to(path.parent)
        else str(r)
        for r in roots
    )
    for filename, field, origin in entries:
        if not filename:
            bad.append(f"{origin}: malformed line (expected `filename label`)")
            continue
        try:
            label = labels.parse(field, origin)
        except ValueError as exc:
            bad.append(f"{origin}: {exc}")
            continue
        found = next((r / filename for r in roots if (r / filename).is_file()), None)
        if found is None:
            bad.append(f"{origin}: image {filename} not found in {shown}")
            continue
        listing.add(found, label, f"{origin} ({filename})")
    return listing


def annotations(cfg, photos: int | None = None) -> DataModule:
    """images: annotations:FILE of `filename label` lines (data.root, data.val, data.test)"""
    train_file = Path(cfg.name.split(":", 1)[1]).expanduser()
    files = {"train": train_file, "val": cfg.val, "test": cfg.test}
    entries = {k: read_lines(Path(v).expanduser()) for k, v in files.items() if v}
    sets = {k: read_label_sets(Path(v).expanduser(), cfg.label_sep) for k, v in files.items() if v}
    if cfg.task == "multilabel" or any(many for part in sets.values() for *_, many in part):
        return multilabel_annotations(cfg, files, sets, photos)
    labels = Labels([f for _, f, _ in entries["train"]])
    seen = sorted({f for _, f, _ in entries["train"] if f})
    if len(seen) == 1:  # trained, it scored a perfect accuracy and learned nothing
        raise UserError(
            f"{train_file}: every line has label {seen[0]!r}; a classifier needs at least 2 classes"
        )
    bad: list[str] = []
    whole, which = Listing(), []
    for split, items in entries.items():
        part = build_listing(Path(files[split]).expanduser(), items, labels, cfg, bad)
        for p, y, o in zip(part.paths, part.labels, part.origins):
            whole.add(p, y, o)
        which += [split] * len(part)
    refuse_or_skip(bad, cfg.skip_bad, "fix the line", str(train_file), "bad annotation line(s)")
    x, keep = decode_listing(whole, cfg, f"annotations {train_file}", photos)
    y = torch.tensor([whole.labels[i] for i in keep], dtype=torch.long)
    everything = Split(x, y, [whole.origins[i] for i in keep])
    kept_split = np.array([which[i] for i in keep])
    parts = {name: take(everything, np.flatnonzero(kept_split == name)) for name in ("train", "val", "test")}
    if parts["train"] is None:
        raise UserError(f"{train_file}: no usable images in the training file")
    if parts["val"] is None:
        tr, va, te = seeded_splits(
            parts["train"].y.numpy(), cfg, with_test=parts["test"] is None and not cfg.test
        )
        train = parts["train"]
        parts["train"], parts["val"] = take(train, tr), take(train, va)
        if parts["test"] is None and not cfg.test:
            parts["test"] = take(train, te)
    display = read_class_names(cfg.class_names, labels.keys)
    return image_module(parts, display, f"annotations {train_file}", {"source": "annotations"})


# ---------------------------------------------------------------- several labels on a line


def read_label_sets(path: Path, sep: str) -> list[tuple[str, list[str], str, bool]]:
    """(filename, labels, origin, whether the line shows several labels) for every entry: the file name
    runs to the first field ending in an image suffix (else the first field), the labels follow, each
    field split again at `sep`."""
    out = []
    for raw, origin in _lines(path):
        fields = raw.split()
        cut = next((i for i, f in enumerate(fields) if f.lower().endswith(tuple(IMAGE_SUFFIXES))), None)
        end = (cut if cut is not None else 0) + 1
        name = raw[: raw.index(fields[end - 1]) + len(fields[end - 1])]
        labels = [label for labels in split_cells(fields[end:], sep) for label in labels]
        labels = list(dict.fromkeys(labels))
        several = cut is not None and (len(labels) > 1 or any(sep in f for f in fields[end:]))
        out.append((name, labels, origin, several))
    return out


def _lines(path: Path) -> list[tuple[str, str]]:
    text = read_utf8(path, "an annotation file holds `filename label` lines")
    lines = ((raw.strip(), f"{path}:{n}") for n, raw in enumerate(text.splitlines(), start=1))
    return [(line, origin) for line, origin in lines if line and not line.startswith("#")]


def multilabel_annotations(cfg, files: dict, sets: dict, photos: int | None = None) -> DataModule:
    """Annotation files with several labels per line -> a multi-label image DataModule."""
    train_file = Path(files["train"]).expanduser()
    labels = LabelSets.fit([entry[1] for entry in sets["train"]], str(train_file))
    whole, which, rows, bad = Listing(), [], [], []
    for split, entries in sets.items():
        path = Path(files[split]).expanduser()
        roots = roots_for(path, cfg.root)
        for name, found, origin, _ in entries:
            image = next((r / name for r in roots if (r / name).is_file()), None)
            if image is None:
                bad.append(f"{origin}: image {name} not found")
                continue
            whole.add(image, len(rows), f"{origin} ({name})")
            rows.append(labels.encode([found], str(path), [origin])[0])
            which.append(split)
    refuse_or_skip(bad, cfg.skip_bad, "fix the line", str(train_file), "bad annotation line(s)")
    x, keep = decode_listing(whole, cfg, f"annotations {train_file}", photos)
    y = torch.from_numpy(np.stack([rows[i] for i in keep]))
    everything = Split(x, y, [whole.origins[i] for i in keep])
    kept = np.array([which[i] for i in keep])
    parts = {name: take(everything, np.flatnonzero(kept == name)) for name in ("train", "val", "test")}
    if parts["train"] is None:
        raise UserError(f"{train_file}: no usable images in the training file")
    if parts["val"] is None:
        with_test = parts["test"] is None
        test_fraction = cfg.test_fraction if with_test else 0.0
        tr, va, te = split_indices(parts["train"].y.numpy(), cfg.val_fraction, test_fraction, cfg.split_seed)
        train = parts["train"]
        parts["train"], parts["val"] = take(train, tr), take(train, va)
        if with_test:
            parts["test"] = take(train, te)
    extras = {"source": "annotations"}
    return image_module(parts, labels.names, f"annotations {train_file}", extras, "multilabel")
