"""Atomic writes, the one safe loader, and the checked reader of text files.

Every file kindling writes goes through `atomic_write_bytes`: a temp file in the same folder, fsync,
then `os.replace`, so a reader (or a crash) sees the old file or the new one, never half of one.
Every checkpoint a user hands over is read through `load_checkpoint`, which never unpickles code.
Every text file a user hands over (tables, text data, annotation files, word vectors, recipes) is read
through `text_chunks`, which refuses binary content and runaway lines at the chunk where they appear, so
memory grows with the text kept, never with the size of the file.
"""

from __future__ import annotations

import codecs
import io
import json
import math
import os
import pickle
import tempfile
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from kindling.errors import UserError

_UMASK = os.umask(0o022)
os.umask(_UMASK)  # read the process umask once (os.umask can only be read by setting it)


def atomic_write_bytes(path: str | Path, data: bytes) -> Path:
    """Write `data` to `path` atomically. On any failure (disk full, interrupt) the old file stays."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        os.fchmod(fd, 0o666 & ~_UMASK)  # mkstemp makes 0600; give the mode a plain open() would
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException as exc:
        Path(tmp).unlink(missing_ok=True)
        if isinstance(exc, OSError) and exc.errno == 28:  # ENOSPC
            raise UserError(
                f"no space left on the device while writing {path}; the previous file is intact"
            ) from exc
        raise
    return path


def atomic_write_text(path: str | Path, text: str) -> Path:
    return atomic_write_bytes(path, text.encode("utf-8"))


def atomic_write_json(path: str | Path, obj: Any) -> Path:
    return atomic_write_text(path, json.dumps(obj, indent=2, sort_keys=False, default=str) + "\n")


def finite(value) -> tuple[object, bool]:
    """(value with every non-finite float replaced by None, whether any was): for strict JSON."""
    if isinstance(value, float):
        return (value, False) if math.isfinite(value) else (None, True)
    if isinstance(value, dict):
        pairs = {key: finite(item) for key, item in value.items()}
        return {key: item for key, (item, _) in pairs.items()}, any(bad for _, bad in pairs.values())
    if isinstance(value, list):
        items = [finite(item) for item in value]
        return [item for item, _ in items], any(bad for _, bad in items)
    return value, False


def atomic_torch_save(obj: Any, path: str | Path) -> Path:
    """`torch.save` through an in-memory buffer, then an atomic write."""
    import torch  # lazy: torch

    buf = io.BytesIO()
    torch.save(obj, buf)
    return atomic_write_bytes(path, buf.getvalue())


def load_checkpoint(path: str | Path) -> dict:
    """Load a checkpoint with `weights_only=True`: plain tensors, numbers, strings and containers only.

    A file that would need unpickling of arbitrary objects is refused, never executed.
    """

    import torch  # lazy: torch

    path = Path(path)
    if not path.is_file():
        raise UserError(f"checkpoint {path} does not exist; train first or pass the right run directory")

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # torch warns about odd pickle protocols in damaged files
            obj = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:  # torch's own message is a page of advice on loading unsafely
        raise UserError(
            f"{path} is not a safe kindling checkpoint (refused to unpickle it: it holds more than plain "
            "tensors and numbers); use a checkpoint written by kindling"
        ) from exc
    except Exception as exc:  # the weights-only unpickler raises many types on damaged bytes
        first = (str(exc).strip().splitlines() or ["unreadable"])[0]
        first = first if len(first) <= 120 else first[:120].rsplit(" ", 1)[0] + " ..."
        raise UserError(
            f"checkpoint {path} is truncated or corrupt ({first}); resume from another run or retrain"
        ) from exc
    if not isinstance(obj, dict) or obj.get("format") != "kindling-checkpoint":
        raise UserError(
            f"{path} is not a kindling checkpoint; pass a run directory written by `kindling train`"
        )
    return obj


CHUNK_BYTES = 1 << 20  # read and checked at a time
MAX_LINE_CHARS = 16 << 20  # a longer "line" is not a line a person or a program wrote as text


class NotDecodable(ValueError):
    """Bytes that are not valid in `encoding`, and where: each caller words its own advice."""

    def __init__(self, encoding: str, offset: int, line: int, bad: bytes):
        super().__init__(f"invalid {encoding} bytes {bad!r} at byte {offset} (line {line})")
        self.encoding, self.offset, self.line, self.bad = encoding, offset, line, bad


def text_chunks(
    path: str | Path,
    encoding: str = "utf-8",
    advice: str = "give a text file",
    errors: str = "strict",
    max_line: int = MAX_LINE_CHARS,
) -> Iterator[str]:
    """The decoded text of a file, one chunk at a time, checked as it is read.

    A NUL character (binary data: an image, an archive, a file padded with zeros) or a line longer than
    `max_line` characters is a UserError naming the file, the line and `advice`, raised at the chunk
    where it appears: a 2 GiB file of zeros costs one chunk, not 2 GiB. Bytes invalid in `encoding`
    raise NotDecodable (with the byte offset); an unknown encoding raises LookupError.
    """
    decoder = codecs.getincrementaldecoder(encoding)(errors)
    offset, line, run = 0, 1, 0  # bytes read, the line the chunk starts on, characters since the last \n
    with open(path, "rb") as f:
        while True:
            raw = f.read(CHUNK_BYTES)
            held = len(decoder.getstate()[0])  # bytes of a character cut by the last chunk
            try:
                text = decoder.decode(raw, final=not raw)
            except UnicodeDecodeError as exc:
                at = line + exc.object.count(b"\n", 0, exc.start)
                bad = bytes(exc.object[exc.start : exc.start + 4])
                raise NotDecodable(encoding, offset - held + exc.start, at, bad) from None
            offset += len(raw)
            if "\x00" in text:
                at = line + text.count("\n", 0, text.index("\x00"))
                raise UserError(f"{path}: line {at} holds a NUL byte: binary data, not text; {advice}")
            run = _line_run(path, text, run, line, max_line, advice)
            line += text.count("\n")
            if text:
                yield text
            if not raw:
                return


def _line_run(path, text: str, run: int, line: int, max_line: int, advice: str) -> int:
    """The characters since the last line break after `text`; a line past `max_line` is refused."""
    if run + len(text) > max_line:  # only then can a line in this chunk be too long
        pieces = text.split("\n")
        lengths = [run + len(pieces[0]), *map(len, pieces[1:])]
        too_long = next((i for i, n in enumerate(lengths) if n > max_line), None)
        if too_long is not None:
            raise UserError(
                f"{path}: line {line + too_long} is longer than {max_line:,} characters: not a text file "
                f"of lines; {advice}"
            )
    cut = text.rfind("\n")
    return run + len(text) if cut < 0 else len(text) - cut - 1


def text_lines(path: str | Path, encoding: str = "utf-8", advice: str = "", errors: str = "strict"):
    """The lines of a text file (without their \\n), streamed through `text_chunks`."""
    rest = ""
    for chunk in text_chunks(path, encoding, advice, errors):
        pieces = (rest + chunk).split("\n")
        rest = pieces.pop()
        yield from pieces
    if rest:
        yield rest


def read_text_checked(
    path: str | Path, encoding: str = "utf-8", advice: str = "give a text file", errors: str = "strict"
) -> str:
    """The whole text of a file, read through `text_chunks` (binary content and runaway lines refused)."""
    return "".join(text_chunks(path, encoding, advice, errors))


def read_utf8(path: str | Path, advice: str) -> str:
    """The text of a file kindling reads as UTF-8; other bytes are one line naming the file, the first bad
    byte and `advice` (what the file should hold, or how to restore it)."""
    try:
        return read_text_checked(path, "utf-8", advice)
    except NotDecodable as exc:
        raise UserError(f"{path} is not UTF-8 text (byte {exc.offset}); {advice}") from exc


def read_json(path: str | Path, what: str = "file") -> Any:
    path = Path(path)
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise UserError(f"{what} {path} does not exist") from exc
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise UserError(f"{what} {path} is not valid JSON ({exc}); restore or regenerate it") from exc
