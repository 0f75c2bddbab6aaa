"""Multi-layer perceptrons for any input (flattened), and a linear baseline.

For tables trained with `data.categorical: embed`, the Signature marks which feature columns hold
category indices; `mlp` and `linear` then put a `CategoryEmbedding` front before the dense layers.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from kindling.errors import UserError
from kindling.models.common import activation as make_activation
from kindling.task import inputs_for


class CategoryEmbedding(nn.Module):
    """x (B, F) floats with some columns holding category indices -> (B, F') dense features.

    Index 0 is the "unknown" row: a category unseen in training (or a missing one) maps there.
    """

    def __init__(self, num_features: int, columns: list[dict]):
        super().__init__()
        index = [int(c["index"]) for c in columns]
        dense = [i for i in range(num_features) if i not in set(index)]
        self.register_buffer("dense_index", torch.tensor(dense, dtype=torch.long), persistent=False)
        self.register_buffer("cat_index", torch.tensor(index, dtype=torch.long), persistent=False)
        self.cardinality = [int(c["cardinality"]) for c in columns]
        self.tables = nn.ModuleList(nn.Embedding(k, embedding_dim(k)) for k in self.cardinality)
        self.out_features = len(dense) + sum(t.embedding_dim for t in self.tables)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        codes = x.index_select(1, self.cat_index).round().long()  # B, n_categorical
        parts = [x.index_select(1, self.dense_index)]
        for j, table in enumerate(self.tables):
            parts.append(table(codes[:, j].clamp(0, self.cardinality[j] - 1)))
        return torch.cat(parts, dim=1)


def embedding_dim(cardinality: int) -> int:
    """A common rule of thumb: about half the categories, at most 16."""
    return int(min(16, (cardinality + 1) // 2 + 1))


def _mlp(
    in_features: int,
    hidden: list[int],
    out: int,
    act: str,
    dropout: float,
    batch_norm: bool,
    front: nn.Module | None = None,
) -> nn.Sequential:
    layers: list[nn.Module] = [front] if front is not None else [nn.Flatten()]
    width = front.out_features if front is not None else in_features
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


def flat_size(sig) -> int:
    """The input size of a flattened sample; text (token ids, not measurements) is refused: a perceptron
    multiplying ids crashed with a dtype error deep in the first step."""
    if inputs_for(sig).text_lines:
        raise UserError(
            "this model takes numbers (images or tables); text data gives token ids: use a text model "
            "(textcnn, textrnn; see `kindling list models`)"
        )
    return math.prod(sig.input_shape)


def _front(sig) -> CategoryEmbedding | None:
    columns = sig.extras.get("embed") if sig.input_kind == "tabular" else None
    return CategoryEmbedding(math.prod(sig.input_shape), columns) if columns else None


def mlp(
    sig,
    hidden: list[int] | None = None,
    activation: str = "relu",
    dropout: float = 0.0,
    batch_norm: bool = False,
):
    """A multi-layer perceptron: hidden sizes, activation (relu, sigmoid, tanh, gelu), dropout, batch norm."""
    hidden = [128, 64] if hidden is None else list(hidden)
    return _mlp(flat_size(sig), hidden, sig.num_outputs, activation, dropout, batch_norm, _front(sig))


def mnist_mlp(sig) -> nn.Module:
    """Seed 003's Mnist_NN: 784 -> 128 -> 256 -> 10 with ReLU (input size taken from the data)."""
    return _mlp(flat_size(sig), [128, 256], sig.num_outputs, "relu", 0.0, False)


def linear(sig) -> nn.Module:
    """A linear baseline (logistic / linear regression on the flattened input)."""
    return _mlp(flat_size(sig), [], sig.num_outputs, "relu", 0.0, False, _front(sig))
