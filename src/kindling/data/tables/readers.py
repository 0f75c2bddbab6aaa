"""Reading a table file: CSV / TSV / Parquet by extension, delimiter and encoding detected.

The same rules serve training (`csv:FILE`) and prediction (`kindling predict RUN new.csv`), so a file that
trained a model can always be read back. Every failure is a one-line `UserError` that says what to pass.
"""

from __future__ import annotations

import csv
from pathlib import Path

import pandas as pd

from kindling.errors import UserError
from kindling.util.fileio import NotDecodable, text_chunks, text_lines

DELIMITERS = ",;\t|"
DELIMITER_NAMES = {",": "comma", ";": "semicolon", "\t": "tab", "|": "pipe"}
PARQUET_SUFFIXES = {".parquet", ".pq"}
SAMPLE_BYTES = 64 * 1024
MAX_COLUMNS = 10_000  # wider tables are refused before they are parsed (README: Data)
BINARY_ADVICE = (
    "csv: takes a CSV/TSV text file or a .parquet file (UTF-16 text without a BOM: pass "
    "--set data.encoding=utf-16)"
)


def read_table(path: str | Path, encoding: str = "auto", delimiter: str = "auto") -> pd.DataFrame:
    """A table file -> DataFrame (at least one column and one row), or a UserError that says what to fix.

    `.parquet` is read with pyarrow; anything else is text: the encoding is UTF-8 (a BOM is honoured),
    else detected (charset-normalizer) and named in the error when it cannot be; the delimiter is
    sniffed among `, ; TAB |` (`.tsv` means TAB). The text is checked chunk by chunk before pandas
    parses it (kindling.util.fileio.text_chunks): binary content, a runaway line or more than MAX_COLUMNS
    columns is one line, at a cost bounded by the rows kept, not by the file's size.
    """
    path = Path(path).expanduser()
    if not path.is_file():
        hint = "it is a folder; pass a file" if path.is_dir() else "check the path"
        raise UserError(f"table file {path} does not exist ({hint})")
    if path.suffix.lower() in PARQUET_SUFFIXES:
        frame = _read_parquet(path)
    else:
        used, sample, more = _scan(path, encoding)
        sep = _delimiter(sample, more, path, delimiter)
        _check_width(path, sep, used)
        frame = _parse(path, sep, used, chosen=delimiter not in (None, "auto"))
        shown = "utf-8" if used == "utf-8-sig" else used
        frame.attrs.update(encoding=shown, delimiter=DELIMITER_NAMES.get(sep, sep))
    _check_shape(frame, path)
    return frame


def _read_parquet(path: Path) -> pd.DataFrame:
    try:
        import pyarrow.parquet as pq  # lazy: pyarrow

        columns = pq.read_metadata(path).num_columns  # the footer alone: refused before any column is read
        if columns > MAX_COLUMNS:
            raise UserError(_too_wide(path, columns))
        return pd.read_parquet(path)
    except UserError:
        raise
    except ImportError as exc:
        raise UserError(
            f"{path}: reading Parquet needs pyarrow; `pip install pyarrow` or save the table as CSV"
        ) from exc
    except Exception as exc:  # pyarrow raises its own error types for a damaged file
        first = (str(exc).replace(f"'{path}'", "it").strip().splitlines() or ["unreadable"])[0][:120]
        raise UserError(
            f"{path} is not a readable Parquet file ({first}); re-export it or save it as CSV"
        ) from exc


def _too_wide(path: Path, columns: int) -> str:
    return (
        f"{path} has {columns:,} columns; kindling reads tables of up to {MAX_COLUMNS:,} columns: select the "
        "columns that matter, or reduce them first (e.g. PCA) and save that table"
    )


def _scan(path: Path, encoding: str) -> tuple[str, str, bool]:
    """Read the file through once, checked -> (encoding, its first SAMPLE_BYTES characters, more than that).

    UTF-8 first (a BOM honoured); other encodings only when detection is confident."""
    if encoding not in ("auto", "", None):
        try:
            return _checked(path, encoding)
        except LookupError as exc:
            raise UserError(
                f"data.encoding '{encoding}' is not an encoding Python knows (e.g. utf-8, gbk, latin-1)"
            ) from exc
        except NotDecodable as exc:
            raise UserError(
                f"{path} is not valid {encoding} (byte {exc.offset}); pass the right data.encoding"
            ) from exc
    with open(path, "rb") as f:
        head = f.read(2)
    if head in (b"\xff\xfe", b"\xfe\xff"):
        return _checked(path, "utf-16")
    try:
        return _checked(path, "utf-8-sig")
    except NotDecodable as exc:
        guess = _guess_encoding(path)
        try:
            if guess is not None:
                return _checked(path, guess)
        except (NotDecodable, LookupError):  # a guess that does not hold for the whole file
            pass
        raise UserError(
            f"{path} is not UTF-8 (byte {exc.offset}) and its encoding could not be detected; "
            "pass it with --set data.encoding=NAME (e.g. gbk, cp1252, latin-1) or save the file as UTF-8"
        ) from exc


