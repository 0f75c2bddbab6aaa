"""Data sets bundled with scikit-learn: real, offline, small. `digits` is the demo's data set."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import torch

from kindling.data.memory import Split
from kindling.data.module import DataModule
from kindling.data.signature import Signature
from kindling.data.split import train_val_test


def _splits(x: torch.Tensor, y: torch.Tensor, cfg, stratify: bool) -> tuple[Split, Split, Split]:
    train, val, test = train_val_test(
        y.numpy(), cfg.val_fraction, cfg.test_fraction, cfg.split_seed, stratify
    )
    names = [f"row {i}" for i in range(len(y))]
    whole = Split(x, y, names)
    return tuple(whole.subset(torch.as_tensor(ix, dtype=torch.long)) for ix in (train, val, test))


def _digits_arrays() -> tuple[np.ndarray, np.ndarray]:
    """(images N x 8 x 8 in 0..16, labels) of scikit-learn's bundled digits.

    Read from scikit-learn's own file (datasets/data/digits.csv.gz: 64 pixels then the label, a row per
    image) as `load_digits` reads it, but without importing scikit-learn, whose import (scipy's
    statistics included) took 1.4 s of CPU here: a third of what `kindling evaluate` on digits costs,
    and of each of the test suite's few dozen digits processes. Where a scikit-learn keeps it elsewhere,
    `load_digits` itself."""
    spec = importlib.util.find_spec("sklearn")
    folders = (spec.submodule_search_locations or []) if spec else []
    for folder in folders:
        path = Path(folder) / "datasets" / "data" / "digits.csv.gz"
        if path.is_file():
            data = np.loadtxt(path, delimiter=",")
            return data[:, :-1].reshape(-1, 8, 8), data[:, -1].astype(np.int64)
    from sklearn.datasets import load_digits  # lazy: sklearn

    bunch = load_digits()
    return bunch.images, bunch.target.astype(np.int64)


def digits(cfg) -> DataModule:
    """scikit-learn's bundled 8x8 handwritten digits (1,797 images, 10 classes)

    8x8 grey images (values 0..16 scaled to uint8 0..255), normalised with train stats."""
    images, labels = _digits_arrays()
    x = torch.from_numpy(np.round(images * (255.0 / 16.0)).astype(np.uint8)).unsqueeze(1)  # N,1,8,8
    y = torch.from_numpy(labels)
    train, val, test = _splits(x, y, cfg, stratify=True)
    pixels = train.x.float() / 255.0
    sig = Signature(
        task="classification",
        input_kind="image",
        input_shape=[1, 8, 8],
        class_names=[str(c) for c in range(10)],
        mean=[float(pixels.mean())],
        std=[float(pixels.std())],
    )
    return DataModule(sig, train, val, test, "digits: scikit-learn 8x8 handwritten digits")


# wine and diabetes are tables: kindling.data.tables.source builds them through the table pipeline.
