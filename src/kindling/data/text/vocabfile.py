"""Your own vocabulary (`data.vocab=vocab.pkl`): the seed TextRNN lesson's pickled dict token -> id.

The lesson writes `vocab_dic = {token: id}` with `<UNK>` and `<PAD>` as its last two entries
(`pkl.dump(vocab_dic, f)`), and its `embedding_*.npz` holds one row per id, in id order. kindling keeps
`<PAD>` = 0 and `<UNK>` = 1 (the text models pad with 0), so the vocabulary is re-indexed: `<PAD>`,
`<UNK>`, then the other tokens in the order of their ids. `Signature.extras["vocab_file"]` records how
kindling's ids map back to the file's rows, so the text models can take the matching embedding rows
(`rows_of`), and predict/serve use the re-indexed vocabulary like any fitted one.
"""

from __future__ import annotations

from pathlib import Path

from kindling.data.text.tokenize import PAD, UNK
from kindling.errors import UserError
from kindling.util import safepickle


def read_vocab(path: str) -> tuple[list[str], dict]:
    """(kindling's vocabulary list, the record for `extras["vocab_file"]`) from a pickled dict token -> id."""
    where = Path(path).expanduser()
    vocab = safepickle.load(where)
    if not isinstance(vocab, dict):
        raise UserError(
            f"{where} holds a {type(vocab).__name__}, not a dict token -> id; "
            "data.vocab takes the seed's vocab.pkl (pkl.dump of a dict)"
        )
    if not vocab:
        raise UserError(f"{where} is an empty dict; data.vocab needs at least one token -> id")
    bad = next(((k, v) for k, v in vocab.items() if not isinstance(k, str) or type(v) is not int), None)
    if bad is not None:
        raise UserError(
            f"{where}: the entry {bad[0]!r}: {bad[1]!r} is not str -> int; data.vocab takes a dict token -> id"
        )
    n = len(vocab)
    if sorted(vocab.values()) != list(range(n)):
        raise UserError(
            f"{where}: the ids must be 0..{n - 1}, each once (the rows of the embeddings file); "
            f"they run {min(vocab.values())}..{max(vocab.values())} with repeats or gaps"
        )
    others = sorted((t for t in vocab if t not in (PAD, UNK)), key=vocab.__getitem__)
    record = {"file": str(path), "size": n, "pad_row": vocab.get(PAD), "unk_row": vocab.get(UNK)}
    return [PAD, UNK, *others], record


def rows_of(record: dict) -> list[int]:
    """The file's row for each kindling id, -1 for `<PAD>`/`<UNK>` when the file's dict lacks them."""
    special = [record.get("pad_row"), record.get("unk_row")]
    taken = {r for r in special if r is not None}
    return [-1 if r is None else int(r) for r in special] + [
        r for r in range(int(record["size"])) if r not in taken
    ]
