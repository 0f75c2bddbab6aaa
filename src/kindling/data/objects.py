"""The user's own data: a map-style torch Dataset, a pair (X, y) of arrays / tensors, or a DataFrame.

    spec, objects = hand_over(train_ds, val=val_ds)   # -> "objects:1" for cfg.data.name, and the objects
    dm = build(DataConfig(name=spec), objects=objects)  # they go to the source as an argument
    kindling train --data py:my_data.py:make_data     # make_data() returns a Dataset or {"train": ...}

What is inferred, and the rules:
- A Dataset yields `(input, label)`: inputs are image tensors (C,H,W; H,W is one channel), PIL images
  or feature vectors (F,). Class names come from `dataset.classes` / `class_to_idx` when present (the
  labels are then indices into them), else from the sorted distinct labels ("0".."9" for digits).
- Regression when a label is a float that is not a whole number (or data.task=regression); the
  target is standardised on train, as for tables.
- (X, y): X of shape (N, F) is feature vectors, (N, H, W) or (N, C, H, W) images; y of shape (N, K),
  0/1, is multi-label (K labels, named by its columns when it is a DataFrame, else "0".."K-1").
- A DataFrame goes through the csv: pipeline (column typing, encoders fitted on train) with `target`.
- Without val / test, the seeded stratified split of data.val_fraction / data.test_fraction, as for files.
- Normalisation is fitted on train and saved in the Signature; a torchvision transform made of known
  steps is recorded so predict / serve replay it on raw image files (kindling.data.images.replay).

Small data sets are held in memory (kindling.data.samples); data over data.memory_budget_mb, or with a
random transform (augmentation that must run each epoch), streams through a DataLoader
(kindling.data.streamed).
"""

from __future__ import annotations

import itertools

import numpy as np
import torch

from kindling.data import note
from kindling.data.images.replay import Recipe, read_transform
from kindling.data.labelsets import LabelMatrix, check_matrix, split_indices
from kindling.data.memory import Split
from kindling.data.module import DataModule
from kindling.data.pyfile import load_py
from kindling.data.samples import Layout, fetch, label_value, materialise, quantize, stored_dtype, workers
from kindling.data.signature import Signature
from kindling.data.split import train_val_test
from kindling.data.streamed import pixel_range, split_stats, stream_split
from kindling.errors import UserError

PARTS = ("train", "val", "test")
_NUMBERS = itertools.count(1)  # numbers the handles of this process; it keeps no object


def hand_over(train, val=None, test=None, target: str | None = None) -> tuple[str, dict]:
    """Python objects for kindling -> (the data spec naming them, "objects:N"; the objects).

    `kindling.fit(data=...)` puts the spec in cfg.data.name and passes the objects on as an argument
    (`data.build(cfg, objects=...)`); the `Run` it returns holds them, for its evaluate and report. Nothing
    else keeps them (a run's config.yaml cannot hold them), so once the Run is gone so are they, and
    evaluating that run later needs them handed over again.
    """
    return f"objects:{next(_NUMBERS)}", {"train": train, "val": val, "test": test, "target": target}


def display_name(train) -> str:
    """The data as the user knows it, for the run's lines, config.yaml and compare: `MNIST (a Dataset)`,
    `DataFrame (569 rows)`, `arrays (1797×64)` (the spec "objects:N" is only this process's handle)."""
    if type(train).__module__.split(".")[0] == "pandas" and hasattr(train, "columns"):
        return f"{type(train).__name__} ({len(train):,} rows)"
    if isinstance(train, (tuple, list)) and len(train) == 2 and hasattr(train[0], "shape"):
        return f"arrays ({'×'.join(str(int(n)) for n in train[0].shape)})"
    return f"{type(_root(train)).__name__} (a Dataset)"


def objects_source(
    cfg, fitted: Signature | None = None, photos: int | None = None, objects: dict | None = None
) -> DataModule:
    """your own Python objects, handed over in Python: kindling.fit(data=...)"""
    return from_objects(cfg, fitted=fitted, photos=photos, **handed_over(cfg, objects))


def handed_over(cfg, objects: dict | None) -> dict:
    """The objects (train, val, test, target) kindling.fit handed over for `cfg`, as they were passed
    here (`objects`); without them, the line naming what gives the run its data again."""
    if objects is None:
        raise UserError(
            f"the run's data, {cfg.shown}, was handed to kindling.fit in another process (or to a Run no "
            f"longer held), and a run keeps no copy of it; name it again: {_named_again(cfg)}"
        )
    return objects


