"""Reading labelled text files into rows: (text, label string, "file:line").

Formats, by suffix: `.jsonl`/`.json` (one object per line), `.csv` (header or headerless), anything else
is tab-separated (`.tsv`, `.txt`, no suffix). Every mistake names the file and line and says what to do.

A headerless two-column file is read without any flags: the column with fewer distinct values is the
label (so THUCNews `title<TAB>label_id` and SMS Spam `label<TAB>text` both just work), and the choice is
printed. Columns can always be named explicitly: `data.text_col` / `data.label_col` take a header name
or a 0-based column number.
"""

from __future__ import annotations

import csv
import io
import json
import re
from dataclasses import dataclass
from pathlib import Path

from kindling.data import note as data_note
from kindling.errors import UserError
from kindling.util.fileio import NotDecodable, read_text_checked

_CJK = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff]")


def note(message: str) -> None:
    """What the source chose or skipped (see kindling.data.note)."""

    data_note(f"text: {message}")


@dataclass
class Row:
    text: str
    label: str
    where: str  # "file:line", for error messages and Split.names


def read_text(path: Path, encoding: str) -> str:
    """Decode a whole file; invalid bytes name the file, line and byte offset (and spot GBK files).

    Read chunk by chunk (kindling.util.fileio.text_chunks): binary content (a NUL byte) or a runaway line is
    refused where it appears, so memory follows the text kept, not the file's size."""
    if not path.is_file():
        hint = " (it is a folder; name a file in it)" if path.is_dir() else ""
        raise UserError(f"text file {path} does not exist{hint}")
    advice = "a text data file holds one sample per line (or give the THUCNews folder)"
    try:
        text = read_text_checked(path, encoding, advice)
    except LookupError as exc:
        raise UserError(
            f"data.encoding '{encoding}' is not a known text encoding (try utf-8, gbk, latin-1)"
        ) from exc
    except NotDecodable as exc:
        hint = "fix the file or pass its encoding with --set data.encoding=NAME (e.g. gbk, latin-1)"
        if encoding.lower().replace("-", "").replace("_", "") != "gbk" and _looks_gbk(_head(path)):
            hint = "the file looks GBK-encoded (Chinese Windows); pass --set data.encoding=gbk"
        raise UserError(
            f"{path}: line {exc.line}, byte offset {exc.offset}: invalid {encoding} bytes {exc.bad!r}; {hint}"
        ) from exc
    return text[1:] if text.startswith("\ufeff") else text


def _head(path: Path, size: int = 1 << 20) -> bytes:
    """The first `size` bytes: enough to tell a GBK file."""
    with open(path, "rb") as f:
        return f.read(size)


def _looks_gbk(raw: bytes) -> bool:
    for cut in range(4):  # the head of a file may end inside a character
        try:
            text = raw[: len(raw) - cut].decode("gb18030")
            break
        except UnicodeDecodeError:
            continue
    else:
        return False
    non_ascii = [c for c in text if ord(c) > 127]
    return bool(non_ascii) and sum(1 for c in non_ascii if _CJK.match(c)) >= 0.5 * len(non_ascii)


def _lines(text: str) -> list[tuple[int, str]]:
    """(1-based line number, line) for non-blank lines; '\\r\\n' endings accepted."""
    return [(n, ln.rstrip("\r")) for n, ln in enumerate(text.split("\n"), 1) if ln.strip()]


def read_rows(path: Path, cfg, layout: str = "auto") -> list[Row]:
    """Rows of one file. layout 'thucnews' fixes `text<TAB>label`; 'auto' reads by suffix and header."""
    text = read_text(path, cfg.encoding)
    suffix = path.suffix.lower()
    if layout == "thucnews" and suffix in (".txt", ""):
        return _tsv_fixed(path, _lines(text), text_first=True, skip_bad=cfg.skip_bad)
    if suffix in (".jsonl", ".json"):
        return _jsonl(path, text, cfg)
    if suffix == ".csv":
        records = [(n, rec) for n, rec in _csv_records(path, text) if any(f.strip() for f in rec)]
        return _table(path, records, cfg, "comma")
    return _tsv(path, _lines(text), cfg)


def _jsonl(path: Path, text: str, cfg) -> list[Row]:
    rows = []
    for n, line in _lines(text):
        where = f"{path}:{n}"
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as exc:
            raise UserError(
                f"{where}: invalid JSON ({exc.msg} at column {exc.colno}); one JSON object per line"
            ) from exc
        if not isinstance(obj, dict):
            raise UserError(
                f'{where}: expected a JSON object like {{"text": ..., "label": ...}}, got {type(obj).__name__}'
            )
        missing = [k for k in (cfg.text_col, cfg.label_col) if k not in obj]
        if missing:
            keys = ", ".join(map(str, obj))
            raise UserError(
                f"{where}: no key '{missing[0]}' (keys: {keys}); choose with --set data.text_col=KEY / data.label_col=KEY"
            )
        label = obj[cfg.label_col]
        if isinstance(label, float) and label.is_integer():
            label = int(label)
        rows.append(Row(str(obj[cfg.text_col] or ""), str(label), where))
    return rows


def _csv_records(path: Path, text: str) -> list[tuple[int, list[str]]]:
    reader = csv.reader(io.StringIO(text, newline=""))
    out = []
    try:
        for rec in reader:
            out.append((reader.line_num, rec))
    except csv.Error as exc:
        raise UserError(f"{path}:{reader.line_num}: malformed CSV ({exc}); check the quoting") from exc
    return out


