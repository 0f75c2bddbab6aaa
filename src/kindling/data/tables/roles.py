"""The role of a column of strings, decided from its values: tables as people keep them.

A downloaded table mixes numbers with markers ('?', '-'), codes ('F.C. 12750', 'C85'), identifiers and
free text (names, comments). Each column gets the first reading below that fits it:

- cells with no letter or digit ('?', '-', '.') beside values that have some: missing cells (imputed with
  a flag, as any missing cell);
- numbers with a few stray words (at most STRAY_SHARE of the cells, in a column of many distinct
  numbers): numbers, those cells read as missing;
- few distinct values (at most MAX_ONEHOT) that repeat (values seen twice or more fill REPEAT_SHARE of the
  rows): categories, one-hot (or embeddings with data.categorical=embed);
- free text (a median of TEXT_WORDS words of two letters or more a cell, or TEXT_CHARS characters:
  names, comments; not codes such as 'C23 C25' or 'PC 17599'): word features, one 0/1 column for each of
  the MAX_WORDS words found in the most rows (in MIN_WORD_ROWS rows and 1% of them at least); left out
  when no word is that common;
- a distinct value in almost every row (ID_SHARE): an identifier, left out;
- codes that rarely repeat (values seen twice or more fill less than REPEAT_SHARE of the rows): left out;
- more distinct codes than MAX_ONEHOT that repeat: the MAX_ONEHOT most frequent one-hot, the rest read
  as unknown (every code embedded with data.categorical=embed).

`data.keep` (--keep) uses a column that would be left out: an identifier or rare codes as categories,
free text as the words of two rows or more (as categories when no word is found twice); `data.drop` (--drop) leaves out any column. The encoders
(`kindling.data.tables.encoders`) refit the category lists and the words on the training rows.
"""

from __future__ import annotations

import re
import shlex

import pandas as pd

MAX_ONEHOT = 50  # categories one-hot encoded at most; more: the most frequent, or embeddings
MAX_EMBED = 100_000
ID_SHARE = 0.9  # a distinct value in this share of the rows: an identifier
REPEAT_SHARE = 0.5  # codes are categories when values seen twice or more fill this share of the rows
STRAY_SHARE = 0.05  # stray words in a column of numbers, read as missing, at most
TEXT_WORDS = 2  # free text: a median of this many words a cell ...
TEXT_CHARS = 25  # ... or of this many characters (a language written without spaces)
MAX_WORDS = 30  # word features of a free-text column, at most
MIN_WORD_ROWS = 5  # a word becomes a feature when it is found in this many rows (and 1% of them)
# a word: two letters or more ('Braund, Mr. Owen' -> braund, mr, owen; 'PC 17599' -> pc; 'C85' -> none)
WORD = re.compile(r"[^\W\d_]{2,}")


def numbers_in(values: pd.Series) -> tuple[str, int] | None:
    """(handling, cells read as missing) of numbers with a few stray words (at most STRAY_SHARE of the
    cells, in a column of many distinct numbers), else None. Markers ('?') are already left out."""
    head = pd.to_numeric(values.iloc[:1000], errors="coerce")
    if head.notna().mean() < 0.25:  # clearly text: skip parsing every cell as a number
        return None
    numbers = pd.to_numeric(values, errors="coerce")
    found = int(numbers.notna().sum())
    if found < len(values) / 2:
        return None
    other = values[numbers.isna()]
    measure = numbers.nunique() > MAX_ONEHOT or numbers.nunique() >= 0.5 * found
    if len(other) and (len(other) > STRAY_SHARE * len(values) or not measure):
        return None  # codes among numbers ('PC 17599' beside '113803'): read as strings
    if other.empty:
        return "standardised", 0
    shown = ", ".join(sorted(map(repr, other.unique()[:3])))
    return f"standardised; {len(other):,} cell(s) not a number ({shown}) read as missing", len(other)


def type_codes(
    values: pd.Series, name: str, categorical: str, keep: bool, n_rows: int
) -> tuple[str, str, dict]:
    """Non-missing stripped strings of one column of `n_rows` rows (neither numbers, dates nor one
    value) -> (kind, handling, options): the encoder's kind (category, embed, text or dropped), what
    happens in words, and the encoder's options."""
    counts = values.value_counts()
    distinct, rows = len(counts), len(values)
    repeated = float(counts[counts >= 2].sum()) / rows  # share of rows whose value is seen again
    filled = f"{distinct:,} distinct in {rows:,} rows" + (" with a value" if rows < n_rows else "")
    keep_it = f"; --keep {shlex.quote(name)} uses it"
    if distinct <= MAX_ONEHOT and repeated >= REPEAT_SHARE:
        return _categories(distinct, categorical)
    if _is_text(values):
        return _words(values, name, keep)
    if distinct >= ID_SHARE * n_rows and rows >= 20 and not keep:  # a value in each row, each its own
        return "dropped", f"dropped: ID-like ({filled}{keep_it})", {}
    if repeated < REPEAT_SHARE and not keep:
        return (
            "dropped",
            f"dropped: codes that rarely repeat ({filled}{keep_it})",
            {},
        )
    if categorical == "embed" and distinct <= MAX_EMBED:
        return _categories(distinct, categorical)
    if distinct <= MAX_ONEHOT:
        return "category", f"one-hot ({distinct} categories)", {}
    return (
        "category",
        f"one-hot (the {MAX_ONEHOT} most frequent of {distinct:,} codes; --categorical embed for all)",
        {"top": MAX_ONEHOT, "min_count": 1 if keep else 2},
    )


def _categories(distinct: int, categorical: str) -> tuple:
    if categorical == "embed":
        return "embed", f"embedding ({distinct} categories)", {}
    return "category", f"one-hot ({distinct} categories)", {}


def _is_text(values: pd.Series) -> bool:
    """Words (of two letters or more) in most cells: names, comments; not codes ('C23 C25', 'A/5 2117')."""
    sample = values.iloc[:2000]
    words = sample.str.count(WORD.pattern).median()
    return bool(words >= TEXT_WORDS or sample.str.len().median() >= TEXT_CHARS)


def min_word_rows(rows: int) -> int:
    return max(MIN_WORD_ROWS, rows // 100)


def frequent_words(values: pd.Series, min_rows: int, limit: int = MAX_WORDS) -> list[str]:
    """The `limit` words found in the most cells (in `min_rows` cells at least), most common first."""
    words = values.astype(str).str.lower().str.findall(WORD.pattern)
    rows = words.map(lambda found: sorted(set(found))).explode().dropna()
    counts = rows.value_counts()
    counts = counts[counts >= min_rows]
    ranked = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
    return [word for word, _ in ranked[:limit]]


def _words(values: pd.Series, name: str, keep: bool) -> tuple:
    min_rows = 2 if keep else min_word_rows(len(values))
    found = frequent_words(values, min_rows)
    if not found and keep:  # no word is seen twice: each text as a category, as for codes
        distinct = values.nunique()
        top = (
            f"the {MAX_ONEHOT} most frequent of {distinct:,} texts"
            if distinct > MAX_ONEHOT
            else f"{distinct} texts"
        )
        return "category", f"one-hot ({top})", {"top": MAX_ONEHOT, "min_count": 1}
    if not found:
        return (
            "dropped",
            f"dropped: free text, no word in {min_rows} rows (--keep {shlex.quote(name)} uses it)",
            {},
        )
    shown = ", ".join(found[:4]) + (", ..." if len(found) > 4 else "")
    return "text", f"free text: {len(found)} frequent words ({shown})", {"min_rows": min_rows}
