"""A Bundle's model from the user's own code, rebuilt only from where its record says.

Loading a Bundle never runs code the user did not point at: the recorded file (or module) is imported
only when its sha256 is the one training recorded, and `--trust-code` imports the Bundle's own copy
(`best/code/`) instead, after checking that copy against the same hash.
"""

from __future__ import annotations

import sys
from pathlib import Path

from kindling.errors import UserError
from kindling.models.usercode import Reference, import_module, member_of, ready, sha256_of
from kindling.userfile import import_file


def recorded_source(record: dict, folder: Path, trust_code: bool = False) -> Path:
    """The file a Bundle's model is imported from, once it is shown to be the code that trained it:
    the recorded file (or module) unchanged, or with `trust_code` the Bundle's own copy."""
    if record["kind"] == "session":
        raise UserError(
            f"model '{record['name']}' was defined in the Python session that trained it (a notebook or a "
            "script), not in a module; load it in that session, or move it to a .py file and train again"
        )
    copy = Path(folder) / record["copy"]
    if trust_code:
        if not copy.is_file():
            raise UserError(
                f"{folder} has no copy of the model's code ({record['copy']}); the bundle is damaged"
            )
        if sha256_of(copy.read_bytes()) != record["sha256"]:
            raise UserError(
                f"{copy} does not match the sha256 in {folder}/bundle.json; the bundle is damaged"
            )
        return copy
    file = Path(record["file"])  # checked before anything is imported
    hint = f"restore it, or pass --trust-code to use the copy in {copy}"
    if not file.is_file():
        raise UserError(f"{file} (the code of model '{record['name']}') is missing; {hint}")
    if sha256_of(file.read_bytes()) != record["sha256"]:
        raise UserError(f"{file} changed since training (sha256 differs); {hint}")
    return file


def rebuild(record: dict, folder: Path, sig, trust_code: bool = False):
    """The model of a Bundle whose code is the user's: imported only from where `record` says (after the
    sha256 check), or from the Bundle's copy with `trust_code`; built with the recorded options.
    A model defined in a notebook or a script's `__main__` is found again only in that same session: a
    script is never re-run to rebuild it."""
    if record["kind"] == "session":
        ref = Reference("module", "__main__", record["name"], record["reference"])
        obj = getattr(sys.modules.get("__main__"), record["name"], None)
        if obj is None:
            recorded_source(record, folder, trust_code)  # raises the one line
        return ready(obj, sig, record.get("options"), ref)
    file = recorded_source(record, folder, trust_code)
    if record["kind"] == "file" or trust_code:
        ref = Reference("file", str(file), record["name"], record["reference"])
        module, _ = import_file(file, f"--model {record['reference']}")
    else:
        ref = Reference("module", record["module"], record["name"], record["reference"])
        module, imported = import_module(ref)
        if imported != file:
            raise UserError(
                f"module {ref.target} now imports from {imported}, not from {file} as in training; "
                f"restore that install, or pass --trust-code to use the copy in {Path(folder) / record['copy']}"
            )
    return ready(member_of(module, ref), sig, record.get("options"), ref)
