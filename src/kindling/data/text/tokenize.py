"""Tokenisers, the vocabulary and padding: the fitted text state that travels in `Signature.extras`.

Two tokenisers, chosen by name so a Bundle can rebuild them without code:

    char   every character is a token ("体育新闻" -> 体 育 新 闻; spaces collapse to one); default for CJK text
    word   lower-cased words and single punctuation marks ("Free entry!" -> free entry !)

The vocabulary is fitted on the train split only: `<PAD>` = 0, `<UNK>` = 1, then tokens by falling
frequency (ties broken alphabetically, so the same data gives the same ids on every machine).
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Iterable

import numpy as np

from kindling.errors import UserError

PAD, UNK = "<PAD>", "<UNK>"
PAD_INDEX, UNK_INDEX = 0, 1
MAX_AUTO_PAD = 256  # the automatic pad size (95th percentile of train lengths) is capped here
_WORD = re.compile(r"\w+|[^\w\s]")
_SPACES = re.compile(r"\s+")
_CJK = re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af\uf900-\ufaff]")


def char_tokens(text: str) -> list[str]:
    """Characters; a run of whitespace becomes one " " token (a word boundary for mixed or Latin text)."""
    return list(_SPACES.sub(" ", text.strip()))


def word_tokens(text: str) -> list[str]:
    return _WORD.findall(text.lower())


TOKENIZERS: dict[str, Callable[[str], list[str]]] = {"char": char_tokens, "word": word_tokens}


def cjk_fraction(texts: Iterable[str], limit: int = 2000) -> float:
    """Share of CJK characters among the non-space characters of the first `limit` texts."""
    cjk = total = 0
    for i, text in enumerate(texts):
        if i >= limit:
            break
        total += sum(1 for c in text if not c.isspace())
        cjk += len(_CJK.findall(text))
    return cjk / total if total else 0.0


def choose_tokenizer(requested: str, train_texts: list[str]) -> tuple[str, str]:
    """(tokenizer name, why) — `auto` picks `char` when at least 30% of the characters are CJK."""
    if requested != "auto":
        if requested not in TOKENIZERS:
            raise UserError(f"data.tokenizer '{requested}' is not one of auto, {', '.join(TOKENIZERS)}")
        return requested, "as configured"
    share = cjk_fraction(train_texts)
    name = "char" if share >= 0.3 else "word"
    return name, f"auto: {share:.0%} of characters are CJK"


def tokenize(name: str, text: str) -> list[str]:
    if name not in TOKENIZERS:
        raise UserError(
            f"tokenizer '{name}' in the bundle is unknown to this kindling; valid: {', '.join(TOKENIZERS)}"
        )
    return TOKENIZERS[name](text)


def build_vocab(token_lists: list[list[str]], min_freq: int, max_size: int) -> list[str]:
    """itos list: <PAD>, <UNK>, then up to `max_size` tokens seen at least `min_freq` times in train."""
    if min_freq < 1 or max_size < 1:
        raise UserError(f"data.min_freq ({min_freq}) and data.max_size ({max_size}) must be at least 1")
    counts = Counter(tok for toks in token_lists for tok in toks)
    kept = sorted((t for t, c in counts.items() if c >= min_freq), key=lambda t: (-counts[t], t))
    return [PAD, UNK] + kept[:max_size]


def auto_pad_size(token_lists: list[list[str]]) -> int:
    """The 95th percentile of train lengths, capped at MAX_AUTO_PAD: long outliers are cut, not padded for."""
    lengths = np.fromiter((len(t) for t in token_lists), dtype=np.int64, count=len(token_lists))
    if lengths.size == 0:
        return 1
    return int(min(MAX_AUTO_PAD, max(1, np.ceil(np.percentile(lengths, 95)))))


def encode(
    token_lists: list[list[str]], stoi: dict[str, int], pad_size: int
) -> tuple[np.ndarray, np.ndarray]:
    """Token lists -> (ids int64 (N, pad_size), lengths int64 (N,)); padded and cut on the right.

    An empty token list becomes a single <UNK> of length 1: a packed LSTM cannot take length 0, and
    "no known words" is exactly what <UNK> means.
    """
    N = len(token_lists)
    ids = np.full((N, pad_size), PAD_INDEX, dtype=np.int64)
    lengths = np.ones(N, dtype=np.int64)
    get = stoi.get
    for i, toks in enumerate(token_lists):
        row = [get(t, UNK_INDEX) for t in toks[:pad_size]] or [UNK_INDEX]
        ids[i, : len(row)] = row
        lengths[i] = len(row)
    return ids, lengths


_STOI_CACHE: dict[int, tuple[list[str], dict[str, int]]] = {}


def stoi_for(vocab: list[str]) -> dict[str, int]:
    """token -> id for a vocabulary list, cached per list object (predict calls this for every request)."""
    hit = _STOI_CACHE.get(id(vocab))
    if hit is not None and hit[0] is vocab:
        return hit[1]
    stoi = {tok: i for i, tok in enumerate(vocab)}
    if len(_STOI_CACHE) > 8:
        _STOI_CACHE.clear()
    _STOI_CACHE[id(vocab)] = (vocab, stoi)
    return stoi
