"""What every image source shares: class-name maps, tensor resizing, splits and the Signature."""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from kindling.data.memory import Split
from kindling.data.module import DataModule
from kindling.data.signature import Signature
from kindling.data.split import train_val_test
from kindling.errors import UserError
from kindling.util.fileio import read_text_checked


@dataclass
class Listing:
    """The image files of one split: paths, integer labels, and where each entry came from.

    `origins` holds what an error message should name: `train.txt:12` for an annotation line, the
    path itself for a file found in a class folder.
    """

    paths: list[Path] = field(default_factory=list)
    labels: list[int] = field(default_factory=list)
    origins: list[str] = field(default_factory=list)

    def add(self, path: Path, label: int, origin: str) -> None:
        self.paths.append(path)
        self.labels.append(label)
        self.origins.append(origin)

    def __len__(self) -> int:
        return len(self.paths)


def warn(message: str) -> None:
    """A one-line warning on stderr (training output stays on stdout)."""
    print(f"kindling: warning: {message}", file=sys.stderr)


def refuse_or_skip(bad: list[str], skip_bad: bool, fix: str, where: str, what: str) -> None:
    """Bad entries found while listing a source: refuse, naming the first (`fix`: what to do about it),
    or with --skip-bad warn once how many `what` in `where` were left out."""
    if not bad:
        return
    if not skip_bad:
        more = f" (and {len(bad) - 1} more)" if len(bad) > 1 else ""
        raise UserError(f"{bad[0]}{more}; {fix}, or pass --skip-bad to leave {what} out")
    warn(f"{where}: skipped {len(bad)} {what} (--skip-bad); first: {bad[0]}")


def read_class_names(spec: str | None, keys: list[str]) -> list[str]:
    """Display names for the classes `keys` (folder names or label numbers as strings).

    `spec` is data.class_names: a JSON mapping key -> name (seed 003's cat_to_name.json), a JSON list,
    or a text file with one name per line (line i names label i). Keys the map lacks keep their own name.
    """
    if not spec:
        return list(keys)
    path = Path(spec).expanduser()
    if not path.is_file():
        raise UserError(
            f"data.class_names file {path} does not exist; pass a JSON map or a file with one name per line"
        )
    text = read_text_checked(path, "utf-8", "data.class_names is a JSON map or one name per line", "replace")
    if path.suffix.lower() == ".json":
        try:
            table = json.loads(text)
        except json.JSONDecodeError as exc:
            raise UserError(f"data.class_names {path} is not valid JSON ({exc}); fix the file") from exc
        if isinstance(table, list):
            table = {str(i): str(name) for i, name in enumerate(table)}
        if not isinstance(table, dict):
            raise UserError(f"data.class_names {path} must hold a mapping (class -> name) or a list of names")
        return [str(table.get(k, k)) for k in keys]
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    return [lines[i] if i < len(lines) else k for i, k in enumerate(keys)]


def convert_tensor(
    x: torch.Tensor, channels: int | None, size: int | None, chunk: int = 2048
) -> torch.Tensor:
    """uint8 N,C,H,W -> the asked channels (ITU-R 601 luma, as PIL's convert('L')) and size (antialiased bilinear)."""
    N, C, H, W = x.shape  # images, channels, height, width
    if channels is not None and channels not in (1, 3):
        raise UserError(f"--channels must be 1 or 3, got {channels}")
    if channels == 1 and C == 3:
        luma = torch.tensor([0.299, 0.587, 0.114]).view(1, 3, 1, 1)
        x = (
            torch.cat(
                [
                    (x[i : i + chunk].float() * luma)
                    .sum(1, keepdim=True)
                    .round_()
                    .clamp_(0, 255)
                    .to(torch.uint8)
                    for i in range(0, N, chunk)
                ]
            )
            if N
            else x[:, :1]
        )
    elif channels == 3 and C == 1:
        x = x.expand(N, 3, H, W).contiguous()
    if size is not None and (H, W) != (size, size):
        if size < 4:
            raise UserError(f"--image-size {size} is too small; use 8 or more")
        parts = []
        for i in range(0, N, chunk):
            part = torch.nn.functional.interpolate(
                x[i : i + chunk].float(),
                size=(size, size),
                mode="bilinear",
                antialias=True,
                align_corners=False,
            )
            parts.append(part.round_().clamp_(0, 255).to(torch.uint8))
        x = torch.cat(parts) if parts else x.new_zeros((0, x.shape[1], size, size))
    return x.contiguous()


def channel_stats(x) -> tuple[list[float], list[float]]:
    """Per-channel mean and std of uint8 images scaled to [0, 1], computed in chunks (no full float copy).

    A streamed split (too big for memory) is estimated from a seeded sample of 1,024 images.
    """
    n = len(x)
    if n == 0:
        raise UserError("the training split has no images")
    if isinstance(x, torch.Tensor):
        chunks = (x[lo : lo + 4096] for lo in range(0, n, 4096))
    else:
        sample = torch.randperm(n, generator=torch.Generator().manual_seed(0))[:1024].sort().values
        chunks = iter([x[sample]])
    total = sq = 0.0
    count = 0
    for part in chunks:
        part = part.double().div_(255.0)
        total = total + part.sum((0, 2, 3))
        sq = sq + (part * part).sum((0, 2, 3))
        count += part.shape[0] * part.shape[2] * part.shape[3]
    mean = total / count
    std = (sq / count - mean * mean).clamp_min(1e-12).sqrt().clamp_min(1e-3)
    return [round(float(v), 6) for v in mean], [round(float(v), 6) for v in std]


def seeded_splits(labels: np.ndarray, cfg, with_test: bool) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(train, val, test) indices: seeded and stratified, the same for every run with data.split_seed."""
    test_fraction = cfg.test_fraction if with_test else 0.0
    return train_val_test(labels, cfg.val_fraction, test_fraction, cfg.split_seed, stratify=True)


def image_module(
    parts: dict[str, Split | None],
    class_names: list[str],
    description: str,
    extras: dict,
    task: str = "classification",
) -> DataModule:
    """Build the DataModule: the Signature's shape from the images, normalisation from the train split
    (`task`: multilabel for images with several labels each, kindling.data.images.listed)."""
    train = parts["train"]
    if train is None or len(train) == 0:
        raise UserError(f"{description}: the training split has no images")
    mean, std = channel_stats(train.x)
    shape = [int(s) for s in train.x.shape[1:]]
    sig = Signature(task, "image", shape, list(class_names), mean, std, dict(extras))
    return DataModule(sig, train, parts.get("val"), parts.get("test"), description)


def take(split: Split, index) -> Split | None:
    """`split` restricted to `index` (None when empty)."""
    index = torch.as_tensor(np.asarray(index), dtype=torch.long)
    if not len(index):
        return None
    if not isinstance(
        split.x, torch.Tensor
    ):  # streamed images (LazyImages): select files, decode nothing yet
        names = [split.names[i] for i in index.tolist()] if split.names else []
        return Split(split.x.select(index), split.y[index], names)
    return split.subset(index)