def _named_again(cfg) -> str:
    """Every data spec that gives a run trained on Python objects its data again, by what was handed over
    (its display name): a DataFrame's table file, or a function of the user's that returns the objects."""
    shown = cfg.shown or ""
    if shown.startswith("DataFrame") or cfg.target:
        target = f" holding '{cfg.target}'" if cfg.target else ""
        return f"--data csv:FILE (a CSV, TSV or Parquet file{target}), or --data py:FILE.py:FUNCTION returning the DataFrame"
    what = "(X, y)" if shown.startswith("arrays") else "the Dataset (or a dict of train / val / test ones)"
    return f"--data py:FILE.py:FUNCTION, a function returning {what} (data= in Python)"


def py_source(cfg, fitted: Signature | None = None, photos: int | None = None) -> DataModule:
    """your own data: py:FILE.py:FUNCTION returning a Dataset, {"train": ..., "val": ...}, (X, y) or a DataFrame"""

    return from_objects(cfg, fitted=fitted, photos=photos, **load_py(cfg.name, PARTS))


# ---------------------------------------------------------------------------------------- dispatch


def _kind(obj, where: str) -> str:
    if type(obj).__module__.split(".")[0] == "pandas" and hasattr(obj, "columns"):
        return "frame"
    if isinstance(obj, (tuple, list)) and len(obj) == 2 and all(hasattr(a, "shape") for a in obj):
        return "arrays"
    if hasattr(obj, "__getitem__") and hasattr(obj, "__len__"):
        return "dataset"
    raise UserError(
        f"{where} is a {type(obj).__name__}; kindling takes a map-style Dataset (__len__ and __getitem__ "
        "returning (input, label)), a pair (X, y) of arrays or tensors, or a pandas DataFrame with target="
    )


def from_objects(
    cfg,
    train,
    val=None,
    test=None,
    target=None,
    fitted: Signature | None = None,
    photos: int | None = None,
) -> DataModule:
    """The DataModule of Python objects, as built-in sources make it (see the module's docstring);
    `photos`: the side a DataFrame's few photos are decoded at (kindling.data.images.decode.photo_side)."""
    parts = {"train": train, "val": val, "test": test}
    kind = _kind(train, "the training data")
    for name in ("val", "test"):
        if parts[name] is not None and _kind(parts[name], f"the {name} data") != kind:
            raise UserError(
                f"the {name} data is a {type(parts[name]).__name__}; it must be of the training data's kind"
            )
    if kind == "frame":
        from kindling.data.tables import labelled  # lazy: loads pandas
        from kindling.data.tables.source import table_module  # lazy: pandas

        if target and not cfg.target:
            cfg.target = target
        found = labelled.route(train, cfg, fitted)  # image paths, texts, or several labels a row
        if found is not None:
            return labelled.labelled_module(
                found, train, cfg, "the DataFrame", fitted, given=parts, photos=photos
            )
        return table_module(cfg, fitted, given=parts)
    if kind == "arrays":
        stored = {
            k: (*_from_arrays(v, f"the {k} arrays"), None) if v is not None else None
            for k, v in parts.items()
        }
        return _assemble(cfg, stored, Recipe(), "arrays (X, y)")
    return _from_datasets(cfg, parts)


# ---------------------------------------------------------------------------------------- (X, y)


def _from_arrays(pair, what: str) -> tuple[torch.Tensor, list | LabelMatrix, Layout]:
    named = [str(c) for c in pair[1].columns] if hasattr(pair[1], "columns") else None  # a DataFrame Y
    X, y = (a.detach().cpu() if isinstance(a, torch.Tensor) else np.asarray(a) for a in pair)
    X = X if isinstance(X, torch.Tensor) else torch.from_numpy(np.ascontiguousarray(X))
    if len(X) != len(y):
        raise UserError(f"{what}: X has {len(X)} rows but y has {len(y)} labels; they must match")
    if len(X) == 0:
        raise UserError(f"{what} are empty; pass at least one sample")
    if y.ndim == 2:  # a 0/1 matrix: one column per label (multi-label)
        y = LabelMatrix(check_matrix(y, what), named)
    elif y.ndim != 1:
        raise UserError(f"{what}: y has shape {tuple(y.shape)}, expected one label per row (N,)")
    if X.ndim == 3:
        X = X.unsqueeze(1)
    layout = Layout.of(X[0], what)
    if layout.kind == "image":
        q = quantize(X) if X.dtype != torch.uint8 else X
        X = q if q is not None else X.float()
    else:
        X = X.float()
        bad = (~torch.isfinite(X)).any(1).nonzero()
        if len(bad):
            raise UserError(f"{what}: row {int(bad[0])} of X has a NaN or infinite value; fill or drop it")
    labels = y if isinstance(y, LabelMatrix) else [label_value(v, i, what) for i, v in enumerate(y.tolist())]
    return X.contiguous(), labels, layout


