"""The in-memory batch path: one tensor per split, batches sliced by index.

Small data sets (all of the seeds') fit in memory. Decoding happens once; a batch is an index slice,
and normalisation / augmentation run on the whole batch on the training device.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

import torch


@dataclass
class Split:
    """One split held in memory: `x` raw inputs (uint8 images, float features, int64 tokens), `y` targets."""

    x: torch.Tensor
    y: torch.Tensor
    names: list[str] = field(default_factory=list)  # source of each sample (file path, row number), optional
    lengths: torch.Tensor | None = None  # text: true token counts

    def __len__(self) -> int:
        return int(self.y.shape[0])

    def subset(self, index: torch.Tensor) -> Split:
        names = [self.names[i] for i in index.tolist()] if self.names else []
        lengths = self.lengths[index] if self.lengths is not None else None
        return Split(self.x[index], self.y[index], names, lengths)

    def nbytes(self) -> int:
        return sum(t.element_size() * t.nelement() for t in (self.x, self.y, self.lengths) if t is not None)

    def to(self, device) -> Split:
        """The same split with its tensors on `device` (a GPU keeps small data sets resident)."""
        lengths = self.lengths.to(device) if self.lengths is not None else None
        return Split(self.x.to(device), self.y.to(device), self.names, lengths)

    def batches(self, batch_size: int, order: torch.Tensor | None = None, start: int = 0) -> Iterator[tuple]:
        """Yield (x, y, lengths) batches in `order` (default: as stored), from batch number `start`."""
        n = len(self)
        if order is not None and order.device != self.x.device:
            order = order.to(self.x.device)
        for lo in range(start * batch_size, n, batch_size):
            if order is None:
                sl = slice(lo, lo + batch_size)
                yield self.x[sl], self.y[sl], (self.lengths[sl] if self.lengths is not None else None)
            else:
                idx = order[lo : lo + batch_size]
                yield self.x[idx], self.y[idx], (self.lengths[idx] if self.lengths is not None else None)


def epoch_order(n: int, seed: int, epoch: int, rank: int = 0, world: int = 1) -> torch.Tensor:
    """The shuffled sample order of one epoch, a pure function of (seed, epoch).

    Because the order is derived rather than carried, an exact mid-epoch resume only needs the
    batch position. Under DDP each rank takes every `world`-th sample (padded to equal length).
    """
    gen = torch.Generator().manual_seed(seed * 1_000_003 + epoch)
    order = torch.randperm(n, generator=gen)
    if world > 1:
        per_rank = -(-n // world)
        pad = per_rank * world - n
        if pad:
            order = torch.cat([order, order[:pad]])
        order = order[rank::world]
    return order


def num_batches(n: int, batch_size: int) -> int:
    return -(-n // batch_size)
