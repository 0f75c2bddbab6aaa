"""The streamed path for a user's Dataset: too big for memory, or with a random transform that must
run anew each epoch. Batches come from a DataLoader with workers, in the trainer's order.

`StreamSplit` has the in-memory Split's interface (`batches`, `subset`, `nbytes`, `to`, `x`, `y`), so
the trainer, evaluation and the reports take either. Labels are known up front (the one checking pass,
or the Dataset's `targets`), inputs are fetched when a batch is asked for.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import torch

from kindling.data.memory import Split
from kindling.data.samples import Layout, fetch, one_line
from kindling.errors import UserError


class Converted(torch.utils.data.Dataset):
    """The user's Dataset seen through `layout`: float32 inputs in storage space (images in [0, 1])."""

    def __init__(self, dataset, layout: Layout, what: str, index: np.ndarray):
        self.dataset, self.layout, self.what, self.index = dataset, layout, what, index

    def __len__(self) -> int:
        return len(self.index)

    def __getitem__(self, k: int) -> torch.Tensor:
        i = int(self.index[k])
        x, _ = fetch(self.dataset, i, self.what)
        x = self.layout.stored(x, i, self.what)
        return x.float().div(255.0) if x.dtype == torch.uint8 else x


class LazyInputs:
    """`split.x` of a streamed split: slicing fetches those samples (the report's few examples)."""

    dtype = None  # not a tensor: views that need every pixel at once (the image gallery) skip it
    device = torch.device("cpu")

    def __init__(self, dataset, layout: Layout, what: str, index: np.ndarray):
        self.dataset, self.layout, self.what, self.index = dataset, layout, what, np.asarray(index)

    def __len__(self) -> int:
        return len(self.index)

    @property
    def shape(self) -> torch.Size:
        return torch.Size([len(self.index), *self.layout.shape])

    def element_size(self) -> int:
        return 4

    def nelement(self) -> int:
        return int(np.prod(self.shape))

    def to(self, device) -> LazyInputs:
        return self

    def select(self, index: torch.Tensor) -> LazyInputs:
        return LazyInputs(self.dataset, self.layout, self.what, self.index[index.cpu().numpy()])

    def __getitem__(self, index) -> torch.Tensor:
        picked = (
            self.index[index]
            if isinstance(index, slice)
            else self.index[torch.as_tensor(index).cpu().numpy()]
        )
        view = Converted(self.dataset, self.layout, self.what, np.atleast_1d(picked))
        return torch.stack([view[k] for k in range(len(view))])


@dataclass
class StreamSplit(Split):
    workers: int = 0

    def subset(self, index: torch.Tensor) -> StreamSplit:
        names = [self.names[i] for i in index.tolist()] if self.names else []
        return StreamSplit(self.x.select(index), self.y[index], names, None, self.workers)

    def to(self, device) -> StreamSplit:
        return self  # batches move to the device in preprocessing

    def batches(self, batch_size: int, order: torch.Tensor | None = None, start: int = 0) -> Iterator[tuple]:
        positions = torch.arange(len(self)) if order is None else order.cpu()
        positions = positions[start * batch_size :]
        lazy = self.x
        view = Converted(lazy.dataset, lazy.layout, lazy.what, lazy.index[positions.numpy()])
        loader = torch.utils.data.DataLoader(
            view,
            batch_size=batch_size,
            num_workers=self.workers,
            pin_memory=torch.cuda.is_available(),
            persistent_workers=False,
        )
        try:
            for k, xb in enumerate(loader):
                yield xb, self.y[positions[k * batch_size : (k + 1) * batch_size]], None
        except UserError as exc:  # raised in a worker: DataLoader wraps the line in its traceback
            raise UserError(_last_line(str(exc))) from None
        except Exception as exc:
            raise UserError(f"{lazy.what}: reading a batch failed ({one_line(exc)})") from exc


def _last_line(text: str) -> str:
    lines = [ln for ln in text.strip().splitlines() if ln.strip()]
    last = lines[-1] if lines else text
    return last.split("UserError: ", 1)[-1]


def stream_split(dataset, layout: Layout, what: str, labels: torch.Tensor, workers: int) -> StreamSplit:
    index = np.arange(len(labels))
    names = [f"{what} #{i}" for i in index]
    return StreamSplit(LazyInputs(dataset, layout, what, index), labels, names, None, workers)


def sample_stats(split: StreamSplit, kind: str, count: int = 1024) -> tuple[list[float], list[float]]:
    """Normalisation of a streamed train split, estimated from a seeded sample of `count` inputs."""
    n = len(split)
    pick = torch.randperm(n, generator=torch.Generator().manual_seed(0))[:count].sort().values
    x = split.x[pick].double()
    dims = (0, 2, 3) if kind == "image" else (0,)
    mean, std = x.mean(dims), x.std(dims).clamp_min(1e-3)
    return [round(float(v), 6) for v in mean], [round(float(v), 6) for v in std]


def split_stats(train, kind: str) -> tuple[list[float], list[float]]:
    """Per-channel (images, in [0, 1]) or per-feature mean and std of the training inputs, in chunks."""
    if not isinstance(train.x, torch.Tensor):
        return sample_stats(train, kind)
    dims = (0, 2, 3) if kind == "image" else (0,)
    total = sq = 0.0
    count = 0
    for lo in range(0, len(train.x), 4096):
        part = train.x[lo : lo + 4096].double()
        part = part.div_(255.0) if train.x.dtype == torch.uint8 else part
        total, sq = total + part.sum(dims), sq + (part * part).sum(dims)
        count += part.numel() // part.shape[1]
    mean = total / count
    std = (sq / count - mean * mean).clamp_min(1e-12).sqrt().clamp_min(1e-3)
    return [round(float(v), 6) for v in mean], [round(float(v), 6) for v in std]


def pixel_range(train) -> bool:
    """Whether the stored training images are pixels (uint8, or floats in [0, 1]) as raw files give."""
    x = train.x
    if not isinstance(x, torch.Tensor) or x.dtype == torch.uint8:
        return True
    return bool(x.numel() == 0 or (x.min() >= 0 and x.max() <= 1))
