"""Data sets bundled with scikit-learn: real, offline, small. `digits` is the demo's data set."""

from __future__ import annotations

import numpy as np
import torch

from kindling.data import DataModule, register
from kindling.data.memory import Split
from kindling.data.signature import Signature
from kindling.data.split import train_val_test


def _splits(x: torch.Tensor, y: torch.Tensor, cfg, stratify: bool) -> tuple[Split, Split, Split]:
    train, val, test = train_val_test(y.numpy(), cfg.val_fraction, cfg.test_fraction, cfg.split_seed, stratify)
    names = [f"row {i}" for i in range(len(y))]
    whole = Split(x, y, names)
    return tuple(whole.subset(torch.as_tensor(ix, dtype=torch.long)) for ix in (train, val, test))


@register("digits")
def digits(cfg) -> DataModule:
    """8x8 grey images (values 0..16 scaled to uint8 0..255), 10 classes, normalised with train stats."""
    from sklearn.datasets import load_digits

    bunch = load_digits()
    x = torch.from_numpy(np.round(bunch.images * (255.0 / 16.0)).astype(np.uint8)).unsqueeze(1)  # N,1,8,8
    y = torch.from_numpy(bunch.target.astype(np.int64))
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


def _table(x_np: np.ndarray, y: torch.Tensor, cfg, task: str, class_names: list[str], feature_names) -> DataModule:
    x = torch.from_numpy(x_np.astype(np.float32))
    train, val, test = _splits(x, y, cfg, stratify=task == "classification")
    mean, std = train.x.mean(0), train.x.std(0).clamp_min(1e-8)
    extras = {"columns": list(feature_names), "num_targets": 1}
    if task == "regression":
        extras["target_mean"], extras["target_std"] = float(train.y.mean()), float(train.y.std())
    sig = Signature(task, "vector", [x.shape[1]], class_names, mean.tolist(), std.tolist(), extras)
    return DataModule(sig, train, val, test)


@register("wine")
def wine(cfg) -> DataModule:
    from sklearn.datasets import load_wine

    bunch = load_wine()
    y = torch.from_numpy(bunch.target.astype(np.int64))
    return _table(bunch.data, y, cfg, "classification", list(bunch.target_names), bunch.feature_names)


@register("diabetes")
def diabetes(cfg) -> DataModule:
    from sklearn.datasets import load_diabetes

    bunch = load_diabetes()
    y = torch.from_numpy(bunch.target.astype(np.float32))
    return _table(bunch.data, y, cfg, "regression", [], bunch.feature_names)
