"""Pretrained word vectors for the text models' embeddings: a .npz (key `embeddings`, rows in the order
of the vocabulary, as seed 003's `np.savez_compressed` writes them, mapped through `data.vocab`) or a
word2vec / GloVe text file mapped through the vocabulary; `read_vectors` gives (V, D) float32 rows.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from numpy.lib import format as npy

from kindling.data.text.vocabfile import rows_of
from kindling.errors import UserError
from kindling.util.fileio import text_lines


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
    rows = len(vocab) if vocab_file is None else int(vocab_file["size"])
    vectors = _load_npz(path, lambda shape: _check_rows(path, shape, rows, vocab_file))
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


def _check_rows(path: Path, shape: tuple, rows: int, vocab_file: dict | None) -> None:
    """One row per vocabulary entry, each a vector: read from the array's header, before its data."""
    if len(shape) == 2 and shape[0] == rows:
        return
    if vocab_file is not None:
        raise UserError(
            f"{path}: 'embeddings' has shape {list(shape)} but {Path(vocab_file['file']).name} "
            f"(data.vocab) holds {rows} tokens; give the vectors written with that vocabulary"
        )
    raise UserError(
        f"{path}: 'embeddings' has shape {list(shape)}; it must be [vocabulary size {rows}, dim] "
        "in vocabulary order (or give its vocab.pkl as data.vocab, or a word2vec text file)"
    )


def _load_npz(path: Path, check_shape) -> np.ndarray:
    """The 'embeddings' array of a .npz (never unpickled: object arrays are refused); `check_shape(shape)`
    sees its shape before its rows are read, and rows holding NaN or inf are refused."""
    _refuse_not_a_zip(path)
    try:
        with np.load(path, allow_pickle=False) as npz:
            if "embeddings" not in npz.files:
                raise UserError(
                    f"{path} has no array 'embeddings' (it has: {', '.join(npz.files) or 'nothing'})"
                )
            shape, dtype = _stored_header(npz)
            if dtype.hasobject:  # np.load would refuse it too, after reading every row
                raise UserError(
                    f"{path} is not a readable .npz of numbers ('embeddings' holds Python objects); "
                    "write it with np.savez_compressed(f, embeddings=array)"
                )
            check_shape(shape)
            with np.errstate(over="ignore"):  # float64 beyond float32's range becomes inf: refused below
                vectors = np.asarray(npz["embeddings"], dtype=np.float32)
    except UserError:
        raise
    except Exception as exc:  # a damaged member, an object array, text in the array ...
        raise UserError(
            f"{path} is not a readable .npz of numbers ({str(exc)[:80]}); "
            "write it with np.savez_compressed(f, embeddings=array)"
        ) from exc
    _refuse_non_finite(path, vectors)
    return vectors


def _refuse_not_a_zip(path: Path) -> None:
    """An .npz is a zip archive: anything else (a word2vec text file, a .npy array) is named for what it is,
    not left to np.load, which calls any non-zip, non-.npy bytes 'pickled data'."""
    with open(path, "rb") as f:
        head = f.read(4096)
    if head.startswith(b"PK"):
        return
    write = "write one with np.savez_compressed(f, embeddings=array)"
    if head.startswith(b"\x93NUMPY"):
        raise UserError(f"{path} is a .npy array, not an .npz archive; {write}")
    if head and b"\x00" not in head and head.decode("utf-8", errors="replace").count("\ufffd") <= 3:
        raise UserError(
            f"{path} is text, not an .npz archive; a word2vec/GloVe text file is read as such under "
            f"another suffix (e.g. {path.stem}.txt), or {write}"
        )
    raise UserError(f"{path} is not an .npz archive (it starts with {head[:8]!r}); {write}")


def _stored_header(npz) -> tuple[tuple, np.dtype]:
    """The shape and dtype in the 'embeddings' member's .npy header (its data is not read)."""

    with npz.zip.open("embeddings.npy") as f:
        version = npy.read_magic(f)
        read_header = npy.read_array_header_1_0 if version == (1, 0) else npy.read_array_header_2_0
        shape, _fortran, dtype = read_header(f)
    return tuple(shape), dtype


def _refuse_non_finite(path: Path, vectors: np.ndarray, lines: list[int] | None = None) -> None:
    """NaN or inf in a vector reaches the loss at the first step: refused here, by count of rows. `lines`:
    the file's line of each row (a word2vec file), to name where the first bad one is."""
    finite = np.isfinite(vectors).all(axis=1)
    if finite.all():
        return
    counts = (
        (int(np.isnan(vectors).any(axis=1).sum()), "NaN"),
        (int(np.isinf(vectors).any(axis=1).sum()), "inf or a value beyond float32's range"),
    )
    found = " and ".join(f"{n:,} hold{'s' if n == 1 else ''} {what}" for n, what in counts if n)
    first = int(np.flatnonzero(~finite)[0])
    where = f"line {lines[first]}" if lines else f"row {first}"
    raise UserError(
        f"{path}: of its {len(vectors):,} vectors, {found} (the first: {where}); they would make the loss NaN "
        "at the first step: replace them (e.g. with np.nan_to_num) and save the file again"
    )


def _vocab_beside(path: Path) -> bool:
    return (path.parent / "vocab.pkl").is_file()


def _read_word2vec(path: Path, vocab: list[str]) -> tuple[np.ndarray, str]:
    stoi = {w: i for i, w in enumerate(vocab)}
    rows: dict[int, np.ndarray] = {}
    where: dict[int, int] = {}  # row -> its line in the file
    dim = None
    advice = "a word2vec text file has one `word v1 ... vD` per line"
    for n, line in enumerate(text_lines(path, "utf-8", advice, errors="replace"), 1):
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
                with np.errstate(over="ignore"):  # beyond float32: inf, refused below
                    rows[i], where[i] = np.asarray(parts[1:], dtype=np.float32), n
            except ValueError as exc:
                raise UserError(f"{path}:{n}: not a number in the vector ({exc})") from exc
    if dim is None:
        raise UserError(f"{path} holds no vectors; a word2vec text file has one `word v1 ... vD` per line")
    found = np.stack(list(rows.values())) if rows else np.zeros((0, dim), np.float32)
    _refuse_non_finite(path, found, list(where.values()))
    scale = float(np.std(found)) if rows else 0.1
    vectors = np.random.default_rng(0).normal(0.0, scale, (len(vocab), dim)).astype(np.float32)
    for i, row in rows.items():
        vectors[i] = row
    missing = len(vocab) - len(rows)
    return vectors, (
        f"embeddings: {len(rows):,} of {len(vocab):,} vocabulary entries found in {path.name} "
        f"({dim} dims); {missing:,} missing"
    )
