"""Labelled text: `text:DIR` (THUCNews layout) and `text:FILE` (TSV / CSV / JSONL) -> token-id splits.

    kindling train --data text:THUCNews/data --model textrnn      # train.txt dev.txt test.txt class.txt
    kindling train --data text:sms.tsv --model bow                 # headerless label<TAB>text is detected

Everything fitted (tokeniser, vocabulary, pad size) comes from the train split only and is stored in
`Signature.extras` (keys `tokenizer`, `vocab`, `pad_size`; with `data.vocab=vocab.pkl` your own
vocabulary is used instead of fitting one, see `vocabfile`), so `encode_texts(sig, texts)` turns raw
strings into model input at prediction time without the training data.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from kindling.data.module import DataModule
from kindling.data.signature import Signature
from kindling.data.split import stratified_split
from kindling.data.text.read import Row, note, read_class_names, read_rows
from kindling.data.text.tokenize import (
    PAD_INDEX,
    UNK_INDEX,
    auto_pad_size,
    build_vocab,
    choose_tokenizer,
    encode,
    stoi_for,
    tokenize,
)
from kindling.data.text.vocabfile import read_vocab
from kindling.errors import UserError

__all__ = ["encode_texts", "text_source", "texts_module"]

_SPLIT_FILES = {
    "train": ["train.txt", "train.tsv"],
    "val": ["dev.txt", "val.txt", "valid.txt"],
    "test": ["test.txt"],
}


def encode_texts(sig: Signature, texts: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """Raw strings -> (ids int64 (N, pad_size), lengths int64 (N,)) with the Bundle's tokeniser and vocab.

    An empty (or all-unknown) text is not an error: it becomes one <UNK> token of length 1, and the
    model predicts from that, as it would for a text made only of words it never saw.
    """
    if sig.input_kind != "text":
        raise UserError(f"this model takes {sig.input_kind} input, not text")
    if isinstance(texts, str):
        texts = [texts]
    extras = sig.extras
    name = extras.get("tokenizer", "char")
    tokens = [tokenize(name, str(t)) for t in texts]
    return encode(tokens, stoi_for(extras["vocab"]), int(extras.get("pad_size") or sig.input_shape[0]))


# ---------------------------------------------------------------- the source


def text_source(cfg, fitted: Signature | None = None) -> DataModule:
    """labelled text: text:DIR (THUCNews train/dev/test.txt + class.txt) or text:FILE (.tsv/.csv/.jsonl)

    Read, label, split, tokenise, fit the vocabulary on train, encode. Notes what it chose on stderr.

    `fitted`: a trained model's Signature; its tokeniser, vocabulary, pad size and classes are used
    instead of fitting new ones, so data encoded for evaluation matches what the model learned.
    """
    import torch  # lazy: torch

    from kindling.data.memory import Split  # lazy: torch

    spec = cfg.name.split(":", 1)[1]
    files, layout, class_file = _locate(Path(spec).expanduser() if spec else None, cfg)
    rows = {part: _clean(read_rows(path, cfg, layout), cfg.skip_bad) for part, path in files.items() if path}
    class_names = list(fitted.class_names) if fitted else _class_names(cfg, class_file, rows)
    labels = {part: _label_ids(part_rows, class_names, class_file) for part, part_rows in rows.items()}
    rows, labels = _fill_splits(rows, labels, cfg)

    tok_name, vocab, pad, how, vocab_file = _fit(cfg, [r.text for r in rows["train"]], fitted)
    stoi = stoi_for(vocab)
    splits = {}
    for part, part_rows in rows.items():
        ids, lengths = encode([tokenize(tok_name, r.text) for r in part_rows], stoi, pad)
        y = torch.as_tensor(labels[part], dtype=torch.long)
        splits[part] = Split(
            torch.from_numpy(ids), y, [r.where for r in part_rows], torch.from_numpy(lengths)
        )
    note(f"{how}; {', '.join(f'{k} {len(v)}' for k, v in splits.items())}")
    extras = {
        "tokenizer": tok_name,
        "vocab": vocab,
        "pad_size": pad,
        "pad_index": PAD_INDEX,
        "unk_index": UNK_INDEX,
    }
    if vocab_file is not None:  # your data.vocab: the text models map embedding rows through it
        extras["vocab_file"] = vocab_file
    sig = Signature("classification", "text", [pad], class_names, extras=extras)
    return DataModule(sig, splits["train"], splits.get("val"), splits.get("test"), f"text: {spec}")


def texts_module(
    parts: dict, names: list[str], task: str, cfg, where: str, fitted: Signature | None
) -> DataModule:
    """Texts already read and labelled (a CSV's text column: kindling.data.tables.labelled) -> the
    DataModule, as text_source makes it. `parts`: {split: (texts, targets tensor, row names)}; the
    targets are class indices, or (N, K) 0/1 rows when `task` is multilabel."""
    import torch  # lazy: loads torch

    from kindling.data.memory import Split  # lazy: loads torch

    empty = next((n for texts, _, rows in parts.values() for t, n in zip(texts, rows) if not t.strip()), None)
    if empty is not None:
        raise UserError(f"{empty}: the text is empty; fill it or remove the row")
    tok_name, vocab, pad, how, vocab_file = _fit(cfg, parts["train"][0], fitted)
    stoi, splits = stoi_for(vocab), {}
    for part, (texts, y, rows) in parts.items():
        ids, lengths = encode([tokenize(tok_name, t) for t in texts], stoi, pad)
        splits[part] = Split(torch.from_numpy(ids), y, list(rows), torch.from_numpy(lengths))
    note(f"{how}; {', '.join(f'{k} {len(v)}' for k, v in splits.items())}")
    extras = {
        "tokenizer": tok_name,
        "vocab": vocab,
        "pad_size": pad,
        "pad_index": PAD_INDEX,
        "unk_index": UNK_INDEX,
    }
    if vocab_file is not None:
        extras["vocab_file"] = vocab_file
    sig = fitted or Signature(task, "text", [pad], list(names), extras=extras)
    return DataModule(sig, splits["train"], splits.get("val"), splits.get("test"), f"text: {where}")


def _fit(
    cfg, train_texts: list[str], fitted: Signature | None
) -> tuple[str, list[str], int, str, dict | None]:
    """(tokenizer, vocabulary, pad size, a line saying what was chosen, the data.vocab record or None)
    from train (or your data.vocab), or from `fitted`."""
    if fitted is not None:
        if fitted.input_kind != "text":
            raise UserError(f"this model takes {fitted.input_kind} input; text data does not fit it")
        ex = fitted.extras
        return (
            ex["tokenizer"],
            ex["vocab"],
            int(ex["pad_size"]),
            f"tokenizer {ex['tokenizer']} and vocabulary from the model",
            ex.get("vocab_file"),
        )
    tok_name, why = choose_tokenizer(cfg.tokenizer, train_texts)
    train_tokens = [tokenize(tok_name, t) for t in train_texts]
    if getattr(cfg, "vocab", None):
        vocab, record = read_vocab(cfg.vocab)
        said = _unknown_share(train_tokens, vocab, record)
    else:
        vocab, record = build_vocab(train_tokens, cfg.min_freq, cfg.max_size), None
        said = (
            f"vocabulary {len(vocab):,} tokens from train (min_freq {cfg.min_freq}, max_size {cfg.max_size})"
        )
    pad = cfg.pad_size if cfg.pad_size is not None else auto_pad_size(train_tokens)
    if pad < 1:
        raise UserError(f"data.pad_size must be at least 1, got {pad}")
    how = "" if cfg.pad_size is not None else " (95th percentile of train lengths)"
    return tok_name, vocab, pad, f"tokenizer {tok_name} ({why}), {said}, pad_size {pad}{how}", record


def _unknown_share(train_tokens: list[list[str]], vocab: list[str], record: dict) -> str:
    """Your vocabulary in the note: its size and the train tokens it lacks (they read as <UNK>)."""
    known = set(vocab)
    total = sum(len(toks) for toks in train_tokens)
    missing = [tok for toks in train_tokens for tok in toks if tok not in known]
    share = len(missing) / total if total else 0.0
    return (
        f"vocabulary {len(vocab):,} tokens from {Path(record['file']).name} (data.vocab; "
        f"{len(missing):,} train tokens, {share:.1%}, {len(set(missing)):,} distinct, are not in it: <UNK>)"
    )


def _locate(path: Path | None, cfg) -> tuple[dict[str, Path | None], str, Path | None]:
    """Split files (explicit data.train/val/test win), the layout, and the class-name file."""
    explicit = {
        p: Path(getattr(cfg, p)).expanduser() if getattr(cfg, p) else None for p in ("train", "val", "test")
    }
    class_file = Path(cfg.class_names).expanduser() if cfg.class_names else None
    if path is not None and path.is_dir():
        found = {
            p: next((path / n for n in names if (path / n).is_file()), None)
            for p, names in _SPLIT_FILES.items()
        }
        files = {p: explicit[p] or found[p] for p in found}
        if files["train"] is None:
            raise UserError(
                f"{path} has no train.txt; a THUCNews-layout folder holds train.txt, dev.txt, test.txt, class.txt"
            )
        if class_file is None and (path / "class.txt").is_file():
            class_file = path / "class.txt"
        return files, "thucnews", class_file
    if path is not None and not path.exists() and explicit["train"] is None:
        raise UserError(
            f"text source {path} does not exist; pass text:DIR (THUCNews layout) or text:FILE (.tsv/.csv/.jsonl)"
        )
    files = {"train": explicit["train"] or path, "val": explicit["val"], "test": explicit["test"]}
    if files["train"] is None:
        raise UserError("text: needs a file or folder (text:PATH) or data.train=FILE")
    return files, "auto", class_file


def _clean(rows: list[Row], skip_bad: bool) -> list[Row]:
    """Refuse (or with data.skip_bad, drop) rows whose text is empty: they carry nothing to learn from."""
    empty = [r for r in rows if not r.text.strip()]
    if empty and not skip_bad:
        raise UserError(
            f"{empty[0].where}: the text is empty; remove the line or pass --set data.skip_bad=true"
        )
    if empty:
        note(f"skipped {len(empty)} rows with empty text")
    return [r for r in rows if r.text.strip()]


def _class_names(cfg, class_file: Path | None, rows: dict[str, list[Row]]) -> list[str]:
    if class_file is not None:
        names = read_class_names(class_file, cfg.encoding)
        if not names:
            raise UserError(f"{class_file} names no classes; give one class name per line")
        return _two_or_more(names, str(class_file))
    seen = {r.label for part in rows.values() for r in part}
    if all(s.lstrip("-").isdigit() for s in seen):
        return _two_or_more([str(v) for v in sorted({int(s) for s in seen})], cfg.name)
    return _two_or_more(sorted(seen), cfg.name)


def _two_or_more(names: list[str], where: str) -> list[str]:
    """A classifier of one class learns nothing (it scored "acc 1.0000"); tables and folders refuse it too."""
    if not names:
        raise UserError(
            f"{where}: no labelled rows; give `label<TAB>text` lines or a CSV with a label column"
        )
    if len(names) < 2:
        raise UserError(
            f"{where}: the labels hold a single class ({names[0][:40]!r}); classification needs at least two"
        )
    return names


def _label_ids(rows: list[Row], class_names: list[str], class_file: Path | None) -> list[int]:
    """Labels as names (looked up) or, with a class file, as ids 0..n-1."""
    index = {name: i for i, name in enumerate(class_names)}
    out = []
    for r in rows:
        i = index.get(r.label)
        if i is None and class_file is not None and r.label.isdigit() and int(r.label) < len(class_names):
            i = int(r.label)
        if i is None:
            where = (
                f"{class_file} ({len(class_names)} classes, ids 0..{len(class_names) - 1})"
                if class_file
                else "the data"
            )
            raise UserError(
                f"{r.where}: label '{r.label}' is not a class in {where}; fix the line or the class list"
            )
        out.append(i)
    return out


def _fill_splits(rows: dict, labels: dict, cfg) -> tuple[dict, dict]:
    """Carve the missing val / test splits from train: seeded and stratified, the same on every run."""

    missing = [p for p in ("test", "val") if p not in rows]
    fractions = {"test": cfg.test_fraction, "val": cfg.val_fraction}
    for part in missing:
        train_rows, train_y = rows["train"], np.asarray(labels["train"])
        seed = cfg.split_seed + (1 if part == "val" else 0)
        taken, kept = stratified_split(train_y, [fractions[part]], seed)
        if fractions[part] > 0 and len(taken):
            rows[part], labels[part] = [train_rows[i] for i in taken], train_y[taken].tolist()
            rows["train"], labels["train"] = [train_rows[i] for i in kept], train_y[kept].tolist()
    if not rows["train"]:
        raise UserError(
            "the text data has no training rows left; give more rows or lower data.val_fraction / test_fraction"
        )
    for part in ("val", "test"):
        if part in rows and not rows[part]:
            del rows[part], labels[part]
    return rows, labels
