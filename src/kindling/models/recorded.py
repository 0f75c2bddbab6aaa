"""A Bundle's model from the user's own code, rebuilt only from a file the user pointed at.

A Bundle's header is anyone's to write, so the code it names is imported only when this user pointed at
it (`kindling.util.codetrust`): the recorded file (or module's file) must be absolute, normalised, outside the
Bundle and its run folder, reached through no symlink, unchanged since training (sha256), and a file
this user trained with here under that name (the ledger); or the user names a file with the recorded
sha256 again (`--code FILE.py`). `--trust-code` imports the Bundle's own copy (`best/code/`) instead,
after checking it against the same hash. A model defined in a notebook or a script's `__main__` is
rebuilt only in the process that was handed it (`usercode.session_model`).
"""

from __future__ import annotations

import importlib.machinery
import importlib.util
import inspect
import re
import sys
from pathlib import Path

from kindling.errors import UserError, one_line
from kindling.models.usercode import (
    Reference,
    import_module,
    member_of,
    parse,
    provenance,
    ready,
    session_model,
    sha256_of,
)
from kindling.util import codetrust
from kindling.util.codetrust import FIX
from kindling.util.userfile import import_file

KINDS = ("file", "module", "session")


def rebuild(record: dict, folder: Path, sig, trust_code: bool = False):
    """The model of a Bundle whose code is the user's, built with the recorded options from: the
    Bundle's copy (`trust_code`), a file the user named again with the recorded sha256, or the recorded
    file (or module) once it is shown to be the user's own, unchanged."""
    _check_record(record)
    options = record.get("options")
    if record["kind"] == "session":
        ref = Reference("module", "__main__", record["name"], record["reference"])
        return ready(session_model(record), sig, options, ref)
    if trust_code:
        return _from_file(bundle_copy(record, folder), record, sig, any_member=True)
    named = codetrust.pointed(record["sha256"])
    if named is not None:
        model = _from_file(named, record, sig, any_member=False)
        codetrust.remember(named, record["sha256"], record["name"])  # named once: a Bundle of it loads later
        return model
    try:
        file = recorded_source(record, folder)
    except UserError:
        if codetrust.named_again():  # the user named a file: say why it was not used
            shown = ", ".join(str(p) for p in codetrust.named_again())
            raise UserError(
                f"--code {one_line(shown, 120)} is not the code of this Bundle (its sha256 is not the "
                "recorded one); name the file it trained with, or use --trust-code (the Bundle's copy)"
            ) from None
        raise
    if record["kind"] == "file":
        return _from_file(file, record, sig, any_member=True)
    ref = Reference("module", record["module"], record["name"], record["reference"])
    if locate_module(record["module"]) != file:  # found without running anything
        raise UserError(f"module {one_line(ref.target, 60)} is not the one at {file} that trained; {FIX}")
    module, imported = import_module(ref)
    if imported != file:
        raise UserError(
            f"module {ref.target} now imports from {imported}, not from {file} as in training; {FIX}"
        )
    return ready(member_of(module, ref), sig, options, ref)


def _check_record(record) -> None:
    """The fields the rebuild reads, of the right types (a header is anyone's to edit)."""
    if not isinstance(record, dict) or record.get("kind") not in KINDS:
        raise UserError(
            f"the record of the model's code ('model.code') is not one of {', '.join(KINDS)}; {FIX}"
        )
    name, sha = record.get("name"), record.get("sha256")
    if not isinstance(name, str) or not name.isidentifier():
        raise UserError(
            f"'model.code.name' is {one_line(repr(name), 60)}, not a Python name; the bundle is damaged"
        )
    record.setdefault("reference", name)
    if record["kind"] != "session" and not (isinstance(sha, str) and re.fullmatch(r"[0-9a-f]{64}", sha)):
        raise UserError(
            f"'model.code.sha256' is {one_line(repr(sha), 80)}, not a sha256; the bundle is damaged"
        )
    if record["kind"] == "module" and not all(p.isidentifier() for p in str(record.get("module")).split(".")):
        raise UserError(f"'model.code.module' is {one_line(repr(record.get('module')), 60)}; {FIX}")


def recorded_source(record: dict, folder: Path) -> Path:
    """The recorded file, once shown to be the code of the user's that trained: a safe path, present,
    unchanged (sha256), and trained with here under the recorded name."""
    what = f"the code of model '{record['name']}'"
    file = codetrust.check_recorded_path(record.get("file"), folder)
    hint = f"restore it, or {FIX}"
    if not file.is_file():
        raise UserError(f"{file} ({what}) is missing; {hint}")
    sha = codetrust.file_sha256(file)
    if sha != record["sha256"]:
        raise UserError(f"{file} changed since training (sha256 differs); {hint}")
    if not codetrust.known(file, sha, record["name"]):
        raise UserError(f"{file} is not a file you trained with here; {FIX}")
    return file


