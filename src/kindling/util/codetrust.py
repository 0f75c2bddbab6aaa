"""Which code a Bundle or a run folder may make kindling import: only a file this user pointed at.

A Bundle is a file anyone can send, so what its header names (a model file or module, a `py:` data
function) is never imported on the header's word alone. kindling imports it only when the user pointed
at that file: trained with it on this machine (the ledger below), or named it again in this process
(`--code FILE.py`, `kindling.load(..., code=FILE)`; a file so named that a Bundle then loads from goes in
the ledger too). `--trust-code` (the Bundle's own copy) is decided by the caller,
`kindling.models.recorded`.

The ledger, `$KINDLING_HOME/trusted-code.json` (KINDLING_HOME defaults to ~/.cache/kindling, the same
folder as `--data-dir`), holds for each file a training imported here its resolved path, the sha256
of the bytes that ran and the names used from it: a file is trusted for a version and a name it trained
with, so a header cannot pick another function out of a trusted file. Writers merge under a lock and
replace the file atomically; a ledger that cannot be read is one warning and counts as empty.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
from pathlib import Path

from kindling.errors import UserError, one_line
from kindling.util.fileio import atomic_write_json

HOME_DEFAULT = "~/.cache/kindling"  # kindling's own folder: the ledger, built-in data sets (--data-dir)
LEDGER_NAME = "trusted-code.json"
LEDGER_FORMAT = 1
VERSIONS_KEPT = 64  # per file, the newest: a Bundle of an older version needs that version back anyway
FIX = "use --code FILE.py (your file) or --trust-code (the Bundle's copy)"

_POINTED: dict[str, Path] = {}  # sha256 -> a .py file the user named again in this process
_WARNED: set[str] = set()


def home() -> Path:
    """kindling's own folder: $KINDLING_HOME, else ~/.cache/kindling."""
    return Path(os.environ.get("KINDLING_HOME") or HOME_DEFAULT).expanduser()


def ledger_path() -> Path:
    return home() / LEDGER_NAME


