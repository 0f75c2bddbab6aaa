"""Multi-layer perceptrons for any input (flattened), and a linear baseline."""

from __future__ import annotations

import math

from torch import nn

from kindling.models.common import activation as make_activation
from kindling.models.registry import register


def _mlp(in_features: int, hidden: list[int], out: int, act: str, dropout: float, batch_norm: bool) -> nn.Sequential:
    layers: list[nn.Module] = [nn.Flatten()]
    width = in_features
    for h in hidden:
        layers.append(nn.Linear(width, h))
        if batch_norm:
            layers.append(nn.BatchNorm1d(h))
        layers.append(make_activation(act))
        if dropout:
            layers.append(nn.Dropout(dropout))
        width = h
    layers.append(nn.Linear(width, out))
    return nn.Sequential(*layers)


@register("mlp")
def mlp(sig, hidden: list[int] | None = None, activation: str = "relu", dropout: float = 0.0, batch_norm: bool = False):
    """A multi-layer perceptron: hidden sizes, activation (relu, sigmoid, tanh, gelu), dropout, batch norm."""
    hidden = [128, 64] if hidden is None else list(hidden)
    return _mlp(math.prod(sig.input_shape), hidden, sig.num_outputs, activation, dropout, batch_norm)


@register("mnist-mlp")
def mnist_mlp(sig) -> nn.Module:
    """Seed 003's Mnist_NN: 784 -> 128 -> 256 -> 10 with ReLU (input size taken from the data)."""
    return _mlp(math.prod(sig.input_shape), [128, 256], sig.num_outputs, "relu", 0.0, False)


@register("linear")
def linear(sig) -> nn.Module:
    """A linear baseline (logistic / linear regression on the flattened input)."""
    return _mlp(math.prod(sig.input_shape), [], sig.num_outputs, "relu", 0.0, False)
