"""Augmentation on whole batches, on the training device. Presets by name.

`shift` (random translation by up to 1/8 of the size, zero-padded) needs nothing but torch; the
torchvision-based presets (`light`, `seed003`) live in `kindling.data.augment_v2`.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F

from kindling.errors import unknown

PRESETS = ["none", "shift", "flip", "light", "seed003"]


def random_shift(x: torch.Tensor, max_frac: float = 0.125) -> torch.Tensor:
    """Translate each image by an integer offset in [-m, m] pixels (m = max_frac * size), zero fill."""
    B, C, H, W = x.shape  # batch, channels, height, width
    m = max(1, int(round(max_frac * min(H, W))))
    padded = F.pad(x, (m, m, m, m))
    dy = torch.randint(0, 2 * m + 1, (B,), device=x.device)
    dx = torch.randint(0, 2 * m + 1, (B,), device=x.device)
    rows = (
        (dy.view(B, 1) + torch.arange(H, device=x.device).view(1, H))
        .view(B, 1, H, 1)
        .expand(B, C, H, W + 2 * m)
    )
    out = padded.gather(2, rows)
    cols = (dx.view(B, 1) + torch.arange(W, device=x.device).view(1, W)).view(B, 1, 1, W).expand(B, C, H, W)
    return out.gather(3, cols)


def random_hflip(x: torch.Tensor) -> torch.Tensor:
    flip = torch.rand(x.shape[0], device=x.device) < 0.5
    return torch.where(flip.view(-1, 1, 1, 1), x.flip(3), x)


def build(name: str, sig) -> Callable[[torch.Tensor], torch.Tensor] | None:
    """The batch augmentation for preset `name`, or None for `none` / non-image data."""
    if name not in PRESETS and "=" not in name and "," not in name:  # "hflip,rotate=15": knobs (augment_v2)
        raise unknown("augmentation preset", name, PRESETS)
    if name == "none" or sig.input_kind != "image":
        return None
    if name == "shift":
        return random_shift
    if name == "flip":
        return random_hflip
    from kindling.data.augment_v2 import build_v2

    return build_v2(name, sig)
