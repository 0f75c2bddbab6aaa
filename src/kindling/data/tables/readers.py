"""Reading a table file: CSV / TSV / Parquet by extension, delimiter and encoding detected.

The same rules serve training (`csv:FILE`) and prediction (`kindling predict RUN new.csv`), so a file that
trained a model can always be read back. Every failure is a one-line `UserError` that says what to pass.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pandas as pd

from kindling.errors import UserError

DELIMITERS = ",;\t|"
DELIMITER_NAMES = {",": "comma", ";": "semicolon", "\t": "tab", "|": "pipe"}
PARQUET_SUFFIXES = {".parquet", ".pq"}
SAMPLE_BYTES = 64 * 1024


def read_table(path: str | Path, encoding: str = "auto", delimiter: str = "auto") -> pd.DataFrame:
    """A table file -> DataFrame (at least one column and one row), or a UserError that says what to fix.

    `.parquet` is read with pyarrow; anything else is text: the encoding is UTF-8 (a BOM is honoured),
    else detected (charset-normalizer) and named in the error when it cannot be; the delimiter is
    sniffed among `, ; TAB |` (`.tsv` means TAB).
    """
    path = Path(path).expanduser()
    if not path.is_file():
        hint = "it is a folder; pass a file" if path.is_dir() else "check the path"
        raise UserError(f"table file {path} does not exist ({hint})")
    if path.suffix.lower() in PARQUET_SUFFIXES:
        frame = _read_parquet(path)
    else:
        raw = path.read_bytes()
        if not raw.strip():
            raise UserError(f"{path} is empty; a table needs a header line and at least one row")
        text, used = _decode(raw, path, encoding)
        sep = _delimiter(text, path, delimiter)
        frame = _parse(text, sep, path, chosen=delimiter not in (None, "auto"))
        frame.attrs.update(encoding=used, delimiter=DELIMITER_NAMES.get(sep, sep))
    _check_shape(frame, path)
    return frame


def _read_parquet(path: Path) -> pd.DataFrame:
    try:
        return pd.read_parquet(path)
    except ImportError as exc:
        raise UserError(
            f"{path}: reading Parquet needs pyarrow; `pip install pyarrow` or save the table as CSV"
        ) from exc
    except Exception as exc:  # pyarrow raises its own error types for a damaged file
        first = (str(exc).replace(f"'{path}'", "it").strip().splitlines() or ["unreadable"])[0][:120]
        raise UserError(
            f"{path} is not a readable Parquet file ({first}); re-export it or save it as CSV"
        ) from exc


def _decode(raw: bytes, path: Path, encoding: str) -> tuple[str, str]:
    """bytes -> (text, encoding used). UTF-8 first; other encodings only when detection is confident."""
    if encoding not in ("auto", "", None):
        try:
            return raw.decode(encoding), encoding
        except LookupError as exc:
            raise UserError(
                f"data.encoding '{encoding}' is not an encoding Python knows (e.g. utf-8, gbk, latin-1)"
            ) from exc
        except UnicodeDecodeError as exc:
            raise UserError(
                f"{path} is not valid {encoding} (byte {exc.start}); pass the right data.encoding"
            ) from exc
    if raw.startswith((b"\xff\xfe", b"\xfe\xff")):
        return raw.decode("utf-16"), "utf-16"
    try:
        return raw.decode("utf-8-sig"), "utf-8"
    except UnicodeDecodeError as exc:
        guess = _guess_encoding(raw)
        if guess is None:
            raise UserError(
                f"{path} is not UTF-8 (byte {exc.start}) and its encoding could not be detected; "
                "pass it with --set data.encoding=NAME (e.g. gbk, cp1252, latin-1) or save the file as UTF-8"
            ) from exc
        return raw.decode(guess), guess


def _guess_encoding(raw: bytes) -> str | None:
    try:
        from charset_normalizer import from_bytes
    except ImportError:  # optional: without it the error names the setting to pass
        return None
    best = from_bytes(raw[: SAMPLE_BYTES * 4]).best()
    if best is None or best.encoding in ("utf_8", "ascii"):
        return None
    try:
        raw.decode(best.encoding)
    except (UnicodeDecodeError, LookupError):
        return None
    return best.encoding


def _delimiter(text: str, path: Path, delimiter: str) -> str:
    if delimiter not in ("auto", "", None):
        return {"tab": "\t", "\\t": "\t", "comma": ",", "semicolon": ";", "pipe": "|"}.get(
            delimiter, delimiter
        )
    if path.suffix.lower() in (".tsv", ".tab"):
        return "\t"
    sample = text[:SAMPLE_BYTES]
    lines = [ln for ln in sample.splitlines() if ln.strip()][:200]
    if len(lines) > 1 and len(text) > SAMPLE_BYTES:
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


def _parse(text: str, sep: str, path: Path, chosen: bool = False) -> pd.DataFrame:
    """`chosen`: the user named the delimiter, so the advice to name it is not given again."""
    try:
        return pd.read_csv(io.StringIO(text), sep=sep, skipinitialspace=True, low_memory=False)
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
