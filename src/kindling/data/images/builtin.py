"""Built-in data sets through torchvision's own data set classes: mnist, fashion-mnist, cifar10, cifar100.

They live in data.data_dir (default ~/.cache/kindling) in torchvision's layout. When online and
data.download is true they download there; offline, a missing data set is one line naming the files
expected and where to put them. The official test split is the test split; validation is a seeded
stratified cut of the official training split (data.val_fraction).
"""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np
import torch

from kindling.data.images.common import convert_tensor, image_module, seeded_splits, take
from kindling.data.memory import Split
from kindling.data.module import DataModule
from kindling.errors import UserError
from kindling.util.fileio import atomic_write_bytes

MNIST_FILES = [
    "train-images-idx3-ubyte",
    "train-labels-idx1-ubyte",
    "t10k-images-idx3-ubyte",
    "t10k-labels-idx1-ubyte",
]
# name -> (torchvision class, folder under data_dir, files in it)
SPECS = {
    "mnist": ("MNIST", "MNIST/raw", MNIST_FILES),
    "fashion-mnist": ("FashionMNIST", "FashionMNIST/raw", MNIST_FILES),
    "cifar10": (
        "CIFAR10",
        "cifar-10-batches-py",
        [*(f"data_batch_{i}" for i in range(1, 6)), "test_batch", "batches.meta"],
    ),
    "cifar100": ("CIFAR100", "cifar-100-python", ["train", "test", "meta"]),
}


def _missing(root: Path, name: str) -> list[str]:
    """Expected files that are absent. MNIST files may also sit there gzipped (as downloaded)."""
    _, folder, files = SPECS[name]
    base = root / folder
    return [f for f in files if not (base / f).is_file() and not (base / f"{f}.gz").is_file()]


def _gunzip_mnist(root: Path, name: str) -> None:
    """torchvision reads MNIST's raw IDX files; unpack .gz copies that sit beside them (atomically)."""
    _, folder, files = SPECS[name]
    for f in files:
        raw, packed = root / folder / f, root / folder / f"{f}.gz"
        if not raw.is_file() and packed.is_file():
            try:
                atomic_write_bytes(raw, gzip.decompress(packed.read_bytes()))
            except (OSError, EOFError) as exc:
                raise UserError(f"{packed} is not a valid gzip file ({exc}); download it again") from exc


def _dataset_class(name: str):
    """torchvision's class for `name`. CIFAR's per-file md5 checks become existence checks, so that files
    in the real format made elsewhere (tests, mirrors) load; a download is still checked against its md5."""
    import torchvision.datasets as tvd  # lazy: torchvision

    base = getattr(tvd, SPECS[name][0])
    if name not in ("cifar10", "cifar100"):
        return base
    return type(
        f"Local{base.__name__}",
        (base,),
        {
            "train_list": [[f, None] for f, _ in base.train_list],
            "test_list": [[f, None] for f, _ in base.test_list],
            "meta": {**base.meta, "md5": None},
        },
    )


def _ensure_files(root: Path, name: str, download: bool) -> None:
    missing = _missing(root, name)
    if missing and download:
        try:
            _dataset_class(name)(str(root), train=True, download=True)
        except Exception as exc:  # offline: URLError, socket errors, HTTP errors
            first = " ".join(str(exc).split())[:120]
            print(f"kindling: could not download {name} ({first})", flush=True)
        missing = _missing(root, name)
    if missing:
        _, folder, _ = SPECS[name]
        if name in ("mnist", "fashion-mnist"):
            missing = [f"{f}[.gz]" for f in missing]
        raise UserError(
            f"data set {name} is not in {root / folder} (missing: {', '.join(missing)}); "
            f"download it while online (data.download=true) or put the files there, or pass --data-dir DIR"
        )
    if name in ("mnist", "fashion-mnist"):
        _gunzip_mnist(root, name)


def _load(root: Path, name: str, train: bool) -> tuple[torch.Tensor, torch.Tensor, list[str]]:
    """(uint8 N,C,H,W, int64 labels, class names) from torchvision's data set object."""
    try:
        ds = _dataset_class(name)(str(root), train=train, download=False)
    except Exception as exc:  # damaged files: pickle, numpy and torchvision raise assorted types
        _, folder, _ = SPECS[name]
        first = " ".join(str(exc).split())[:160]
        raise UserError(
            f"data set {name} in {root / folder} is damaged ({type(exc).__name__}: {first}); download it again"
        ) from exc
    data = ds.data
    x = torch.as_tensor(np.asarray(data)) if not isinstance(data, torch.Tensor) else data
    x = (
        x.unsqueeze(1) if x.ndim == 3 else x.permute(0, 3, 1, 2)
    )  # N,H,W (MNIST) or N,H,W,C (CIFAR) -> N,C,H,W
    y = torch.as_tensor(np.asarray(ds.targets), dtype=torch.long)
    classes = [c.split(" - ")[0] for c in ds.classes]  # MNIST's "0 - zero" -> "0"
    return x.contiguous(), y, classes


def builtin(cfg, name: str) -> DataModule:
    root = Path(cfg.data_dir).expanduser()
    _ensure_files(root, name, cfg.download)
    x_train, y_train, classes = _load(root, name, train=True)
    x_test, y_test, _ = _load(root, name, train=False)
    x_train = convert_tensor(x_train, cfg.channels, cfg.image_size)
    x_test = convert_tensor(x_test, cfg.channels, cfg.image_size)
    full = Split(x_train, y_train, [f"{name} train #{i}" for i in range(len(y_train))])
    tr, va, _ = seeded_splits(y_train.numpy(), cfg, with_test=False)
    parts = {
        "train": take(full, tr),
        "val": take(full, va),
        "test": Split(x_test, y_test, [f"{name} test #{i}" for i in range(len(y_test))])
        if len(y_test)
        else None,
    }
    return image_module(parts, classes, f"{name} (torchvision, {root})", {"source": name})


def mnist(cfg) -> DataModule:
    """MNIST handwritten digits via torchvision (28x28 grey, 10 classes) in --data-dir"""
    return builtin(cfg, "mnist")


def fashion_mnist(cfg) -> DataModule:
    """Fashion-MNIST via torchvision (28x28 grey, 10 classes) in --data-dir"""
    return builtin(cfg, "fashion-mnist")


def cifar10(cfg) -> DataModule:
    """CIFAR-10 via torchvision (32x32 colour, 10 classes) in --data-dir"""
    return builtin(cfg, "cifar10")


def cifar100(cfg) -> DataModule:
    """CIFAR-100 via torchvision (32x32 colour, 100 classes) in --data-dir"""
    return builtin(cfg, "cifar100")
