"""Multi-layer perceptrons for any input (flattened), and a linear baseline.

For tables trained with `data.categorical: embed`, the Signature marks which feature columns hold
category indices; `mlp` and `linear` then put a `CategoryEmbedding` front before the dense layers.
`mlp(numbers="plr")` also turns each number of a table into a small learned vector
(`PeriodicNumbers`), the numeric embeddings of Gorishniy et al. 2022 ("On Embeddings for Numerical
Features in Tabular Deep Learning", PLR): a plain MLP sees a number only through a weighted sum, so
thresholds and bumps (an age band, a zero that means "none") cost it many units; sin/cos features of
learned frequencies give it those shapes directly. The table default uses it from 800 training rows
(kindling.config.defaults.NUMBERS_ROWS; below that it overfit). `numbers="periodic"` is the lighter
form (PLR lite: 16 frequencies and one layer shared by the columns), the default of the previous
version, kept so its Bundles load (the measurements behind the choice: kindling.config.defaults).
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


class PeriodicNumbers(nn.Module):
    """x (B, F) -> (B, F - n + n * dim): the n number columns at `index` become ReLU(W [sin 2pi c x, cos 2pi c x])
    with `frequencies` learned c per column (drawn from N(0, sigma^2)); the other columns pass through first,
    in order. `shared`: one W for all the columns (PLR lite, `numbers="periodic"`); else each column its own
    W (PLR, `numbers="plr"`: the table default)."""

    def __init__(self, num_features: int, index: list[int], frequencies=16, dim=16, sigma=1.0, shared=True):
        super().__init__()
        numbers = set(index)
        rest = [i for i in range(num_features) if i not in numbers]
        self.register_buffer("number_index", torch.tensor(index, dtype=torch.long), persistent=False)
        self.register_buffer("rest_index", torch.tensor(rest, dtype=torch.long), persistent=False)
        self.frequency = nn.Parameter(torch.randn(len(index), frequencies) * sigma)
        if shared:
            self.project = nn.Linear(2 * frequencies, dim)
        else:  # nn.Linear's own initial range, one layer per column
            bound = 1 / math.sqrt(2 * frequencies)
            self.weight = nn.Parameter(torch.empty(len(index), 2 * frequencies, dim).uniform_(-bound, bound))
            self.bias = nn.Parameter(torch.empty(len(index), dim).uniform_(-bound, bound))
        self.shared = shared
        self.out_features = len(rest) + len(index) * dim

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        angle = (2 * math.pi) * self.frequency * x.index_select(1, self.number_index).unsqueeze(-1)
        waves = torch.cat([torch.sin(angle), torch.cos(angle)], dim=-1)  # B, n, 2 * frequencies
        if self.shared:
            numbers = self.project(waves)
        else:
            numbers = torch.einsum("bnk,nkd->bnd", waves, self.weight) + self.bias
        return torch.cat([x.index_select(1, self.rest_index), torch.relu(numbers).flatten(1)], dim=1)


class Fronts(nn.Sequential):
    """Fronts applied in turn; its width is the last one's."""

    @property
    def out_features(self) -> int:
        return self[-1].out_features


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


# numbers= -> PeriodicNumbers' settings: "plr" (the table default) gives each column its own layer over
# 32 frequencies; "periodic" (PLR lite) shares one layer over 16 (the table default of Bundles made before)
NUMBERS = {"plr": {"frequencies": 32, "shared": False}, "periodic": {"frequencies": 16, "shared": True}}


def _front(sig, numbers: str = "plain") -> nn.Module | None:
    embedded = numbers != "plain"
    if embedded and (not isinstance(numbers, str) or numbers not in NUMBERS):
        raise UserError(f"mlp: numbers must be 'plain', 'plr' or 'periodic', got {numbers!r}")
    if embedded and sig.input_kind != "tabular":
        raise UserError(
            f"mlp: numbers={numbers!r} embeds the number columns of a table; this data is {sig.input_kind}"
        )
    width = math.prod(sig.input_shape)
    columns = sig.extras.get("embed") if sig.input_kind == "tabular" else None
    fronts: list[nn.Module] = [CategoryEmbedding(width, columns)] if columns else []
    index = list(sig.extras.get("numbers", [])) if embedded else []
    if index and columns:  # CategoryEmbedding puts its dense columns first, in order
        dense = {column: k for k, column in enumerate(fronts[0].dense_index.tolist())}
        index, width = [dense[i] for i in index], fronts[0].out_features
    if index:
        fronts.append(PeriodicNumbers(width, index, **NUMBERS[numbers]))
    return None if not fronts else fronts[0] if len(fronts) == 1 else Fronts(*fronts)


def mlp(
    sig,
    hidden: list[int] | None = None,
    activation: str = "relu",
    dropout: float = 0.0,
    batch_norm: bool = False,
    numbers: str = "plain",
):
    """A multi-layer perceptron: hidden sizes, activation (relu, sigmoid, tanh, gelu), dropout, batch norm;
    numbers="plr" (or the lighter "periodic") embeds each number of a table (PeriodicNumbers) before the
    dense layers."""
    hidden = [128, 64] if hidden is None else list(hidden)
    front = _front(sig, numbers)
    return _mlp(flat_size(sig), hidden, sig.num_outputs, activation, dropout, batch_norm, front)


def mnist_mlp(sig) -> nn.Module:
    """Seed 003's Mnist_NN: 784 -> 128 -> 256 -> 10 with ReLU (input size taken from the data)."""
    return _mlp(flat_size(sig), [128, 256], sig.num_outputs, "relu", 0.0, False)


def linear(sig) -> nn.Module:
    """A linear baseline (logistic / linear regression on the flattened input)."""
    return _mlp(flat_size(sig), [], sig.num_outputs, "relu", 0.0, False, _front(sig))
