"""A map-style Dataset -> checked, compactly stored samples: every `(input, label)` fetched once.

    layout = Layout.of(first_input, recipe)          # image (C,H,W) or vector (F,), Normalize to undo
    x, labels = materialise(dataset, "train dataset", layout)

Images that came through ToTensor are exact multiples of 1/255, so they are stored as uint8 (a quarter
of the memory, normalised on the device as the built-in sources are); anything else stays float32.
Each sample is checked against the first one (shape, type, label), and the first mistake is one line
naming its index. Large data sets are fetched by DataLoader workers (fork only: a Dataset defined in a
file imported by path cannot be pickled into a spawned process).
"""

from __future__ import annotations

import multiprocessing
import os
import sys
from dataclasses import dataclass

import numpy as np
import torch

from kindling.data import note
from kindling.errors import UserError

PARALLEL_FROM = 4096  # fewer samples than this are fetched in the main process: workers cost a start
LOUD_FROM = 20_000  # from this many samples the one read is announced (and shown as a bar on a terminal)


def one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split())[:200]
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def as_tensor(x, i: int, what: str) -> torch.Tensor:
    """An input as a tensor: PIL images become uint8 C,H,W; numpy arrays and tensors pass through."""
    if isinstance(x, torch.Tensor):
        return x
    if isinstance(x, np.ndarray):
        return torch.from_numpy(np.ascontiguousarray(x))
    if hasattr(x, "getbands") and hasattr(x, "size"):  # a PIL image (no transform, or a PIL-only one)
        arr = np.asarray(x.convert("RGB") if x.mode not in ("L", "RGB") else x, dtype=np.uint8)
        return torch.from_numpy(arr[None].copy() if arr.ndim == 2 else arr.transpose(2, 0, 1).copy())
    raise UserError(
        f"{what}: sample {i} has an input of type {type(x).__name__}, expected a tensor, a numpy array "
        "or a PIL image; return (input, label) from __getitem__"
    )


def label_value(label, i: int, what: str) -> int | float | str:
    """A label as a Python number or string (ints stay ints)."""
    if isinstance(label, (torch.Tensor, np.ndarray)) and int(np.prod(label.shape)) == 1:
        label = label.item()
    if isinstance(label, (bool, np.bool_)):
        return int(label)
    if isinstance(label, (int, np.integer)):
        return int(label)
    if isinstance(label, (float, np.floating)):
        if not np.isfinite(label):
            raise UserError(f"{what}: the label of sample {i} is {label}; labels must be finite numbers")
        return float(label)
    if isinstance(label, str):
        return label
    raise UserError(
        f"{what}: the label of sample {i} is a {type(label).__name__}, expected one number or a class name"
    )


def fetch(dataset, i: int, what: str) -> tuple[torch.Tensor, int | float | str]:
    """dataset[i] -> (input tensor, label); the user's exceptions become one line naming the index."""
    try:
        item = dataset[i]
    except Exception as exc:  # the user's __getitem__: any type
        raise UserError(f"{what}: __getitem__({i}) raised {one_line(exc)}; fix the Dataset") from exc
    if not isinstance(item, (tuple, list)) or len(item) != 2:
        got = f"a {len(item)}-tuple" if isinstance(item, (tuple, list)) else f"a {type(item).__name__}"
        raise UserError(f"{what}: sample {i} is {got}, expected a pair (input, label)")
    return as_tensor(item[0], i, what), label_value(item[1], i, what)


@dataclass(frozen=True)
class Layout:
    """How samples are stored: `kind` image (C,H,W) or vector (F,), and a Normalize to undo."""

    kind: str
    shape: tuple[int, ...]
    undo: tuple[tuple[float, ...], tuple[float, ...]] | None = None

    @classmethod
    def of(cls, x: torch.Tensor, what: str, normalize=None) -> Layout:
        if x.ndim == 1:
            return cls("vector", tuple(x.shape))
        if x.ndim == 2:
            return cls("image", (1, *x.shape), _undo(normalize, 1))
        if x.ndim == 3 and x.shape[0] in (1, 3):
            return cls("image", tuple(x.shape), _undo(normalize, x.shape[0]))
        hint = " (channels first: C,H,W with C 1 or 3, as ToTensor makes)" if x.ndim == 3 else ""
        raise UserError(
            f"{what}: sample 0 has an input of shape {tuple(x.shape)}; kindling takes images (C,H,W){hint} "
            "or feature vectors (F,)"
        )

    def stored(self, x: torch.Tensor, i: int, what: str) -> torch.Tensor:
        """One input in storage space: the expected shape, Normalize undone (images in [0, 1] or uint8)."""
        if self.kind == "image" and x.ndim == 2:
            x = x.unsqueeze(0)
        if tuple(x.shape) != self.shape:
            raise UserError(
                f"{what}: sample {i} has shape {tuple(x.shape)}, expected {self.shape} as the training samples have; "
                "make every sample the same shape (e.g. a Resize in the transform)"
            )
        if x.dtype == torch.uint8:
            return x if self.kind == "image" else x.float()
        if x.dtype == torch.bool or not (x.is_floating_point() or x.dtype in (torch.int32, torch.int64)):
            raise UserError(f"{what}: sample {i} has an input of dtype {x.dtype}, expected float or uint8")
        x = x.float()
        if self.undo is not None:
            mean, std = (torch.tensor(v).view(-1, 1, 1) for v in self.undo)
            x = x * std + mean
        return x


