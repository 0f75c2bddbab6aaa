"""A model the way another package adds one: a constructor taking the data's Signature."""

from torch import nn


def tiny(sig, hidden: int = 16) -> nn.Module:
    """A one-hidden-layer perceptron from the kindling-test-plugin package."""
    (features,) = sig.input_shape
    return nn.Sequential(nn.Linear(features, hidden), nn.ReLU(), nn.Linear(hidden, sig.num_outputs))