# ---------------------------------------------------------------------------------------- Datasets


def _root(dataset):
    """Under torch's Subset / ConcatDataset wrappers, the Dataset that holds transform and classes."""
    while hasattr(dataset, "dataset") and not hasattr(dataset, "transform"):
        dataset = dataset.dataset
    return dataset


def _classes(dataset) -> list[str] | None:
    root = _root(dataset)
    mapping = getattr(root, "class_to_idx", None)
    if isinstance(mapping, dict) and mapping:
        return [str(k) for k, _ in sorted(mapping.items(), key=lambda kv: kv[1])]
    classes = getattr(root, "classes", None)
    return [str(c) for c in classes] if isinstance(classes, (list, tuple)) and classes else None


def _from_datasets(cfg, parts: dict) -> DataModule:
    train = parts["train"]
    recipes = {
        k: read_transform(getattr(_root(v), "transform", None)) for k, v in parts.items() if v is not None
    }
    for name, ds in parts.items():
        if ds is not None and len(ds) == 0:
            raise UserError(f"the {name} dataset is empty (len 0); it needs at least one sample")
    first, _ = fetch(train, 0, "train dataset")
    layouts = {k: _layout_for(first, recipes[k], f"{k} dataset") for k in recipes}
    stored_first = layouts["train"].stored(first, 0, "train dataset")
    per_sample = int(np.prod(layouts["train"].shape)) * (
        1 if stored_dtype(layouts["train"], stored_first) == torch.uint8 else 4
    )
    total = sum(len(v) for v in parts.values() if v is not None) * per_sample
    randomised = recipes["train"].random
    stream = total > int(cfg.memory_budget_mb) * 2**20 or bool(randomised)
    if randomised:
        note(
            f"the train transform is random ({', '.join(randomised)}): samples stream through a DataLoader "
            "each epoch so the augmentation stays (predict/serve skip it); drop it and use --augment for "
            "the faster in-memory path"
        )
    elif stream:
        note(
            f"{total / 2**20:,.0f} MB of samples exceed data.memory_budget_mb={cfg.memory_budget_mb}: "
            "streaming through a DataLoader (slower; raise the budget to hold them in memory)"
        )
    stored = {
        k: _read_dataset(v, layouts[k], f"{k} dataset", stream) if v is not None else None
        for k, v in parts.items()
    }
    recipe = recipes.get("val") or recipes["train"]  # the eval transform is what raw files should get
    return _assemble(cfg, stored, recipe, f"{type(_root(train)).__name__} (a Dataset)", _classes(train))


def _layout_for(first: torch.Tensor, recipe: Recipe, what: str) -> Layout:
    return Layout.of(first, what, recipe.normalize if recipe.replayable else None)


def _read_dataset(dataset, layout: Layout, what: str, stream: bool) -> tuple:
    """(inputs tensor, or None when streamed; labels; layout; the dataset when streamed)."""
    if not stream:
        x, labels = materialise(dataset, what, layout)
        return x, labels, layout, None
    targets = getattr(_root(dataset), "targets", None) if _root(dataset) is dataset else None
    if targets is not None and len(targets) == len(dataset):  # torchvision's sets: no pass needed
        labels = [label_value(v, i, what) for i, v in enumerate(np.asarray(targets).tolist())]
    else:
        _, labels = materialise(dataset, what, layout, keep_inputs=False)
    return None, labels, layout, dataset


# ---------------------------------------------------------------------------------------- assembly


def _task(labels: list, cfg) -> str:
    if cfg.task in ("classification", "regression"):
        return cfg.task
    whole = all(isinstance(v, (int, str)) or float(v).is_integer() for v in labels)
    return "classification" if whole else "regression"


def _key(label):
    """A label as a class key: whole numbers as ints (7.0 and 7 are one class), others as they are."""
    return int(label) if not isinstance(label, str) and float(label).is_integer() else label


