"""Helpers shared by model families."""

from __future__ import annotations

import torch
from torch import nn

from kindling.errors import UserError


def forward(
    model: nn.Module, x: torch.Tensor, lengths: torch.Tensor | None = None, takes_lengths: bool | None = None
):
    """Call `model` on a batch, passing the sequence lengths when it takes them (text models set
    `takes_lengths = True`). `takes_lengths` overrides the attribute for wrapped models (DDP hides it)."""
    if takes_lengths if takes_lengths is not None else getattr(model, "takes_lengths", False):
        return model(x, lengths.to(x.device) if lengths is not None else None)
    return model(x)


def flat_size(features: nn.Module, input_shape: list[int]) -> int:
    """Flattened size of `features` applied to one sample: the seeds' hand-computed 32*5*5, measured."""
    with torch.no_grad():
        try:
            out = features(torch.zeros(1, *input_shape))
        except RuntimeError as exc:
            raise UserError(
                f"input shape {'x'.join(map(str, input_shape))} is too small for this model ({exc}); "
                "use a larger --image-size or another model"
            ) from exc
    return int(out.numel())


def channels_of(sig) -> int:
    if len(sig.input_shape) != 3:
        raise UserError(f"this model needs images (C x H x W); the data gives shape {sig.input_shape}")
    return int(sig.input_shape[0])


def activation(name: str) -> nn.Module:
    table = {"relu": nn.ReLU, "sigmoid": nn.Sigmoid, "tanh": nn.Tanh, "gelu": nn.GELU, "silu": nn.SiLU}
    if name not in table:
        raise UserError(f"unknown activation '{name}'; valid: {', '.join(table)}")
    return table[name]()