def file_sha256(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


# ---------------------------------------------------------------- the ledger


def remember(file: Path, sha256: str, name: str) -> None:
    """Record that this user trained with `name` from `file` (the bytes hashing to `sha256`). A ledger
    that cannot be written costs a warning, not the run: its Bundles then need `--code` to load."""
    from filelock import FileLock, Timeout  # lazy: filelock

    path = ledger_path()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with FileLock(f"{path}.lock", timeout=60):
            files = _read(path)
            versions = files.setdefault(str(Path(file).resolve()), {})
            names = versions.pop(sha256, [])  # re-inserted last: the newest versions are the ones kept
            versions[sha256] = sorted({*names, name})
            for old in list(versions)[:-VERSIONS_KEPT]:
                del versions[old]
            atomic_write_json(path, {"format": LEDGER_FORMAT, "files": files})
    except (OSError, Timeout, UserError) as exc:
        _warn(
            f"could not record {file} in {path} ({one_line(str(exc), 80)}); load its Bundles with --code {file}"
        )


def known(file: Path, sha256: str, name: str) -> bool:
    """Whether this user trained with `name` from this version of `file` on this machine."""
    return name in _read(ledger_path()).get(str(file), {}).get(sha256, [])


def _read(path: Path) -> dict[str, dict[str, list[str]]]:
    """The ledger's files: {path: {sha256: [names]}}; missing -> empty, unreadable -> one warning, empty."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    except (OSError, UnicodeDecodeError, json.JSONDecodeError, RecursionError) as exc:
        return _damaged(path, type(exc).__name__)
    files = data.get("files") if isinstance(data, dict) else None
    if not isinstance(files, dict) or not all(
        isinstance(versions, dict)
        and all(
            isinstance(names, list) and all(isinstance(n, str) for n in names) for names in versions.values()
        )
        for versions in files.values()
    ):
        return _damaged(path, "not a kindling ledger")
    return files


def _damaged(path: Path, why: str) -> dict:
    _warn(
        f"{path} cannot be read ({why}); it counts as empty, so a Bundle of your own code needs "
        "--code FILE.py once (training again records it anew)"
    )
    return {}


def _warn(text: str) -> None:
    if text not in _WARNED:  # once per process, however often the ledger is read
        _WARNED.add(text)
        print(f"kindling: warning: {text}", file=sys.stderr, flush=True)


# ---------------------------------------------------------------- named again in this process


def point_at(path: str | Path) -> Path:
    """`--code FILE.py` / `code=`: the user names a .py file as the code of the Bundles loaded in this
    process; it is used for a Bundle whose recorded sha256 it matches."""
    file = Path(path).expanduser().resolve()
    if file.suffix != ".py" or not file.is_file():
        what = "does not exist" if not file.exists() else "is not a .py file"
        raise UserError(
            f"--code {one_line(str(path), 120)} {what}; name the .py file that defines your model"
        )
    _POINTED[file_sha256(file)] = file
    return file


def pointed(sha256: str) -> Path | None:
    """The file the user named again whose bytes hash to `sha256`, if any."""
    return _POINTED.get(sha256)


def named_again() -> list[Path]:
    return list(_POINTED.values())


# ---------------------------------------------------------------- a path a Bundle names


def check_recorded_path(
    text, folder: Path, what: str = "the model's code", field: str = "model.code"
) -> Path:
    """The absolute, normalised path of the model's code (or `what`: your metric's, recorded in `field`)
    recorded in the Bundle at `folder`, refused when it is relative, has `..`, leads into the Bundle or
    its run folder, or goes through a symlink."""
    if not isinstance(text, str) or not text or "\0" in text:
        raise UserError(f"'{field}.file' is {one_line(repr(text), 60)}, not a path; {FIX}")
    shown = one_line(text, 80)
    path = Path(text)
    if not path.is_absolute():
        raise UserError(f"{what} {shown} is a relative path; {FIX}")
    if ".." in path.parts or os.path.normpath(text) != text:
        raise UserError(f"{what} {shown} has '..' in its path; {FIX}")
    resolved = path.resolve()
    run = Path(run_folder(folder)).resolve()
    if resolved.is_relative_to(run):
        inside = resolved.relative_to(run)
        raise UserError(f"{what} {one_line(str(inside), 60)} is inside the Bundle, not your file; {FIX}")
    if resolved != path:
        raise UserError(f"{what} {shown} goes through a symlink; {FIX}")
    return path


def run_folder(folder: Path) -> Path:
    """The run folder that holds the Bundle at `folder` (runs/NAME for runs/NAME/best), else the folder."""
    folder = Path(folder)
    return folder.parent if (folder.parent / "config.yaml").is_file() else folder


def require_known(file: Path, name: str, where: str, hint: str) -> None:
    """Refuse `file` (named by `where`, not by the user now) unless this user trained with `name` from
    its present version here, or named it again in this process."""
    sha = file_sha256(file)
    if pointed(sha) == file or known(file, sha, name):
        return
    raise UserError(f"{one_line(str(file), 90)} ({where}) is not a file you trained with here; {hint}")


def check_saved_data(spec: str, where: Path, hint: str) -> None:
    """A `py:FILE.py:FUNCTION` data source read from a Bundle or a run's config.yaml is imported only
    when it is a file this user trained with (its present version, that function); other sources run
    no code."""
    text, file, name = _data_file(spec)
    if file is None:
        return
    if file.is_relative_to(run_folder(where).resolve()):
        raise UserError(f"the data function {one_line(text, 80)} is inside the run; {hint}")
    if file.is_file():  # a missing file is refused by the data source, naming it
        require_known(file, name, "the run's data source", hint)


def remember_data(spec: str) -> None:
    """Training with `--data py:FILE.py:FUNCTION`: the ledger records the file and FUNCTION, so that
    evaluate and report rebuild this run's data here without naming it again."""
    _, file, name = _data_file(spec)
    if file is not None and file.is_file():
        remember(file, file_sha256(file), name)


def _data_file(spec) -> tuple[str, Path | None, str]:
    """`py:FILE.py:FUNCTION` -> (FILE as written, its resolved path, FUNCTION); other sources -> no file."""
    if not str(spec).startswith("py:"):
        return "", None, ""
    text, _, name = str(spec)[len("py:") :].rpartition(":")
    if not text:
        return "", None, ""  # malformed: the data source refuses it before importing anything
    return text, Path(text).expanduser().resolve(), name