def _encode(stored: dict, cfg, classes: list[str] | None) -> tuple[str, list[str], dict]:
    """(task, class names, {split: y tensor}); labels outside the classes name their index."""
    if isinstance(stored["train"][1], LabelMatrix):
        return LabelMatrix.encode(stored)
    every = [v for part in stored.values() if part is not None for v in part[1]]
    task = _task(every, cfg)
    if task == "regression":
        _check_labels(stored, lambda v: not isinstance(v, str), "is not a number (regression)")
        return (
            task,
            [],
            {k: torch.tensor(p[1], dtype=torch.float32) if p else None for k, p in stored.items()},
        )
    if classes is not None:
        shown = f"{', '.join(classes[:5])}{', ...' if len(classes) > 5 else ''}"
        _check_labels(
            stored,
            lambda v: not isinstance(v, str) and float(v).is_integer() and 0 <= v < len(classes),
            f"is out of range for {len(classes)} classes ({shown}); labels are 0..{len(classes) - 1}",
        )
        lookup = {i: i for i in range(len(classes))}
    else:
        distinct = sorted({_key(v) for v in every}, key=lambda v: (isinstance(v, str), v))
        classes = [str(v) for v in distinct]
        lookup = {v: i for i, v in enumerate(distinct)}
    if len(classes) < 2:
        raise UserError(
            f"the labels hold {len(classes)} class ({', '.join(classes)}); a classifier needs 2 or more"
        )
    ys = {
        k: torch.tensor([lookup[_key(v)] for v in p[1]], dtype=torch.long) if p else None
        for k, p in stored.items()
    }
    return task, classes, ys


def _check_labels(stored: dict, valid, problem: str) -> None:
    """The first label for which `valid` fails, as one line naming its split and index."""
    for name, part in stored.items():
        for i, v in enumerate(part[1] if part else []):
            if not valid(v):
                raise UserError(f"the {name} data: label {v!r} at index {i} {problem}")


def _make_split(part: tuple, y: torch.Tensor, what: str):
    x, _, layout, dataset = part
    if dataset is None:
        return Split(x, y, [f"{what} #{i}" for i in range(len(y))])

    return stream_split(dataset, layout, what, y, workers(len(y), parallel_from=0))


def _assemble(
    cfg, stored: dict, recipe: Recipe, description: str, classes: list[str] | None = None
) -> DataModule:
    """Splits (seeded and stratified where val / test are missing), normalisation fitted on train, Signature."""
    task, class_names, ys = _encode(stored, cfg, classes)
    splits = {k: _make_split(p, ys[k], k) if p is not None else None for k, p in stored.items()}
    if splits["val"] is None:
        with_test = splits["test"] is None
        labels = ys["train"].numpy() if task == "classification" else np.zeros(len(ys["train"]))
        test_fraction = cfg.test_fraction if with_test else 0.0
        if task == "multilabel":
            tr, va, te = split_indices(ys["train"].numpy(), cfg.val_fraction, test_fraction, cfg.split_seed)
        else:
            tr, va, te = train_val_test(
                labels, cfg.val_fraction, test_fraction, cfg.split_seed, task == "classification"
            )
        whole = splits["train"]
        splits["train"], splits["val"] = _take(whole, tr), _take(whole, va)
        if with_test:
            splits["test"] = _take(whole, te)
    if splits["train"] is None:
        raise UserError(
            "no training samples are left after the split; lower data.val_fraction / data.test_fraction"
        )
    layout = stored["train"][2]

    mean, std = split_stats(splits["train"], layout.kind)
    extras = {"source": description}
    if layout.kind == "image":
        extras.update(_replay_extras(recipe, layout, pixel_range(splits["train"])))
    sig = Signature(task, layout.kind, list(layout.shape), class_names, mean, std, extras)
    if task == "regression":
        y = splits["train"].y.double()
        sig.extras["target_mean"], sig.extras["target_std"] = (
            float(y.mean()),
            float(y.std(unbiased=False)) or 1.0,
        )
    sizes = ", ".join(f"{k} {len(v) if v is not None else 0}" for k, v in splits.items())
    note(f"{description}: {layout.kind} {list(layout.shape)}, {task}, {sizes} samples")
    return DataModule(sig, splits["train"], splits["val"], splits["test"], description)


def _take(split, index) -> Split | None:
    return split.subset(torch.as_tensor(np.asarray(index), dtype=torch.long)) if len(index) else None


def _replay_extras(recipe: Recipe, layout: Layout, pixels: bool) -> dict:
    """What predict / serve need to preprocess raw image files as the Dataset's transform did."""
    C, H, W = layout.shape  # channels, height, width
    if recipe.replayable and pixels:
        return {"image_steps": recipe.steps}
    why = (
        f"your transform is not a standard torchvision one ({', '.join(recipe.unknown)})"
        if not recipe.replayable
        else "your images are not pixels in [0, 1] (as ToTensor makes) nor uint8"
    )
    note(
        f"{why}; predict/serve will resize raw images to {H}x{W} and scale to [0, 1]; pass tensors to "
        "kindling.load(...).predict to use your own preprocessing"
    )
    return {"image_steps": recipe.steps if recipe.replayable else [], "transform_replayed": False}
