"""Pretrained word vectors for the text models' embeddings: a .npz (key `embeddings`, rows in the order
of the vocabulary, as seed 003's `np.savez_compressed` writes them, mapped through `data.vocab`) or a
word2vec / GloVe text file mapped through the vocabulary; `read_vectors` gives (V, D) float32 rows.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from kindling.data.text.vocabfile import rows_of
from kindling.errors import UserError


def read_vectors(path: Path, vocab: list[str], vocab_file: dict | None) -> tuple[np.ndarray, str]:
    """(V, D) float32 rows in vocabulary order, and a line counting the vocabulary entries the file lacks
    (those keep a small random row).

    A .npz holds rows in the order of its vocabulary: kindling's own, or your `data.vocab` (the seed's
    vocab.pkl beside its embedding_*.npz), whose rows are then taken in kindling's re-indexed order.
    """
    if not path.is_file():
        raise UserError(
            f"embeddings file {path} does not exist; give a .npz (key 'embeddings') or a word2vec text file"
        )
    if path.suffix != ".npz":
        return _read_word2vec(path, vocab)
    if vocab_file is None and _vocab_beside(path):  # the seed's pair: same size or not, rows would misalign
        raise UserError(
            f"{path} has a vocab.pkl beside it: its rows follow that vocabulary, not one fitted here; "
            f"give it: --set data.vocab={path.parent / 'vocab.pkl'}"
        )
    vectors = _load_npz(path)
    rows = len(vocab) if vocab_file is None else int(vocab_file["size"])
    if vectors.ndim != 2 or vectors.shape[0] != rows:
        if vocab_file is not None:
            raise UserError(
                f"{path}: 'embeddings' has shape {list(vectors.shape)} but {Path(vocab_file['file']).name} "
                f"(data.vocab) holds {rows} tokens; give the vectors written with that vocabulary"
            )
        raise UserError(
            f"{path}: 'embeddings' has shape {list(vectors.shape)}; it must be [vocabulary size {rows}, dim] "
            "in vocabulary order (or give its vocab.pkl as data.vocab, or a word2vec text file)"
        )
    if vocab_file is None:
        return (
            vectors,
            f"embeddings: {rows:,} rows in vocabulary order from {path.name} ({vectors.shape[1]} dims)",
        )
    order = np.asarray(rows_of(vocab_file), dtype=np.int64)
    missing = int((order < 0).sum())
    out = vectors[np.maximum(order, 0)]
    if missing:  # the dict lacked <PAD>/<UNK>: their rows start random, at the scale of the others
        out[order < 0] = np.random.default_rng(0).normal(0.0, float(vectors.std()), (missing, out.shape[1]))
    return out, (
        f"embeddings: {len(vocab) - missing:,} of {len(vocab):,} vocabulary entries found in {path.name} "
        f"({out.shape[1]} dims, rows mapped through {Path(vocab_file['file']).name}); {missing} missing"
    )


def _load_npz(path: Path) -> np.ndarray:
    """The 'embeddings' array of a .npz (never unpickled: object arrays are refused)."""
    try:
        with np.load(path, allow_pickle=False) as npz:
            if "embeddings" not in npz.files:
                raise UserError(
                    f"{path} has no array 'embeddings' (it has: {', '.join(npz.files) or 'nothing'})"
                )
            return np.asarray(npz["embeddings"], dtype=np.float32)
    except UserError:
        raise
    except Exception as exc:  # not a zip, a damaged member, an object array, text in the array ...
        raise UserError(
            f"{path} is not a readable .npz of numbers ({str(exc)[:80]}); "
            "write it with np.savez_compressed(f, embeddings=array)"
        ) from exc


def _vocab_beside(path: Path) -> bool:
    return (path.parent / "vocab.pkl").is_file()


def _read_word2vec(path: Path, vocab: list[str]) -> tuple[np.ndarray, str]:
    stoi = {w: i for i, w in enumerate(vocab)}
    rows: dict[int, np.ndarray] = {}
    dim = None
    with open(path, encoding="utf-8", errors="replace") as f:
        for n, line in enumerate(f, 1):
            parts = line.rstrip().split(" ")
            if n == 1 and len(parts) == 2 and all(p.isdigit() for p in parts):
                continue  # the optional "count dim" header
            if len(parts) < 2:
                continue
            if dim is None:
                dim = len(parts) - 1
            if len(parts) - 1 != dim:
                raise UserError(
                    f"{path}:{n}: {len(parts) - 1} numbers, expected {dim}; a word2vec line is `word v1 ... vD`"
                )
            i = stoi.get(parts[0])
            if i is not None and i not in rows:
                try:
                    rows[i] = np.asarray(parts[1:], dtype=np.float32)
                except ValueError as exc:
                    raise UserError(f"{path}:{n}: not a number in the vector ({exc})") from exc
    if dim is None:
        raise UserError(f"{path} holds no vectors; a word2vec text file has one `word v1 ... vD` per line")
    scale = float(np.std(np.stack(list(rows.values())))) if rows else 0.1
    vectors = np.random.default_rng(0).normal(0.0, scale, (len(vocab), dim)).astype(np.float32)
    for i, row in rows.items():
        vectors[i] = row
    missing = len(vocab) - len(rows)
    return vectors, (
        f"embeddings: {len(rows):,} of {len(vocab):,} vocabulary entries found in {path.name} "
        f"({dim} dims); {missing:,} missing"
    )