def bundle_copy(record: dict, folder: Path) -> Path:
    """`--trust-code`: the Bundle's own copy (best/code/NAME.py), checked against the recorded sha256."""
    copy = record.get("copy")
    if not (isinstance(copy, str) and re.fullmatch(r"code/[\w.-]+\.py", copy)):
        raise UserError(
            f"the header names no copy of the model's code in code/ ({one_line(repr(copy), 60)}); "
            "the bundle is damaged"
        )
    path = Path(folder) / copy
    if not path.is_file() or path.is_symlink():
        raise UserError(f"{folder} has no copy of the model's code ({copy}); the bundle is damaged")
    if sha256_of(path.read_bytes()) != record["sha256"]:
        raise UserError(
            f"{copy}, the Bundle's copy of the code, does not match the sha256 in the header of "
            "model.safetensors (model.code.sha256); the bundle is damaged"
        )
    return path


def _from_file(file: Path, record: dict, sig, any_member: bool):
    """The model from `file` executed as a module of its own. A file the user named again (not
    `any_member`) gives only a model class or a function it defines itself: the header picks the name,
    and must not pick a function the file imported (`from os import system`)."""
    ref = Reference("file", str(file), record["name"], record["reference"])
    module, _ = import_file(file, f"--model {record['reference']}")
    obj = member_of(module, ref)
    if not any_member and not _defined_in(obj, module):
        raise UserError(
            f"'{ref.name}' in {file} is neither an nn.Module subclass nor a function defined there; "
            "pass --trust-code to use it as the Bundle says"
        )
    return ready(obj, sig, record.get("options"), ref)


def _defined_in(obj, module) -> bool:

    import torch.nn as nn  # lazy: torch

    if inspect.isclass(obj):
        return issubclass(obj, nn.Module)
    return inspect.isfunction(obj) and obj.__module__ == module.__name__


def locate_module(dotted: str) -> Path | None:
    """The file `import dotted` would execute (as `usercode.import_module` imports it, the current folder
    counting), found without executing anything: the packages on the way are only looked up."""
    search = list(sys.path)
    if "" not in search and str(Path.cwd()) not in search:
        search.insert(0, str(Path.cwd()))
    spec = None
    for depth, part in enumerate(dotted.split(".")):
        name = ".".join(dotted.split(".")[: depth + 1])
        loaded = sys.modules.get(name)
        if loaded is not None:
            origin = getattr(loaded, "__file__", None)
            search = list(getattr(loaded, "__path__", []) or [])
        else:
            spec = importlib.machinery.PathFinder.find_spec(part, search)
            if spec is None and depth == 0:
                spec = importlib.util.find_spec(
                    name
                )  # an editable install's finder: a top level runs nothing
            if spec is None:
                return None
            origin = spec.origin
            search = list(spec.submodule_search_locations or [])
    return Path(origin).resolve() if origin and origin.endswith(".py") else None


# ---------------------------------------------------------------- training and resuming


def remember_trained(name: str) -> None:
    """Training with `--model FILE.py:Name` / `module:Name` / `kindling.fit(model=...)`: the ledger
    records the file and the bytes that ran, so this user's Bundles of it load here without `--code`."""
    record, _ = provenance(name)
    if record["kind"] != "session" and record["file"]:
        codetrust.remember(Path(record["file"]), record["sha256"], record["name"])


def check_saved_reference(name: str, where: Path, started: dict | None = None) -> None:
    """A model named in a run's config.yaml (`--resume`) is imported only when it is the user's: a file
    or module trained with here, or a `__main__` class this process was handed (`model=` again);
    `started` is the checkpoint's record of its code ({file, sha256}), for a clearer line when that
    file changed."""
    ref = parse(name)
    if ref.target == "__main__":
        session_model({"name": ref.name})
        return
    file = Path(ref.target) if ref.kind == "file" else locate_module(ref.target)
    if file is None or not file.is_file():  # a missing one is refused by the import, naming it
        return
    started = started or {}
    if started.get("file") == str(file) and codetrust.file_sha256(file) != started.get("sha256"):
        raise UserError(
            f"{file} changed since this run started (sha256 differs); restore it to resume, or start a new run"
        )
    hint = "start a new run from your own file (--model FILE.py:Name)"
    codetrust.require_known(file, ref.name, str(Path(where) / "config.yaml"), hint)
