"""csv: files that are more than a table: image paths or texts with their labels, and several labels
per row.

    kindling train --data csv:labels.csv --target tags                  # path,tags  ->  images, multi-label
    kindling train --data csv:labels.csv --target tags --set data.label_sep=,
    kindling train --data csv:reviews.csv --target label                # text,label ->  a text task
    kindling train --data csv:table.csv --target even,big,loop          # 0/1 columns -> multi-label table

What the file holds decides (`route`):
- a column of image paths (every value ends in an image suffix; relative to the CSV's folder, or to
  data.root) makes it an image task (kindling.data.images.listed);
- a single text column besides the target (long, mostly distinct strings) makes it a text task
  (kindling.data.text.from_texts);
- the target is multi-label when it names several 0/1 columns (`--target a,b,c`), when its cells hold
  label sets (`a|b`, data.label_sep), or with data.task=multilabel: with table features, a multi-label
  table (`table_module` here); anything else is a plain table (kindling.data.tables.source).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from kindling.data import note
from kindling.data.images.listed import image_rows_module
from kindling.data.images.load import IMAGE_SUFFIXES
from kindling.data.labelsets import LabelSets, indicator_matrix, looks_multilabel, split_cells, split_indices
from kindling.data.memory import Split
from kindling.data.module import DataModule
from kindling.data.signature import Signature
from kindling.data.split import train_val_test
from kindling.data.tables import encoders
from kindling.data.tables.readers import read_table
from kindling.data.tables.schema import format_plan, infer_plan
from kindling.data.text import texts_module
from kindling.errors import UserError, did_you_mean

_SUFFIXES = tuple(sorted(IMAGE_SUFFIXES))  # str.endswith takes a tuple
TEXT_MIN_CHARS = 20  # a text column's cells: this long on average (a sentence, not a category)


@dataclass
class Targets:
    """What a labelled file's rows are labelled with: class names, or label names when multi-label."""

    columns: list[str]  # the target column, or one 0/1 column per label
    multilabel: bool
    sep: str = "|"
    names: list[str] = field(default_factory=list)

    def fit(self, frame: pd.DataFrame, where: str) -> None:
        """The class or label names, from the training rows."""
        if len(self.columns) > 1:
            self.names = list(self.columns)
        elif self.multilabel:
            self.names = LabelSets.fit(
                split_cells(frame[self.columns[0]], self.sep), _column(self, where)
            ).names
        else:
            self.names = _class_names(frame[self.columns[0]], self.columns[0])

    def encode(self, frame: pd.DataFrame, where: str) -> torch.Tensor:
        """float32 (N, K) 0/1 (multi-label) or int64 (N,) class indices of the rows."""
        if len(self.columns) > 1:
            return torch.from_numpy(indicator_matrix(frame, self.columns, where))
        cells = frame[self.columns[0]]
        if self.multilabel:
            y = LabelSets(self.names).encode(split_cells(cells, self.sep), _column(self, where))
            return torch.from_numpy(y)
        lookup = {name: i for i, name in enumerate(self.names)}
        keys = [_key(v) for v in cells]
        bad = next((i for i, k in enumerate(keys) if k not in lookup), None)
        if bad is not None:
            raise UserError(
                f"{where} row {bad + 1}: class {cells.iloc[bad]!r} of '{self.columns[0]}' is not one of "
                f"{', '.join(self.names[:12])}; fix the row"
            )
        return torch.tensor([lookup[k] for k in keys], dtype=torch.long)

    def split(self, y: torch.Tensor, cfg, with_test: bool) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Seeded (train, val, test) indices: stratified on the class, or on the label combination."""
        test_fraction = cfg.test_fraction if with_test else 0.0
        if self.multilabel:
            return split_indices(y.numpy(), cfg.val_fraction, test_fraction, cfg.split_seed)
        return train_val_test(y.numpy(), cfg.val_fraction, test_fraction, cfg.split_seed)

    @property
    def task(self) -> str:
        return "multilabel" if self.multilabel else "classification"


def _column(targets: Targets, where: str) -> str:
    return f"{where} column '{targets.columns[0]}'"


def _key(value) -> str:
    """A class cell as its name: whole numbers without '.0', text stripped."""
    if isinstance(value, (int, np.integer)) or (isinstance(value, float) and value.is_integer()):
        return str(int(value))
    return str(value).strip()


def _class_names(cells: pd.Series, name: str) -> list[str]:
    values = cells.dropna()
    if pd.api.types.is_numeric_dtype(values):
        names = [_key(v) for v in np.sort(values.unique())]
    else:
        names = sorted({_key(v) for v in values})
    if len(names) < 2:
        raise UserError(f"target '{name}' has {len(names)} class; classification needs at least two")
    return names


# ---------------------------------------------------------------- which kind of file


@dataclass
class Route:
    kind: str  # image | text | table
    targets: Targets
    column: str | None = None  # the image-path or text column


def route(frame: pd.DataFrame, cfg, fitted: Signature | None = None) -> Route | None:
    """How to read `frame` (see the module); None: a plain table (kindling.data.tables.source)."""
    if not cfg.target:
        return None
    columns = [str(c) for c in frame.columns]
    wanted = [t.strip() for t in cfg.target.split(",")] if cfg.target not in columns else [cfg.target]
    if len(wanted) == 1 and wanted[0] not in columns:
        return None  # the plain table path names the missing target, with its did-you-mean
    for name in wanted:
        if name not in columns:
            raise UserError(
                f"--target names '{name}', which is not a column{did_you_mean(name, columns)}; columns: "
                f"{', '.join(columns[:30])}"
            )
    multilabel = (
        len(wanted) > 1 or cfg.task == "multilabel" or (fitted is not None and fitted.task == "multilabel")
    )
    if not multilabel and cfg.task == "auto" and fitted is None:
        multilabel = looks_multilabel(frame[wanted[0]].dropna().astype(str).head(10_000), cfg.label_sep)
    targets = Targets(wanted, multilabel, cfg.label_sep)
    rest = [c for c in columns if c not in wanted and c not in cfg.drop]
    kind = fitted.input_kind if fitted is not None else None  # a trained model's data: its own kind only
    image = next((c for c in rest if _image_paths(frame[c])), None) if kind in (None, "image") else None
    text = _text_column(frame, rest) if image is None and kind in (None, "text") else None
    if image is not None or text is not None:
        _check_classes(frame[wanted[0]], targets, cfg)
        return Route("image", targets, image) if image is not None else Route("text", targets, text)
    return Route("table", targets) if multilabel else None


def _check_classes(cells: pd.Series, targets: Targets, cfg) -> None:
    """Images and texts from a CSV are classified (one class or several labels each): a target of
    measurements is refused, not read as hundreds of classes."""
    values = cells.dropna()
    floats = pd.api.types.is_float_dtype(values) and not (values == values.round()).all()
    if not targets.multilabel and (cfg.task == "regression" or floats):
        raise UserError(
            f"target '{cells.name}' holds measurements (e.g. {values.iloc[0]!r}), and images or texts listed "
            "in a CSV are classified, not regressed; give a class or labels per row (or "
            "--data py:FILE.py:FUNCTION for your own Dataset)"
        )


def _image_paths(cells: pd.Series) -> bool:
    """Whether a column names image files: nearly all of its first 1,000 values end in an image suffix."""
    first = cells.first_valid_index()
    if first is None or not str(cells[first]).strip().lower().endswith(_SUFFIXES):
        return False  # one look at most columns: a wide table costs no more than before
    head = cells.head(1000).dropna().astype(str).str.strip().str.lower()
    return bool(len(head)) and bool(head.str.endswith(_SUFFIXES).mean() >= 0.9)


def _text_column(frame: pd.DataFrame, rest: list[str]) -> str | None:
    """The one column of free text, when the others are nothing a table model could use (IDs, constants):
    a text data set kept as a CSV (id, text, label), not a table with a comment column."""
    if not rest or len(rest) > 3:
        return None
    usable = [c for c in rest if frame[c].nunique(dropna=True) > 1 and not _row_ids(frame[c])]
    if len(usable) != 1 or pd.api.types.is_numeric_dtype(frame[usable[0]]):
        return None
    values = frame[usable[0]].head(5000).dropna().astype(str)
    long = values.str.len().mean() >= TEXT_MIN_CHARS
    return usable[0] if long and values.nunique() >= 0.5 * len(values) else None


def _row_ids(cells: pd.Series) -> bool:
    return cells.nunique() == len(cells) and pd.api.types.is_integer_dtype(cells)


# ---------------------------------------------------------------- building


def labelled_module(
    found: Route,
    frame: pd.DataFrame,
    cfg,
    where: str,
    fitted: Signature | None,
    given: dict | None = None,
    photos: int | None = None,
) -> DataModule:
    """The DataModule of a routed file (train, and data.val / data.test files of the same columns), or
    of DataFrames handed over in Python (`given`: {"train": df, "val": df or None, "test": ...}; image
    paths then relative to data.root, else the working folder). `photos`: the side a few photos are
    decoded at (kindling.data.images.decode.photo_side)."""
    if given is not None:
        frames = {k: given.get(k) for k in ("train", "val", "test")}
    else:
        frames = {"train": frame, "val": _other(cfg.val, cfg, frame), "test": _other(cfg.test, cfg, frame)}
    targets = found.targets
    if fitted is not None:
        targets.names = list(fitted.class_names)
    else:
        targets.fit(frame, where)
    if found.kind == "image":
        beside = Path(".") if given is not None else Path(where).expanduser().parent
        root = Path(cfg.root).expanduser() if cfg.root else beside
        parts = {
            k: _rows_and_targets(f, targets, where) if f is not None else None for k, f in frames.items()
        }
        return image_rows_module(parts, found.column, root, targets, cfg, where, photos)
    if found.kind == "text":
        return texts_module(
            _texts(frames, found, cfg, where), targets.names, targets.task, cfg, where, fitted
        )
    return table_module(frames, targets, cfg, where, fitted)


def _other(path: str | None, cfg, train: pd.DataFrame) -> pd.DataFrame | None:
    if not path:
        return None
    frame = read_table(path, delimiter=getattr(cfg, "delimiter", "auto"))
    absent = [c for c in train.columns if c not in frame.columns]
    if absent:
        raise UserError(
            f"{path} lacks column(s) {', '.join(map(str, absent[:8]))} that the training file has"
        )
    return frame


def _texts(frames: dict, found: Route, cfg, where: str) -> dict:
    """{split: (texts, targets, row names)} with the explicit splits, or the seeded ones cut from train."""
    targets, parts = found.targets, {}
    for name, frame in frames.items():
        if frame is not None:
            frame = _labelled_rows(frame, targets, where)
            y = targets.encode(frame, where)
            texts = frame[found.column].fillna("").astype(str).tolist()
            parts[name] = (texts, y, [f"{where} row {int(i) + 2}" for i in frame.index])
    if "val" not in parts:
        texts, y, names = parts["train"]
        with_test = "test" not in parts
        tr, va, te = targets.split(y, cfg, with_test)
        for name, index in (("train", tr), ("val", va), ("test", te) if with_test else ("test", [])):
            if len(index):
                parts[name] = (
                    [texts[i] for i in index],
                    y[torch.as_tensor(index)],
                    [names[i] for i in index],
                )
    return parts


def _rows_and_targets(frame: pd.DataFrame, targets: Targets, where: str) -> tuple[pd.DataFrame, torch.Tensor]:
    frame = _labelled_rows(frame, targets, where)
    return frame, targets.encode(frame, where)


def _labelled_rows(frame: pd.DataFrame, targets: Targets, where: str) -> pd.DataFrame:
    """The rows with a class (single-label; a row without one is left out, and noted). A multi-label
    row with an empty cell has no label, which is a label set too."""
    if targets.multilabel:
        return frame
    missing = frame[targets.columns[0]].isna()
    if missing.any():
        note(f"{int(missing.sum())} row(s) of {where} have no '{targets.columns[0]}' value and were left out")
        frame = frame[~missing]
    return frame


def table_module(frames: dict, targets: Targets, cfg, where: str, fitted: Signature | None) -> DataModule:
    """A multi-label table: the feature columns typed and encoded as any table's (fitted on the training
    rows), the label columns or label sets as (N, K) 0/1 targets, seeded splits on the label combinations."""
    if cfg.split_by:
        raise UserError(
            "data.split_by is not supported for a multi-label table yet; drop it for a seeded split"
        )
    frames, ys = _cut(
        frames, {k: targets.encode(f, where) for k, f in frames.items() if f is not None}, targets, cfg
    )
    train = frames["train"]
    if train is None or not len(train):
        raise UserError(
            f"{where} leaves no training rows after the split; lower data.val_fraction / data.test_fraction"
        )
    key = cfg.target  # the label sets stand in for the target column while the features are typed
    typed = train.drop(columns=targets.columns)
    typed[key] = ["|".join(n for n, v in zip(targets.names, row) if v) for row in ys["train"].tolist()]
    plan = infer_plan(
        typed, key, list(cfg.drop), "classification", cfg.categorical, cfg.missing, where, list(cfg.keep)
    )
    plan.task = "multilabel"
    plan.columns[0].handling = f"target (multi-label: {len(targets.names)} labels)"
    extras = (
        dict(fitted.extras) if fitted is not None else encoders.fit(plan, typed, cfg.categorical, cfg.missing)
    )
    extras["label_columns"] = list(targets.columns) if len(targets.columns) > 1 else []
    splits = {
        name: Split(
            torch.from_numpy(encoders.transform(extras, part)),
            ys[name],
            [f"row {int(i) + 1}" for i in part.index],
        )
        if part is not None
        else None
        for name, part in frames.items()
    }
    sig = fitted or Signature(
        "multilabel", "tabular", [len(extras["feature_names"])], targets.names, [], [], extras
    )
    sizes = ", ".join(f"{k} {len(v) if v is not None else 0}" for k, v in splits.items())
    note(format_plan(plan, where, cfg.name) + f"\n  -> {len(extras['feature_names'])} features; {sizes} rows")
    return DataModule(sig, splits["train"], splits["val"], splits["test"], f"{where}: table, multilabel")


def _cut(frames: dict, ys: dict, targets: Targets, cfg) -> tuple[dict, dict]:
    """The val (and test) rows cut from train, seeded, when no file gives them."""
    if frames["val"] is not None:
        return frames, {k: ys.get(k) for k in frames}
    whole, y, with_test = frames["train"], ys["train"], frames["test"] is None
    tr, va, te = targets.split(y, cfg, with_test)
    cut = {"train": tr, "val": va, **({"test": te} if with_test else {})}
    for name, index in cut.items():
        frames[name] = whole.iloc[index] if len(index) else None
        ys[name] = y[torch.as_tensor(np.asarray(index), dtype=torch.long)] if len(index) else None
    return frames, {k: ys.get(k) for k in frames}