def _undo(normalize, channels: int):
    if normalize is None:
        return None
    mean, std = normalize
    mean, std = (list(v) * channels if len(v) == 1 else list(v) for v in (mean, std))
    return (tuple(mean), tuple(std)) if len(mean) == channels == len(std) else None


def quantize(x: torch.Tensor) -> torch.Tensor | None:
    """Float pixels in [0, 1] that are exact multiples of 1/255 (as ToTensor makes) -> uint8, else None."""
    if x.dtype == torch.uint8:
        return x
    scaled = x * 255.0
    rounded = scaled.round()
    if rounded.numel() and (
        (scaled - rounded).abs().max() > 1e-3 or rounded.min() < 0 or rounded.max() > 255
    ):
        return None
    return rounded.to(torch.uint8)


def stored_dtype(layout: Layout, x: torch.Tensor) -> torch.dtype:
    return torch.uint8 if layout.kind == "image" and quantize(x) is not None else torch.float32


class _Indexed(torch.utils.data.Dataset):
    """Worker side of `materialise`: (index, input, label) or (index, None, error line), never a raise,
    so that the message keeps the index and the main process reports the first bad sample."""

    def __init__(self, dataset, what: str):
        self.dataset, self.what = dataset, what

    def __len__(self) -> int:
        return len(self.dataset)

    def __getitem__(self, i: int):
        try:
            x, label = fetch(self.dataset, i, self.what)
        except UserError as exc:
            return i, None, str(exc)
        return i, x, label


def _collate(items: list) -> tuple:
    """A worker's chunk -> (indices, inputs, labels); inputs of one shape and dtype are stacked into one
    tensor, so the chunk crosses to the main process in one piece of shared memory, not 64."""
    index, inputs, labels = (list(column) for column in zip(*items))
    kinds = {(tuple(x.shape), x.dtype) if isinstance(x, torch.Tensor) else None for x in inputs}
    if len(kinds) == 1 and None not in kinds:
        inputs = torch.stack(inputs)
    return index, inputs, labels


def workers(n: int, parallel_from: int = PARALLEL_FROM) -> int:
    """DataLoader workers for `n` samples: none for few, or where processes would not be forked."""
    if n < parallel_from or multiprocessing.get_start_method(allow_none=True) not in (None, "fork"):
        return 0
    if sys.platform != "linux":
        return 0
    return max(0, min(8, (os.cpu_count() or 1) - 1))


def iterate(dataset, what: str):
    """(index, input, label) for every sample in order, fetched by workers when the set is large."""
    n = len(dataset)
    count = workers(n)
    if count == 0:
        for i in range(n):
            yield (i, *fetch(dataset, i, what))
        return
    loader = torch.utils.data.DataLoader(
        _Indexed(dataset, what), batch_size=64, num_workers=count, collate_fn=_collate
    )
    for index, inputs, labels in loader:
        for i, x, label in zip(index, inputs, labels):
            if x is None:
                raise UserError(label)
            yield i, x, label


def _progress(total: int, what: str):
    if total < LOUD_FROM or not sys.stderr.isatty():
        return None
    from tqdm import tqdm  # lazy: tqdm

    return tqdm(total=total, desc=f"reading {what}", unit="sample", file=sys.stderr, leave=False)


def materialise(dataset, what: str, layout: Layout, keep_inputs: bool = True):
    """Every sample of `dataset` checked and stacked -> (N, *shape) tensor (uint8 or float32), labels.

    `keep_inputs=False` checks every sample and keeps only the labels (the streamed path's one pass).
    """
    n = len(dataset)
    buf, labels = None, []
    bar = _progress(n, what)
    if n >= LOUD_FROM:
        kept = "once, then held in memory" if keep_inputs else "once to check them and collect the labels"
        note(f"reading the {n:,} samples of the {what} {kept}")
    for i, x, label in iterate(dataset, what):
        x = layout.stored(x, i, what)
        labels.append(label)
        if bar is not None:
            bar.update(1)
        if not keep_inputs:
            continue
        if buf is None:
            buf = torch.empty((n, *layout.shape), dtype=stored_dtype(layout, x))
        if buf.dtype == torch.uint8:
            q = quantize(x)
            if q is not None:
                buf[i] = q
                continue
            buf = buf.float().div_(255.0)  # the samples so far were exact; from here on keep floats
        buf[i] = x.float().div(255.0) if x.dtype == torch.uint8 else x
    if bar is not None:
        bar.close()
    return buf, labels