def _checked(path: Path, encoding: str) -> tuple[str, str, bool]:
    """(encoding, sample, more) once every chunk decoded and passed text_chunks' checks; kept: the sample."""
    sample, total, blank = "", 0, True
    for chunk in text_chunks(path, encoding, BINARY_ADVICE):
        if len(sample) < SAMPLE_BYTES:
            sample += chunk[: SAMPLE_BYTES - len(sample)]
        total += len(chunk)
        blank = blank and not chunk.strip()
    if blank:
        raise UserError(f"{path} is empty; a table needs a header line and at least one row")
    return encoding, sample, total > SAMPLE_BYTES


def _guess_encoding(path: Path) -> str | None:
    try:
        from charset_normalizer import from_bytes  # lazy: charset_normalizer
    except ImportError:  # optional: without it the error names the setting to pass
        return None
    with open(path, "rb") as f:
        head = f.read(SAMPLE_BYTES * 4)
    best = from_bytes(head).best()
    if best is None or best.encoding in ("utf_8", "ascii"):
        return None
    return best.encoding  # checked on the whole file by the caller


def _delimiter(sample: str, more: bool, path: Path, delimiter: str) -> str:
    """The delimiter named, or sniffed from the first SAMPLE_BYTES characters (`more`: the file goes on)."""
    if delimiter not in ("auto", "", None):
        return {"tab": "\t", "\\t": "\t", "comma": ",", "semicolon": ";", "pipe": "|"}.get(
            delimiter, delimiter
        )
    if path.suffix.lower() in (".tsv", ".tab"):
        return "\t"
    lines = [ln for ln in sample.splitlines() if ln.strip()][:200]
    if len(lines) > 1 and more:
        lines = lines[:-1]  # the last line of the sample may be cut in the middle
    widths = {d: {len(row) for row in csv.reader(lines, delimiter=d)} for d in DELIMITERS}
    consistent = [d for d, w in widths.items() if len(w) == 1 and min(w) > 1]
    if consistent:  # every line splits into the same number (> 1) of fields: take the widest such split
        return max(consistent, key=lambda d: min(widths[d]))
    present = [d for d in DELIMITERS if d in lines[0]] if lines else []
    if not present:
        return ","  # one column; the target check explains if that is wrong
    names = ", ".join(DELIMITER_NAMES[d] for d in present)
    raise UserError(
        f"{path}: cannot tell the delimiter (the lines do not split evenly on {names}); fix the ragged rows or "
        "pass it with --set data.delimiter=comma|semicolon|tab|pipe"
    )


def _check_width(path: Path, sep: str, encoding: str) -> None:
    """The header's fields are counted before pandas parses anything: a table of 100,000 columns took
    minutes and gigabytes to type and encode before training would even start."""
    lines = text_lines(path, encoding, BINARY_ADVICE)
    try:
        header = next(csv.reader(lines, delimiter=sep), [])
    except (csv.Error, TypeError):  # a malformed header, a delimiter of several characters: pandas words it
        return
    finally:
        lines.close()
    if len(header) > MAX_COLUMNS:
        raise UserError(_too_wide(path, len(header)))


def _parse(path: Path, sep: str, encoding: str, chosen: bool = False) -> pd.DataFrame:
    """`chosen`: the user named the delimiter, so the advice to name it is not given again."""
    try:
        return pd.read_csv(path, sep=sep, encoding=encoding, skipinitialspace=True, low_memory=False)
    except pd.errors.EmptyDataError as exc:
        raise UserError(f"{path} is empty; a table needs a header line and at least one row") from exc
    except pd.errors.ParserError as exc:
        first = str(exc).strip().splitlines()[0][:160]
        sep_name = DELIMITER_NAMES.get(sep, repr(sep))
        raise UserError(
            f"{path} is not a consistent {sep_name}-separated table ({first}); fix the rows"
            + ("" if chosen else " or pass --set data.delimiter=comma|semicolon|tab|pipe")
        ) from exc


def _check_shape(frame: pd.DataFrame, path: Path) -> None:
    if frame.shape[1] == 0:
        raise UserError(f"{path} has no columns; a table needs a header line and at least one row")
    if len(frame) == 0:
        raise UserError(
            f"{path} has a header but no rows ({', '.join(map(str, frame.columns[:8]))}); add data rows"
        )
    names = [str(c) for c in frame.columns]
    dupes = sorted({c[:-2] for c in names if c.endswith(".1") and c[:-2] in names})
    if dupes:
        raise UserError(f"{path}: duplicate column names ({', '.join(dupes)}); rename them")
    frame.columns = names
