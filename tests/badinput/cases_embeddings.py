"""Bad vocabularies and pretrained vectors (`data.vocab=vocab.pkl`, `model.options.embeddings=X.npz`): a
vocab.pkl that is not a plain dict token -> id (a list, a set, a custom class, one whose loading would run
code), vectors whose rows or dimension disagree with the vocabulary or the model, broken .npz files."""

from __future__ import annotations

import os
import pickle
import sys
from pathlib import Path

import numpy as np

from badinput.harness import Case
from badinput.trainargs import train

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "data"))  # tests/data/text_files.py
import text_files  # noqa: E402


class Custom:
    """A vocabulary wrapped in a class of its own: refused by name, never built."""

    def __init__(self):
        self.vocab = {"a": 0}


class RunsCode:
    """Unpickled by the standard loader, this would write `marker`; the harness finds any file left."""

    def __init__(self, marker: Path):
        self.marker = str(marker)

    def __reduce__(self):
        return (os.system, (f"echo ran > {self.marker}",))


def _pickle(obj, protocol: int = pickle.DEFAULT_PROTOCOL) -> bytes:
    return pickle.dumps(obj, protocol=protocol)


def _data(folder: Path) -> tuple[Path, Path, Path]:
    """A THUCNews folder and the seed-format vocab.pkl + embedding_Test.npz (dim 8) beside it."""
    root = text_files.write_thucnews(folder / "thuc", sizes=(30, 6, 6))
    vocab, vectors = text_files.write_seed_vocab_and_vectors(root / "train.txt", folder / "emb")
    return root, vocab, vectors


def _run(folder: Path, root: Path, vocab: Path | None, vectors: Path | None, *extra) -> list[str]:
    sets = ["--set", "model.options.hidden=4"]
    if vocab is not None:
        sets += ["--set", f"data.vocab={vocab}"]
    if vectors is not None:
        sets += ["--set", f"model.options.embeddings={vectors}"]
    return train(folder, "--data", f"text:{root}", "--model", "textrnn", *sets, *extra)


def _bad_vocab(content) -> object:
    """A case whose vocab.pkl holds `content` (bytes, or a callable of the folder giving bytes)."""

    def build(folder):
        root, vocab, vectors = _data(folder)
        vocab.write_bytes(content(folder) if callable(content) else content)
        return _run(folder, root, vocab, vectors)

    return build


def _bad_vectors(array_or_bytes, *extra) -> object:
    def build(folder):
        root, vocab, vectors = _data(folder)
        if isinstance(array_or_bytes, bytes):
            vectors.write_bytes(array_or_bytes)
        else:
            np.savez_compressed(vectors, **array_or_bytes(vocab))
        return _run(folder, root, vocab, vectors, *extra)

    return build


def _rows(vocab: Path) -> int:
    return len(pickle.loads(vocab.read_bytes()))  # the test's own file, written just above


def _with_rows(value: float, count: int = 3, dtype=np.float32):
    """Vectors of the right shape whose first `count` rows hold `value` (NaN, inf, a float64 beyond float32)."""

    def arrays(vocab: Path) -> dict:
        vectors = np.ones((_rows(vocab), 8), dtype=dtype)
        vectors[:count, 2] = value
        return {"embeddings": vectors}

    return arrays


def _npy_as_npz(folder):
    root, vocab, vectors = _data(folder)
    with open(vectors, "wb") as f:
        np.save(f, np.zeros((_rows(vocab), 8), np.float32))
    return _run(folder, root, vocab, vectors)


def _word2vec_with_nan(folder):
    """A word2vec text file of the vocabulary's tokens, two of them NaN."""
    root, vocab, _vectors = _data(folder)
    tokens = [t for t in pickle.loads(vocab.read_bytes()) if not t.startswith("<")]  # the test's own file
    lines = [f"{t} {'nan' if i < 2 else '0.5'} 0.1 0.2\n" for i, t in enumerate(tokens)]
    text = folder / "w2v" / "vectors.txt"
    text.parent.mkdir()
    text.write_text("".join(lines), encoding="utf-8")
    return _run(folder, root, vocab, text)


def _without_vocab(folder):
    root, _vocab, vectors = _data(folder)
    return _run(folder, root, None, vectors)


CASES = [
    Case("vocab-a-list", _bad_vocab(_pickle(["a", "b"])), "holds a list, not a dict"),
    Case("vocab-a-set", _bad_vocab(_pickle({"a", "b"}, protocol=2)), "refused to unpickle"),
    Case("vocab-a-set-protocol-4", _bad_vocab(_pickle({"a", "b"}, protocol=4)), "refused to unpickle"),
    Case("vocab-a-custom-class", _bad_vocab(_pickle(Custom())), "names the Python object"),
    Case("vocab-runs-code", _bad_vocab(lambda f: _pickle(RunsCode(f / "marker"))), "refused to unpickle"),
    Case("vocab-not-str-to-int", _bad_vocab(_pickle({"a": 0, "b": "1"})), "not str -> int"),
    Case("vocab-int-keys", _bad_vocab(_pickle({0: 0, 1: 1})), "not str -> int"),
    Case("vocab-id-gaps", _bad_vocab(_pickle({"a": 0, "b": 5})), "the ids must be 0..1"),
    Case("vocab-empty-dict", _bad_vocab(_pickle({})), "empty dict"),
    Case("vocab-not-a-pickle", _bad_vocab(b"a\nb\nc\n"), "not a readable pickle"),
    Case(
        "vocab-missing",
        lambda f: _run(f, _data(f)[0], f / "none.pkl", None),
        "data.vocab",
    ),
    Case(
        "vectors-row-count",
        _bad_vectors(lambda v: {"embeddings": np.zeros((_rows(v) - 1, 8))}),
        "(data.vocab) holds",
    ),
    Case(
        "vectors-no-embeddings-array",
        _bad_vectors(lambda v: {"vectors": np.zeros((_rows(v), 8))}),
        "no array 'embeddings'",
    ),
    Case(
        "vectors-dim-not-embed",
        _bad_vectors(lambda v: {"embeddings": np.zeros((_rows(v), 8))}, "--set", "model.options.embed=16"),
        "model.options.embed = 16",
    ),
    Case(
        "vectors-one-dimensional",
        _bad_vectors(lambda v: {"embeddings": np.zeros(_rows(v))}),
        "has shape",
    ),
    Case("vectors-not-a-zip", _bad_vectors(b"not a zip file"), "is text, not an .npz archive"),
    Case(
        "vectors-object-array",
        _bad_vectors(lambda v: {"embeddings": np.array([object()] * _rows(v), dtype=object)}),
        "not a readable .npz",
    ),
    Case("vectors-without-their-vocab", _without_vocab, "--set data.vocab="),
    # issue 21: values that would poison training from its first step are refused before it
    Case(
        "vectors-nan-rows",
        _bad_vectors(_with_rows(np.nan)),
        "3 hold NaN (the first: row 0)",
    ),
    Case("vectors-inf-rows", _bad_vectors(_with_rows(np.inf, 1)), "1 holds inf"),
    Case(
        "vectors-beyond-float32",
        _bad_vectors(_with_rows(1e300, 2, np.float64)),
        "2 hold inf or a value beyond float32's range",
    ),
    Case("vectors-word2vec-nan", _word2vec_with_nan, "2 hold NaN (the first: line 1)"),
    Case("vectors-npy-named-npz", _npy_as_npz, "is a .npy array, not an .npz archive"),
]
