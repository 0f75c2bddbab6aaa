"""Importing a .py file the user named (`--model my_net.py:Net`, `--data py:my_data.py:make`): the one
place kindling runs code from a path, and only the file the user pointed at.

The module's name carries the hash of the bytes that ran, so the same file is imported once per
process and an edited one (a notebook's next run) is read again.
"""

from __future__ import annotations

import hashlib
import importlib.util
import sys
from pathlib import Path

from kindling.errors import UserError

_EXIT_ADVICE = 'move script code under `if __name__ == "__main__":`'


def import_file(path: Path, named_by: str) -> tuple[object, bytes]:
    """Execute the .py file at `path` as a module of its own (unique name per content); -> (module, bytes).

    Its folder is on sys.path only while it runs, so `from layers import Block` next to it works and
    nothing stays behind."""
    if path.is_dir():
        raise UserError(f"{path} is a folder, not a .py file; name the file in it ({named_by})")
    if not path.is_file():
        raise UserError(f"{path} does not exist; check the path in {named_by}")
    if path.suffix != ".py":
        raise UserError(f"{path} is not a .py file; kindling imports Python source files only ({named_by})")
    source = path.read_bytes()
    digest = hashlib.sha256(source).hexdigest()
    module_name = f"kindling_user_{path.stem}_{digest[:16]}"
    if module_name in sys.modules:
        return sys.modules[module_name], source
    spec = importlib.util.spec_from_file_location(module_name, path)
    module = importlib.util.module_from_spec(spec)
    try:
        code = compile(source, str(path), "exec")
    except SyntaxError as exc:
        raise UserError(f"{path}:{exc.lineno}: syntax error ({exc.msg}); fix the file and run again") from exc
    sys.modules[module_name] = module  # dataclasses and typing look themselves up here while it runs
    added = str(path.parent) not in sys.path
    if added:
        sys.path.insert(0, str(path.parent))
    try:
        exec(code, module.__dict__)  # the file the user named, from the bytes that were hashed
    except SystemExit as exc:  # sys.exit() at import would end kindling silently, with the file's code
        del sys.modules[module_name]
        raise UserError(
            f"{path} called sys.exit({exc.code!r}) while it was imported; {_EXIT_ADVICE}"
        ) from exc
    except Exception as exc:
        del sys.modules[module_name]
        raise UserError(f"importing {path} failed: {type(exc).__name__}: {exc}; fix the file") from exc
    finally:
        if added:
            sys.path.remove(str(path.parent))
    return module, source
