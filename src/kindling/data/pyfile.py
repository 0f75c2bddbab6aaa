"""`--data py:FILE.py:FUNCTION`: import the one file the user named and call FUNCTION().

The user's own code runs here, so it is the user's choice (a file they pointed at); kindling.util.userfile
imports it, as it does model files.
"""

from __future__ import annotations

from pathlib import Path

from kindling.data.samples import one_line
from kindling.errors import UserError, did_you_mean
from kindling.util.userfile import import_file


def load_py(spec: str, parts: tuple[str, ...] = ("train", "val", "test")) -> dict:
    """`py:FILE.py:FUNCTION` -> {"train", "val", "test", "target"} from what FUNCTION() returns."""
    path, _, name = spec[len("py:") :].rpartition(":")
    if not path or not name:
        raise UserError(f"--data {spec}: expected py:FILE.py:FUNCTION, e.g. py:my_data.py:make_datasets")
    module = _import_file(Path(path).expanduser())
    fn = getattr(module, name, None)
    if not callable(fn):
        found = [k for k, v in vars(module).items() if callable(v) and not k.startswith("_")]
        raise UserError(f"{path} has no function '{name}'{did_you_mean(name, found)}; --data {spec}")
    try:
        result = fn()
    except UserError:
        raise
    except SystemExit as exc:  # it would end kindling silently, with the function's exit code
        raise UserError(
            f"{path}: {name}() called sys.exit({exc.code!r}); return the data instead of exiting"
        ) from exc
    except Exception as exc:  # the user's code: any type
        raise UserError(f"{path}: {name}() raised {one_line(exc)}; fix it and run again") from exc
    if isinstance(result, dict):
        unknown = sorted(set(result) - {*parts, "target"})
        if unknown or "train" not in result:
            raise UserError(
                f"{path}: {name}() returned a dict with keys {sorted(result)}; "
                "expected 'train' and optionally 'val', 'test' (and 'target' for a DataFrame)"
            )
        return {k: result.get(k) for k in (*parts, "target")}
    return {"train": result, "val": None, "test": None, "target": None}


def _import_file(path: Path):
    if path.is_dir():
        raise UserError(f"{path} is a folder, not a Python file; --data py:FILE.py:FUNCTION names one")
    if not path.is_file():
        raise UserError(f"{path} does not exist; --data py:FILE.py:FUNCTION names a Python file")
    if path.suffix != ".py":
        raise UserError(f"{path} is not a Python file; --data py:FILE.py:FUNCTION names one")
    module, _ = import_file(path, "--data py:FILE.py:FUNCTION")
    return module
