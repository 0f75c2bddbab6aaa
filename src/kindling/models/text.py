"""Text classifiers over token ids: TextRNN (bi-LSTM), TextCNN and a bag of uni+bi-grams.

Each takes `(x, lengths)`: x int64 (B, L) right-padded with <PAD> = 0, lengths int64 (B,) >= 1
(`takes_lengths = True` makes the trainer, evaluate and predict pass them). The vocabulary size comes
from the Signature (`sig.extras["vocab"]`), so a Bundle rebuilds the same shapes without the data.

Pretrained vectors: `embeddings: FILE` (a .npz with key `embeddings`, rows in vocabulary order, or a
word2vec text file mapped through the vocabulary), `freeze_embeddings: true` to keep them fixed. The
seed lesson's pair is `--set data.vocab=vocab.pkl --set model.options.embeddings=embedding_X.npz`: the
npz rows follow that vocab.pkl. `embed` (default 300, bow 64) is taken from the vectors when not given.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import torch
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence

from kindling.errors import UserError
from kindling.models.vectors import read_vectors
from kindling.task import inputs_for

PAD_INDEX = 0
_HASH_MOD = 2_147_483_647  # n-gram codes stay below 2**31, so code * 1_000_003 never overflows int64


def _vocab_size(sig) -> int:
    if not inputs_for(sig).text_lines or "vocab" not in sig.extras:
        raise UserError(
            f"text models need text data (text:DIR or text:FILE); this data gives {sig.input_kind} input"
        )
    return len(sig.extras["vocab"])


def _lengths(x: torch.Tensor, lengths: torch.Tensor | None) -> torch.Tensor:
    """True lengths (>= 1); counted from the padding when a caller passes none."""
    if lengths is None:
        lengths = (x != PAD_INDEX).sum(1)
    return lengths.clamp(1, x.shape[1])


# ---------------------------------------------------------------- embeddings


def _embedding(
    sig, embed: int | None, embeddings: str | None, freeze: bool, default: int = 300
) -> nn.Embedding:
    """An nn.Embedding for the vocabulary, from pretrained vectors when `embeddings` names a file.

    Its size is `embed`, or the vectors' dimension when a file is given and `embed` is not (a given
    `embed` that differs from the vectors is refused), else `default`. The vectors' size is recorded in
    sig.extras["pretrained_embeddings"]: the trainer saves that Signature in the Bundle, so loading the
    Bundle later rebuilds the right shape from the record and takes the weights from the Bundle, without
    needing the (often large) vectors file again.
    """
    vocab_size = _vocab_size(sig)
    if not embeddings:
        return nn.Embedding(vocab_size, embed or default, padding_idx=PAD_INDEX)
    record = sig.extras.get("pretrained_embeddings")
    if record and record.get("file") == str(embeddings):
        layer = nn.Embedding(vocab_size, int(record["dim"]), padding_idx=PAD_INDEX)
    else:
        path = Path(embeddings).expanduser()
        array, said = read_vectors(path, sig.extras["vocab"], sig.extras.get("vocab_file"))
        if embed is not None and embed != array.shape[1]:
            raise UserError(
                f"model.options.embed = {embed} but {path.name} holds {array.shape[1]}-dimensional vectors; "
                f"drop embed (the vectors set it) or set it to {array.shape[1]}"
            )
        print(said, file=sys.stderr)
        vectors = torch.from_numpy(np.ascontiguousarray(array))
        vectors[PAD_INDEX] = 0.0
        layer = nn.Embedding.from_pretrained(vectors, freeze=False, padding_idx=PAD_INDEX)
        sig.extras["pretrained_embeddings"] = {"file": str(embeddings), "dim": int(vectors.shape[1])}
    layer.weight.requires_grad_(not freeze)
    return layer


# ---------------------------------------------------------------- models


class TextRNN(nn.Module):
    """Embedding -> (bi)LSTM over packed sequences (padding skipped) -> final hidden states -> linear."""

    takes_lengths = True

    def __init__(
        self,
        embedding: nn.Embedding,
        hidden: int,
        layers: int,
        dropout: float,
        bidirectional: bool,
        classes: int,
    ):
        super().__init__()
        self.embedding = embedding
        self.lstm = nn.LSTM(
            embedding.embedding_dim,
            hidden,
            layers,
            batch_first=True,
            dropout=dropout if layers > 1 else 0.0,
            bidirectional=bidirectional,
        )
        self.dropout = nn.Dropout(dropout)
        self.fc = nn.Linear(hidden * (2 if bidirectional else 1), classes)

    def forward(self, x: torch.Tensor, lengths: torch.Tensor | None = None) -> torch.Tensor:
        lengths = _lengths(x, lengths)
        emb = self.embedding(x)  # B, L, E
        packed = pack_padded_sequence(emb, lengths.cpu(), batch_first=True, enforce_sorted=False)
        _, (h_n, _) = self.lstm(packed)  # h_n: layers * directions, B, H
        if self.lstm.bidirectional:
            last = torch.cat([h_n[-2], h_n[-1]], dim=1)  # forward's last real step, backward's first
        else:
            last = h_n[-1]
        return self.fc(self.dropout(last))


class TextCNN(nn.Module):
    """Embedding -> parallel 1-D convolutions (one per filter size) -> max over time -> linear."""

    takes_lengths = True

    def __init__(
        self, embedding: nn.Embedding, filter_sizes: list[int], filters: int, dropout: float, classes: int
    ):
        super().__init__()
        self.embedding = embedding
        self.convs = nn.ModuleList(nn.Conv1d(embedding.embedding_dim, filters, k) for k in filter_sizes)
        self.min_len = max(filter_sizes)
        self.dropout = nn.Dropout(dropout)
        self.fc = nn.Linear(filters * len(filter_sizes), classes)

    def forward(self, x: torch.Tensor, lengths: torch.Tensor | None = None) -> torch.Tensor:
        if x.shape[1] < self.min_len:  # a pad size shorter than the widest filter
            x = nn.functional.pad(x, (0, self.min_len - x.shape[1]), value=PAD_INDEX)
        emb = self.embedding(x).transpose(1, 2)  # B, E, L
        pooled = [torch.relu(conv(emb)).amax(dim=2) for conv in self.convs]  # each B, filters
        return self.fc(self.dropout(torch.cat(pooled, dim=1)))


class BagOfNgrams(nn.Module):
    """fastText-style: the mean embedding of the unigrams and hashed bigrams, then a linear layer."""

    takes_lengths = True

    def __init__(self, embedding: nn.Embedding, buckets: int, ngrams: int, dropout: float, classes: int):
        super().__init__()
        self.vocab_size, self.buckets, self.ngrams = embedding.num_embeddings, buckets, ngrams
        dim = embedding.embedding_dim
        self.bag = nn.EmbeddingBag(self.vocab_size + buckets, dim, mode="sum")
        with torch.no_grad():  # unigram rows start from the (possibly pretrained) embedding
            self.bag.weight[: self.vocab_size] = embedding.weight
            self.bag.weight[self.vocab_size :].normal_(0.0, 0.1)
        if not embedding.weight.requires_grad:  # frozen vectors: keep the unigram rows, train the bigram rows
            if buckets:
                self.bag.weight.register_hook(self._zero_unigram_grad)
            else:
                self.bag.weight.requires_grad_(False)
        self.dropout = nn.Dropout(dropout)
        self.fc = nn.Linear(dim, classes)

    def _zero_unigram_grad(self, grad: torch.Tensor) -> torch.Tensor:
        grad = grad.clone()
        grad[: self.vocab_size] = 0
        return grad

    def forward(self, x: torch.Tensor, lengths: torch.Tensor | None = None) -> torch.Tensor:
        B, L = x.shape  # batch, padded length
        lengths = _lengths(x, lengths)
        pos = torch.arange(L, device=x.device).unsqueeze(0)
        uni_mask = pos < lengths.unsqueeze(1)
        ids, masks = [x], [uni_mask]
        code = x
        for n in range(2, min(self.ngrams, L) + 1 if self.buckets else 0):
            code = (
                code[:, :-1] * 1_000_003 + x[:, n - 1 :] + n
            ) % _HASH_MOD  # the n-gram at each start, one int
            ids.append(code % self.buckets + self.vocab_size)  # hashed into the bucket rows
            masks.append(pos[:, n - 1 :] < lengths.unsqueeze(1))
        ids, mask = torch.cat(ids, dim=1), torch.cat(masks, dim=1)
        weights = mask.float() / mask.sum(1, keepdim=True).clamp_min(1)
        return self.fc(self.dropout(self.bag(ids, per_sample_weights=weights)))


def textrnn(
    sig,
    embed: int | None = None,
    hidden: int = 128,
    layers: int = 2,
    dropout: float = 0.5,
    bidirectional: bool = True,
    embeddings: str | None = None,
    freeze_embeddings: bool = False,
) -> nn.Module:
    """TextRNN (THUCNews): embedding 300, bidirectional LSTM 128 x 2 layers, dropout 0.5, packed sequences."""
    emb = _embedding(sig, embed, embeddings, freeze_embeddings, default=300)
    return TextRNN(emb, hidden, layers, dropout, bidirectional, sig.num_outputs)


def textcnn(
    sig,
    embed: int | None = None,
    filter_sizes: list[int] | None = None,
    filters: int = 256,
    dropout: float = 0.5,
    embeddings: str | None = None,
    freeze_embeddings: bool = False,
) -> nn.Module:
    """TextCNN (Kim 2014): embedding 300, filter sizes 2/3/4 with 256 filters each, max over time."""
    emb = _embedding(sig, embed, embeddings, freeze_embeddings, default=300)
    return TextCNN(emb, list(filter_sizes or [2, 3, 4]), filters, dropout, sig.num_outputs)


def bow(
    sig,
    embed: int | None = None,
    buckets: int = 100_000,
    ngrams: int = 2,
    dropout: float = 0.0,
    embeddings: str | None = None,
    freeze_embeddings: bool = False,
) -> nn.Module:
    """Bag of uni+bi-grams (fastText-style EmbeddingBag, n-grams hashed into buckets): a fast strong baseline."""
    if buckets < 0 or ngrams < 1:
        raise UserError(
            f"bow: buckets must be >= 0 and ngrams >= 1 (1 = unigrams only), got {buckets}, {ngrams}"
        )
    emb = _embedding(sig, embed, embeddings, freeze_embeddings, default=64)
    return BagOfNgrams(emb, buckets, ngrams, dropout, sig.num_outputs)


# ---------------------------------------------------------------- linear over hashed n-grams


class LinearNgrams(nn.Module):
    """A linear classifier straight over the sample's n-grams (1..ngrams, hashed into `buckets` rows).

    The TF-IDF + linear-SVM recipe as a network: each n-gram occurrence adds its row of class scores,
    weighted by its inverse document frequency and the text's weights L2-normalised, so a long text and
    a short one land on the same scale. The document frequencies are counted from the texts seen in
    training mode (the train split, as BatchNorm counts its statistics) and kept as buffers, so a Bundle
    scores new texts with the train split's IDF. No hidden layer: with a few thousand texts a hidden
    layer only adds variance, and the model trains in seconds.
    """

    takes_lengths = True

    def __init__(self, vocab_size: int, buckets: int, ngrams: int, dropout: float, idf: bool, classes: int):
        super().__init__()
        self.vocab_size, self.buckets, self.ngrams = vocab_size, buckets, ngrams
        self.dropout = dropout
        self.bag = nn.EmbeddingBag(vocab_size + buckets, classes, mode="sum")
        nn.init.zeros_(self.bag.weight)
        self.bias = nn.Parameter(torch.zeros(classes))
        self.idf = idf
        # document frequencies counted in training mode, as BatchNorm keeps its running statistics:
        # buffers, so the Bundle (safetensors) carries them to evaluate, predict, serve and export
        self.register_buffer("doc_freq", torch.zeros(vocab_size + buckets))
        self.register_buffer("docs", torch.zeros(()))

    def forward(self, x: torch.Tensor, lengths: torch.Tensor | None = None) -> torch.Tensor:
        L = x.shape[1]
        lengths = _lengths(x, lengths)
        pos = torch.arange(L, device=x.device).unsqueeze(0)
        ids, masks = [x], [pos < lengths.unsqueeze(1)]
        code = x
        for n in range(2, min(self.ngrams, L) + 1 if self.buckets else 0):
            code = (code[:, :-1] * 1_000_003 + x[:, n - 1 :] + n) % _HASH_MOD
            ids.append(code % self.buckets + self.vocab_size)
            masks.append(pos[:, n - 1 :] < lengths.unsqueeze(1))
        ids, mask = torch.cat(ids, dim=1), torch.cat(masks, dim=1).float()
        if self.training and self.dropout > 0:  # drop whole n-gram occurrences, not scores
            mask = mask * (torch.rand_like(mask) >= self.dropout)
        if self.idf:
            if self.training:
                self._count(ids, mask)
            df = self.doc_freq[ids]
            seen = (df > 0) | (self.docs == 0)  # n-grams no training text held weigh nothing, as in TF-IDF
            weights = mask * seen * torch.log((1 + self.docs) / (1 + df)).add(1.0)
        else:
            weights = mask
        weights = weights * weights.square().sum(1, keepdim=True).clamp_min(1e-12).rsqrt()
        return self.bag(ids, per_sample_weights=weights) + self.bias

    @torch.no_grad()
    def _count(self, ids: torch.Tensor, mask: torch.Tensor) -> None:
        """Add the batch's documents to the frequencies: each n-gram once per text that holds it."""
        rows = torch.arange(ids.shape[0], device=ids.device).unsqueeze(1).expand_as(ids)
        pairs = torch.unique((rows * self.doc_freq.numel() + ids)[mask > 0])
        self.doc_freq.index_add_(0, pairs % self.doc_freq.numel(), torch.ones_like(pairs, dtype=torch.float))
        self.docs += ids.shape[0]


def linear_ngrams(
    sig, buckets: int = 262_144, ngrams: int = 3, dropout: float = 0.0, idf: bool = True
) -> nn.Module:
    """Linear over hashed 1..`ngrams`-grams of the tokens (TF-IDF + linear SVM as a network): the text default."""
    if buckets < 0 or ngrams < 1 or not 0.0 <= dropout < 1.0:
        raise UserError(
            "linear-ngrams: buckets must be >= 0, ngrams >= 1 and dropout in [0, 1), "
            f"got {buckets}, {ngrams}, {dropout}"
        )
    return LinearNgrams(_vocab_size(sig), buckets, ngrams, dropout, idf, sig.num_outputs)
