"""Atomic writes and the one safe loader.

Every file kindling writes goes through `atomic_write_bytes`: a temp file in the same folder, fsync,
then `os.replace`, so a reader (or a crash) sees the old file or the new one, never half of one.
Every checkpoint a user hands over is read through `load_checkpoint`, which never unpickles code.
"""

from __future__ import annotations

import io
import json
import os
import tempfile
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


def atomic_torch_save(obj: Any, path: str | Path) -> Path:
    """`torch.save` through an in-memory buffer, then an atomic write."""
    import torch

    buf = io.BytesIO()
    torch.save(obj, buf)
    return atomic_write_bytes(path, buf.getvalue())


def load_checkpoint(path: str | Path) -> dict:
    """Load a checkpoint with `weights_only=True`: plain tensors, numbers, strings and containers only.

    A file that would need unpickling of arbitrary objects is refused, never executed.
    """
    import pickle

    import torch

    path = Path(path)
    if not path.is_file():
        raise UserError(f"checkpoint {path} does not exist; train first or pass the right run directory")
    import warnings

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


def read_utf8(path: str | Path, advice: str) -> str:
    """The text of a file kindling reads as UTF-8; other bytes are one line naming the file, the first bad
    byte and `advice` (what the file should hold, or how to restore it)."""
    try:
        return Path(path).read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise UserError(f"{path} is not UTF-8 text (byte {exc.start}); {advice}") from exc


def read_json(path: str | Path, what: str = "file") -> Any:
    path = Path(path)
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise UserError(f"{what} {path} does not exist") from exc
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise UserError(f"{what} {path} is not valid JSON ({exc}); restore or regenerate it") from exc
