"""Batch preprocessing built from the Signature: the same function at training and prediction time."""

from __future__ import annotations

from collections.abc import Callable

import torch

from kindling.data.signature import Signature


def make_preprocess(
    sig: Signature, device: torch.device | str = "cpu"
) -> Callable[[torch.Tensor], torch.Tensor]:
    """x (uint8 images, float features or int64 tokens, on any device) -> model input on `device`."""
    if sig.input_kind == "text" or not sig.mean:
        return lambda x: x.to(device, non_blocking=True)
    view = (1, -1, 1, 1) if sig.input_kind == "image" else (1, -1)
    std = torch.tensor(sig.std, dtype=torch.float32, device=device).view(view)
    mean = torch.tensor(sig.mean, dtype=torch.float32, device=device).view(view)
    # (x / 255 - mean) / std folded into one multiply and one subtract, in place
    scale_u8, scale_f = 1.0 / (255.0 * std), 1.0 / std
    shift = mean / std
    device = torch.device(device)

    def preprocess(x: torch.Tensor) -> torch.Tensor:
        if x.device != device:
            x = x.to(device, non_blocking=True)
        scale = scale_u8 if x.dtype == torch.uint8 else scale_f
        return x.float().mul_(scale).sub_(shift) if x.dtype != torch.float32 else x.mul(scale).sub_(shift)

    return preprocess


def target_scale(sig: Signature) -> tuple[float, float]:
    """(mean, std) used to standardise a regression target; (0, 1) for anything else. The Task's
    (`kindling.task`), kept here for the callers that only need the numbers."""
    from kindling.task import task_for

    return getattr(task_for(sig), "target_scale", (0.0, 1.0))
