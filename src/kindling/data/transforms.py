"""Batch preprocessing built from the Signature: the same function at training and prediction time."""

from __future__ import annotations

from collections.abc import Callable

import torch

from kindling.data.signature import Signature


def make_preprocess(
    sig: Signature, device: torch.device | str = "cpu"
) -> Callable[[torch.Tensor], torch.Tensor]:
    """x (uint8 images, float features or int64 tokens, on any device) -> model input on `device`.
    The input kind's hook (`kindling.task.inputs`), kept here under the name the data path knows."""
    from kindling.task import inputs_for

    return inputs_for(sig).preprocess(device)


def target_scale(sig: Signature) -> tuple[float, float]:
    """(mean, std) used to standardise a regression target; (0, 1) for anything else. The Task's
    (`kindling.task`), kept here for the callers that only need the numbers."""
    from kindling.task import task_for

    return getattr(task_for(sig), "target_scale", (0.0, 1.0))
