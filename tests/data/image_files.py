"""Small image data sets in the REAL on-disk formats, made from scikit-learn's embedded digits.

Used by the image tests, the recipe dry-run test and benchmarks/bench_images.py (which put this folder
on sys.path). Nothing is downloaded: MNIST's IDX files, CIFAR's python pickles (written here with
pickle.dump, exactly as the originals are laid out) and folders of PNG files are generated locally and
then read by kindling through its real code paths (torchvision's classes, PIL).
"""

from __future__ import annotations

import gzip
import json
import pickle
import struct
from pathlib import Path

import numpy as np

CIFAR10_NAMES = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]


def digits(n: int, size: int, channels: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """n images (uint8 N,H,W,C) of the embedded 8x8 digits, upscaled to size x size, with a random
    tint, shift and noise per image, so that n can exceed 1,797 and the task stays learnable."""
    import torch
    from sklearn.datasets import load_digits

    bunch = load_digits()
    rng = np.random.default_rng(seed)
    pick = rng.integers(0, len(bunch.target), n)
    base = torch.from_numpy(bunch.images[pick].astype(np.float32) / 16.0).unsqueeze(1)  # n,1,8,8
    big = torch.nn.functional.interpolate(base, size=(size, size), mode="bilinear", align_corners=False)
    img = big.squeeze(1).numpy()
    shift = rng.integers(-max(1, size // 10), max(1, size // 10) + 1, (n, 2))
    img = np.stack([np.roll(im, tuple(s), axis=(0, 1)) for im, s in zip(img, shift)])
    if channels == 3:
        fg = rng.uniform(0.5, 1.0, (n, 1, 1, 3))
        bg = rng.uniform(0.0, 0.4, (n, 1, 1, 3))
        img = img[..., None] * fg + (1 - img[..., None]) * bg
    else:
        img = img[..., None]
    img = img + rng.normal(0, 0.05, img.shape)
    return (np.clip(img, 0, 1) * 255).round().astype(np.uint8), bunch.target[pick].astype(np.int64)


def _idx(array: np.ndarray, code: int) -> bytes:
    """IDX format (as on yann.lecun.com): magic (0, 0, type, ndim), big-endian dims, raw bytes."""
    header = struct.pack(">BBBB", 0, 0, code, array.ndim) + b"".join(
        struct.pack(">I", d) for d in array.shape
    )
    return header + array.astype(np.uint8).tobytes()


def write_mnist(
    root: Path, n_train: int = 200, n_test: int = 100, folder: str = "MNIST", gz: bool = False
) -> Path:
    """root/MNIST/raw/{train,t10k}-{images-idx3,labels-idx1}-ubyte[.gz], as torchvision's MNIST reads them."""
    raw = Path(root) / folder / "raw"
    raw.mkdir(parents=True, exist_ok=True)
    for prefix, n, seed in (("train", n_train, 1), ("t10k", n_test, 2)):
        x, y = digits(n, 28, 1, seed)
        for name, data in (
            (f"{prefix}-images-idx3-ubyte", _idx(x[..., 0], 0x08)),
            (f"{prefix}-labels-idx1-ubyte", _idx(y, 0x08)),
        ):
            if gz:
                (raw / f"{name}.gz").write_bytes(gzip.compress(data))
            else:
                (raw / name).write_bytes(data)
    return Path(root)


def write_cifar10(root: Path, n_train: int = 250, n_test: int = 100) -> Path:
    """root/cifar-10-batches-py/{data_batch_1..5, test_batch, batches.meta}: pickled dicts, data N x 3072
    (channel planes, row-major), as the CIFAR-10 python version ships them."""
    base = Path(root) / "cifar-10-batches-py"
    base.mkdir(parents=True, exist_ok=True)
    x, y = digits(n_train + n_test, 32, 3, seed=3)
    flat = x.transpose(0, 3, 1, 2).reshape(len(x), 3072)
    per = -(-n_train // 5)
    for i in range(5):
        lo, hi = i * per, min(n_train, (i + 1) * per)
        batch = {
            "batch_label": f"training batch {i + 1} of 5",
            "labels": y[lo:hi].tolist(),
            "data": flat[lo:hi],
            "filenames": [f"img_{j}.png" for j in range(lo, hi)],
        }
        with open(base / f"data_batch_{i + 1}", "wb") as f:
            pickle.dump(batch, f)
    with open(base / "test_batch", "wb") as f:
        pickle.dump(
            {
                "batch_label": "testing batch 1 of 1",
                "labels": y[n_train:].tolist(),
                "data": flat[n_train:],
                "filenames": [],
            },
            f,
        )
    with open(base / "batches.meta", "wb") as f:
        pickle.dump({"label_names": CIFAR10_NAMES, "num_cases_per_batch": per, "num_vis": 3072}, f)
    return Path(root)


def write_cifar100(root: Path, n_train: int = 200, n_test: int = 100) -> Path:
    base = Path(root) / "cifar-100-python"
    base.mkdir(parents=True, exist_ok=True)
    x, y = digits(n_train + n_test, 32, 3, seed=4)
    flat = x.transpose(0, 3, 1, 2).reshape(len(x), 3072)
    for name, lo, hi in (("train", 0, n_train), ("test", n_train, n_train + n_test)):
        with open(base / name, "wb") as f:
            pickle.dump(
                {
                    "fine_labels": y[lo:hi].tolist(),
                    "coarse_labels": (y[lo:hi] // 5).tolist(),
                    "data": flat[lo:hi],
                },
                f,
            )
    with open(base / "meta", "wb") as f:
        pickle.dump({"fine_label_names": [f"class{i}" for i in range(100)], "coarse_label_names": []}, f)
    return Path(root)


def save_png(path: Path, array: np.ndarray, mode: str | None = None) -> Path:
    from PIL import Image

    path.parent.mkdir(parents=True, exist_ok=True)
    img = Image.fromarray(array[..., 0] if array.shape[-1] == 1 else array)
    if mode:
        img = img.convert(mode)
    img.save(path)
    return path


def write_folder(
    root: Path,
    per_class: int = 12,
    classes=("ants", "bees"),
    size: int = 24,
    channels: int = 3,
    splits=("train", "val"),
    seed: int = 0,
    suffix: str = ".png",
) -> Path:
    """root/{split}/{class}/N.png from digit images (class k shows digit k); splits=() gives root/{class}/."""
    root = Path(root)
    for s_i, split in enumerate(splits or [""]):
        x, y = digits(per_class * 10 * 3, size, channels, seed + s_i)
        for k, name in enumerate(classes):
            mine = x[y == k][:per_class]
            for i, img in enumerate(mine):
                save_png(root / split / name / f"{i:04d}{suffix}", img)
    return root


def write_annotations(
    root: Path, n_train: int = 30, n_val: int = 12, size: int = 20, classes: int = 3
) -> Path:
    """Seed 003's layout: root/train.txt + root/train_filelist/*.png, root/val.txt + root/val_filelist/."""
    root = Path(root)
    for split, n, seed in (("train", n_train, 5), ("val", n_val, 6)):
        x, y = digits(n * 4, size, 3, seed)
        keep = np.flatnonzero(y < classes)[:n]
        lines = []
        for j, i in enumerate(keep):
            name = f"image_{split}_{j:05d}.png"
            save_png(root / f"{split}_filelist" / name, x[i])
            lines.append(f"{name} {y[i]}")
        (root / f"{split}.txt").write_text("\n".join(lines) + "\n")
    return root


def write_cat_to_name(path: Path, folders) -> Path:
    path.write_text(json.dumps({f: f"flower {f}" for f in folders}))
    return path