def _tsv(path: Path, lines: list[tuple[int, str]], cfg) -> list[Row]:
    if not lines:
        return []
    first = lines[0][1].split("\t")
    if _is_header(first, cfg) or _named_columns(cfg) or len(first) > 2:
        return _table(path, [(n, ln.split("\t")) for n, ln in lines], cfg, "tab")
    # headerless two columns: the label is whichever end has fewer distinct values
    firsts = [ln.split("\t", 1)[0] for _, ln in lines if "\t" in ln]
    lasts = [ln.rsplit("\t", 1)[-1] for _, ln in lines if "\t" in ln]
    text_first = len(set(lasts)) <= len(set(firsts))
    order = "text<TAB>label" if text_first else "label<TAB>text"
    note(f"{path.name} has no header; reading it as {order} (the label column has fewer distinct values)")
    if _looks_like_header(lasts if text_first else firsts, path):
        lines = lines[1:]
    return _tsv_fixed(path, lines, text_first, cfg.skip_bad)


def _named_columns(cfg) -> bool:
    """True when the user chose columns (names other than the defaults, or numbers)."""
    return (cfg.text_col, cfg.label_col) != ("text", "label")


def _looks_like_header(labels: list[str], path: Path) -> bool:
    """A first 'label' seen nowhere else in a longer file is a header line (e.g. `category,sentence`)."""
    if len(labels) > 3 and labels[0] not in labels[1:]:
        note(
            f"the first line of {path.name} looks like a header ('{labels[0]}' is no other row's label); skipped"
        )
        return True
    return False


def _tsv_fixed(path: Path, lines: list[tuple[int, str]], text_first: bool, skip_bad: bool) -> list[Row]:
    rows, skipped = [], 0
    for n, line in lines:
        if "\t" not in line:
            if skip_bad:
                skipped += 1
                continue
            layout = "text<TAB>label" if text_first else "label<TAB>text"
            raise UserError(
                f"{path}:{n}: no tab in this line; each line must be {layout} (or pass --set data.skip_bad=true)"
            )
        if text_first:
            text, label = line.rsplit("\t", 1)
        else:
            label, text = line.split("\t", 1)
        rows.append(Row(text, label.strip(), f"{path}:{n}"))
    if skipped:
        note(f"skipped {skipped} lines without a tab in {path.name}")
    return rows


def _is_index(col: str) -> bool:
    return str(col).isdigit()


def _is_header(fields: list[str], cfg) -> bool:
    names = [f.strip() for f in fields]
    return cfg.text_col in names and cfg.label_col in names


def _table(path: Path, records: list[tuple[int, list[str]]], cfg, sep: str) -> list[Row]:
    """Rows of a delimited file with a header naming the columns, or numbered columns."""
    if not records:
        return []
    first = [f.strip() for f in records[0][1]]
    if _is_header(first, cfg):
        t_idx, l_idx, body = first.index(cfg.text_col), first.index(cfg.label_col), records[1:]
    elif _is_index(cfg.text_col) and _is_index(cfg.label_col):
        t_idx, l_idx, body = int(cfg.text_col), int(cfg.label_col), records
    elif len(first) == 2 and not _named_columns(cfg):
        return _two_columns(path, records, sep)
    else:
        raise UserError(
            f"{path}: the first line has no columns named '{cfg.text_col}' and '{cfg.label_col}' (it has: "
            f"{', '.join(first[:8])}); pass --set data.text_col=NAME --set data.label_col=NAME (or column numbers)"
        )
    need = max(t_idx, l_idx) + 1
    rows = []
    for n, rec in body:
        if len(rec) < need:
            if cfg.skip_bad:
                continue
            raise UserError(
                f"{path}:{n}: {len(rec)} {sep}-separated fields, expected at least {need}; fix the line"
            )
        rows.append(Row(rec[t_idx], rec[l_idx].strip(), f"{path}:{n}"))
    return rows


def _two_columns(path: Path, records: list[tuple[int, list[str]]], sep: str) -> list[Row]:
    """A headerless two-column CSV: the label is the column with fewer distinct values."""
    firsts = {r[0] for _, r in records if len(r) == 2}
    lasts = {r[1] for _, r in records if len(r) == 2}  # sets: only their sizes matter
    l_idx = 1 if len(lasts) <= len(firsts) else 0
    note(f"{path.name} has no header; column {l_idx + 1} is the label (fewer distinct values)")
    if _looks_like_header([r[l_idx] for _, r in records if len(r) == 2], path):
        records = records[1:]
    rows = []
    for n, rec in records:
        if len(rec) != 2:
            raise UserError(
                f"{path}:{n}: {len(rec)} {sep}-separated fields, expected 2 (text and label); quote the text"
            )
        rows.append(Row(rec[1 - l_idx], rec[l_idx].strip(), f"{path}:{n}"))
    return rows


def read_class_names(path: Path, encoding: str) -> list[str]:
    """Class names from a file: one per line (THUCNews class.txt), a JSON list, or a JSON {id: name} map."""
    text = read_text(path, encoding).strip()
    if text.startswith(("[", "{")):
        try:
            obj = json.loads(text)
        except json.JSONDecodeError as exc:
            raise UserError(
                f"{path}: invalid JSON ({exc.msg}); give one class name per line or a JSON list"
            ) from exc
        if isinstance(obj, dict):
            try:
                return [str(obj[k]) for k in sorted(obj, key=int)]
            except ValueError as exc:
                raise UserError(
                    f'{path}: a JSON class map needs integer ids as keys, like {{"0": "sports"}}'
                ) from exc
        return [str(v) for v in obj]
    names = [ln.strip() for ln in text.split("\n") if ln.strip()]
    if len(set(names)) != len(names):
        dup = next(n for n in names if names.count(n) > 1)
        raise UserError(f"{path}: class name '{dup}' appears twice; each line must name a different class")
    return names
