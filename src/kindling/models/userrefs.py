"""Your own loss, metrics and callbacks, named as your model is: `FILE.py:NAME`, `package.module:NAME`,
or an object handed to `kindling.fit` in this process (`__main__:NAME`).

    spec = hand_over("metric", top3, "top3")      # kindling.fit(metrics={"top3": top3}) -> "top3=/abs/m.py:top3"
    named = load("metric", spec)                  # the object, and the record of where its code came from
    fn = rebuild("metric", record, bundle_folder)  # evaluate: only from code this user pointed at

The code is loaded the way a model's is (kindling.models.usercode): a file is executed from the bytes that
are hashed, so the sha256 recorded is the code that ran; training puts each file in the ledger of trusted
code (kindling.util.codetrust) under its role and name (`metric:top3`, so a Bundle's header cannot take a loss
function for a model). `--resume` and `evaluate` import it back only from a file this user trained with
here, unchanged, from a file named again (`--code FILE.py`), or from the Bundle's copy (`--trust-code`);
never from a path the run folder alone names. An object of a notebook or a script's `__main__`, or one not
at the top of a module (a lambda, an instance made in a cell), is used only in the process handed it.

A class is made with no arguments (`--loss losses.py:FocalLoss`); for arguments, name an instance made at
the top of the file (`focal = FocalLoss(gamma=2)`, `--loss losses.py:focal`).
"""

from __future__ import annotations

import inspect
import re
import sys
from dataclasses import dataclass
from pathlib import Path

from kindling.errors import UserError, did_you_mean, one_line
from kindling.models.recorded import locate_module
from kindling.models.usercode import Reference, import_module, is_reference, parse, sha256_of
from kindling.util import codetrust
from kindling.util.codetrust import FIX
from kindling.util.userfile import import_file

ROLES = ("loss", "metric", "callback")
FLAGS = {"loss": "--loss", "metric": "--metric", "callback": "--callback"}
SESSION = "__main__"
KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")

_SESSION: dict[tuple[str, str], object] = {}  # (role, name) -> an object this process was handed
_GIVEN: set[str] = set()  # specs the user named in this process (a flag, a keyword): trusted as named


@dataclass
class Named:
    """One loss, metric or callback, loaded: the object to call and the record of its code."""

    role: str
    key: str  # a metric's key (logged as val_KEY); the loss's or the callback's name
    obj: object
    record: dict  # kind, file, name, reference, sha256, copy: what the Bundle and the checkpoint keep
    source: bytes | None  # the bytes that ran, for the Bundle's copy (None: a session's object)

    @property
    def label(self) -> str:
        return f"{self.role} '{self.key}' ({one_line(self.record['reference'], 80)})"


# ---------------------------------------------------------------- specs


def split_metric(text: str) -> tuple[str, str]:
    """`KEY=REF` or `REF` -> (KEY, REF); the key defaults to the name after the colon."""
    head, sep, tail = str(text).partition("=")
    if sep and KEY.match(head):
        return head, tail
    return str(text).rpartition(":")[2], str(text)


def check_spec(role: str, text) -> str:
    """Refuse a spec that cannot name code (the form only: the file is read when the run starts)."""
    ref = split_metric(text)[1] if role == "metric" else str(text)
    if not isinstance(text, str) or not is_reference(ref):
        example = "top3=metrics.py:top3" if role == "metric" else f"my_{role}s.py:NAME"
        raise UserError(
            f"{FLAGS[role]} {one_line(repr(text), 80)} does not name code: give FILE.py:NAME or "
            f"package.module:NAME (e.g. {FLAGS[role]} {example})"
        )
    return ref


# ---------------------------------------------------------------- from kindling.fit


def hand_over(role: str, obj, key: str | None = None, taken: set[str] | None = None) -> str:
    """The spec of an object `kindling.fit` was handed: `FILE.py:NAME` for one found at the top of a .py
    module (its code is recorded, and it resumes anywhere), else `__main__:NAME`, used in this process
    only (NAME: a metric's key, else the object's name, made unique among `taken`). A string is a spec
    already."""
    if isinstance(obj, str):
        _GIVEN.add(split_metric(obj)[1] if "=" in obj else obj)
        return obj if key is None or "=" in obj else f"{key}={obj}"
    module = sys.modules.get(getattr(obj, "__module__", None) or "")
    name = _top_level_name(obj, module)
    file = str(getattr(module, "__file__", None) or "")
    if name and module.__name__ != SESSION and file.endswith(".py"):
        ref = f"{Path(file).resolve()}:{name}"
        _GIVEN.add(ref)
    else:
        name = key or name or _shown_name(obj, role)
        if taken is not None:
            base, i = name, 1
            while name in taken:
                i += 1
                name = f"{base}_{i}"
            taken.add(name)
        _SESSION[(role, name)] = obj
        ref = f"{SESSION}:{name}"
    return f"{key}={ref}" if key is not None else ref


def _top_level_name(obj, module) -> str | None:
    """The name `obj` has at the top of its module, if it has one there."""
    if module is None:
        return None
    own = getattr(obj, "__name__", None)
    if isinstance(own, str) and own.isidentifier() and getattr(module, own, None) is obj:
        return own
    return next((k for k, v in vars(module).items() if v is obj and k.isidentifier()), None)


def _shown_name(obj, fallback: str) -> str:
    for name in (getattr(obj, "__name__", None), type(obj).__name__, fallback):
        if isinstance(name, str) and name.isidentifier():
            return name
    return "handed_over"


# ---------------------------------------------------------------- training: import and record


def load(role: str, text: str) -> Named:
    """The loss, metric or callback `text` names, made ready (a class made with no arguments), with the
    record of its code. Every mistake is one line naming the flag and the file."""
    key, spec = split_metric(text) if role == "metric" else (None, str(text))
    check_spec(role, text)
    ref = parse(spec)
    if ref.target == SESSION:
        obj = _session_object(role, ref.name)
        record = {"kind": "session", "file": None, "name": ref.name, "reference": spec, "sha256": None}
        return Named(role, key or ref.name, _ready(role, obj, ref), {**record, "copy": None}, None)
    module, file, source = _import(role, ref)
    obj = _member(module, ref, role)
    sha = sha256_of(source)
    record = {"kind": ref.kind, "file": str(file), "name": ref.name, "reference": spec, "sha256": sha}
    if ref.kind == "module":
        record["module"] = ref.target
    record["copy"] = f"code/{file.name}"
    return Named(role, key or ref.name, _ready(role, obj, ref), record, source)


def _session_object(role: str, name: str):
    obj = _SESSION.get((role, name))
    if obj is None:
        keyword = "loss" if role == "loss" else f"{role}s"
        raise UserError(
            f"your {role} '{name}' was handed to kindling.fit in the Python session that started this run (a "
            f"notebook or a script) and no file names it; hand it to kindling.fit again ({keyword}=...), or "
            "put it at the top of a .py file"
        )
    return obj


def _import(role: str, ref: Reference) -> tuple[object, Path, bytes]:
    if ref.kind == "file":
        module, source = import_file(Path(ref.target), f"{FLAGS[role]} {ref.text}")
        return module, Path(ref.target), source
    module, file = import_module(ref)
    return module, file, file.read_bytes()


def _member(module, ref: Reference, role: str):
    if hasattr(module, ref.name):
        return getattr(module, ref.name)
    defined = [k for k, v in vars(module).items() if not k.startswith("_") and callable(v)]
    raise UserError(
        f"{ref.where} has no '{ref.name}'{did_you_mean(ref.name, defined)} ({FLAGS[role]} {ref.text}); "
        f"it defines: {', '.join(sorted(defined)[:12]) or 'nothing callable'}"
    )


def _ready(role: str, obj, ref: Reference):
    """A class made with no arguments; then the object checked for its role."""
    label = f"{role} '{ref.name}' in {ref.where}"
    if inspect.isclass(obj):
        try:
            obj = obj()
        except Exception as exc:
            raise UserError(
                f"your {role} {ref.name}() in {ref.where} raised {type(exc).__name__}: {one_line(str(exc), 100)}; "
                f"give it defaults, or name an instance made at the top of the file ({ref.name.lower()} = "
                f"{ref.name}(...))"
            ) from exc
    if role == "callback":  # what events it takes is the trainer's to check (kindling.train.userfns)
        return obj
    if not callable(obj):
        kind = type(obj).__name__
        article = "an" if kind[:1].lower() in "aeiou" else "a"
        raise UserError(f"{label} is {article} {kind}, not a function (outputs, targets) -> value")
    return obj


def remember(named: Named) -> None:
    """Training with it here: the ledger records its file under its role and name."""
    if named.record["kind"] != "session":
        codetrust.remember(
            Path(named.record["file"]), named.record["sha256"], _ledger_name(named.record, named.role)
        )


def _ledger_name(record: dict, role: str) -> str:
    return f"{role}:{record['name']}"


# ---------------------------------------------------------------- resuming


def given_again(specs) -> None:
    """The specs the user names for the run starting now (`--loss`, `--metric`, `--callback` on a
    `--resume`, or kindling.fit's keywords; `hand_over` adds its own): pointed at now, so used as they
    are, a fixed file included. Each command or fit call names its own: the last call's are forgotten."""
    _GIVEN.clear()
    for text in specs or []:
        _GIVEN.add(split_metric(text)[1] if "=" in str(text) else str(text))


def check_saved(role: str, text: str, where: Path, started: dict | None = None) -> str | None:
    """A spec read from a run's config.yaml (`--resume`) is imported only when it is the user's: named
    again now (`given_again`), a file trained with here under that role and name and unchanged since the
    run started (`started`: the checkpoint's sha256 of it), or a session's object this process was
    handed. -> a note when a file named again changed since the run started (the resume runs it as is)."""
    spec = split_metric(text)[1] if role == "metric" else str(text)
    check_spec(role, text)
    ref = parse(spec)
    if ref.target == SESSION:
        _session_object(role, ref.name)
        return None
    file = Path(ref.target) if ref.kind == "file" else locate_module(ref.target)
    if file is None or not file.is_file():  # a missing one is refused by the import, naming it
        return None
    changed = (
        bool(started)
        and started.get("file") == str(file)
        and codetrust.file_sha256(file) != started.get("sha256")
    )
    if spec in _GIVEN:
        return (
            f"{file} ({role} '{ref.name}') changed since this run started; the resume runs it as it is now"
            if changed
            else None
        )
    if changed:
        raise UserError(
            f"{file} ({role} '{ref.name}') changed since this run started (sha256 differs); restore it, or name it "
            f"again to resume with it as it is ({FLAGS[role]} {ref.text})"
        )
    hint = f"name it again to resume with it ({FLAGS[role]} {ref.text})"
    codetrust.require_known(file, f"{role}:{ref.name}", str(Path(where) / "config.yaml"), hint)
    return None


# ---------------------------------------------------------------- a Bundle's: evaluate


def rebuild(role: str, record, folder: Path, trust_code: bool = False):
    """The object a Bundle's record names, imported only from code this user pointed at: the Bundle's
    copy (`trust_code`), a file named again whose sha256 is the recorded one (`--code`), or the recorded
    file, unchanged and trained with here. A session's object: only in the process that was handed it.
    Anything else is one line saying what to do."""
    _check_record(role, record)
    ref = Reference("file", str(record.get("file")), record["name"], str(record.get("reference")))
    if record["kind"] == "session":
        return _ready(role, _session_object(role, record["name"]), ref)
    if trust_code:
        return _from(role, _bundle_copy(record, folder), ref)
    named = codetrust.pointed(record["sha256"])
    if named is not None:
        obj = _from(role, named, ref)
        codetrust.remember(named, record["sha256"], _ledger_name(record, role))
        return obj
    what = f"the code of {role} '{record['name']}'"
    file = codetrust.check_recorded_path(record.get("file"), folder, what, f"user_code ({role})")
    if not file.is_file():
        raise UserError(f"{file} ({what}) is missing; restore it, or {FIX}")
    if codetrust.file_sha256(file) != record["sha256"]:
        raise UserError(f"{file} ({what}) changed since training (sha256 differs); restore it, or {FIX}")
    if not codetrust.known(file, record["sha256"], _ledger_name(record, role)):
        raise UserError(f"{file} ({what}) is not a file you trained with here; {FIX}")
    return _from(role, file, ref)


def _check_record(role: str, record) -> None:
    if not isinstance(record, dict) or record.get("kind") not in ("file", "module", "session"):
        raise UserError(f"the record of the {role}'s code is not one of file, module, session; {FIX}")
    name, sha = record.get("name"), record.get("sha256")
    if not isinstance(name, str) or not name.isidentifier():
        raise UserError(
            f"the {role}'s recorded name {one_line(repr(name), 60)} is not a Python name; the bundle is damaged"
        )
    if record["kind"] != "session" and not (isinstance(sha, str) and re.fullmatch(r"[0-9a-f]{64}", sha)):
        raise UserError(
            f"the {role}'s recorded sha256 {one_line(repr(sha), 80)} is not a sha256; the bundle is damaged"
        )


def _bundle_copy(record: dict, folder: Path) -> Path:
    copy = record.get("copy")
    if not (isinstance(copy, str) and re.fullmatch(r"code/[\w.-]+\.py", copy)):
        raise UserError(
            f"the Bundle names no copy of {record['name']}'s code in code/; the bundle is damaged"
        )
    path = Path(folder) / copy
    if not path.is_file() or path.is_symlink() or sha256_of(path.read_bytes()) != record["sha256"]:
        raise UserError(
            f"{path}, the Bundle's copy of {record['name']}'s code, is missing or does not match its "
            "recorded sha256; the bundle is damaged"
        )
    return path


def _from(role: str, file: Path, ref: Reference):
    module, _ = import_file(file, f"the {role} {ref.name}")
    return _ready(role, _member(module, Reference("file", str(file), ref.name, ref.text), role), ref)


def copy_names(records: list[dict], taken: dict[str, str]) -> None:
    """Give each record's copy a name in code/ that no other file with different bytes has (`taken`:
    copy -> sha256, the model's own included), so a loss and a model from two `losses.py` both fit."""
    for record in records:
        copy = record.get("copy")
        if not copy:
            continue
        if taken.get(copy, record["sha256"]) != record["sha256"]:
            stem = copy.removeprefix("code/").removesuffix(".py")
            record["copy"] = copy = f"code/{stem}-{record['sha256'][:12]}.py"
        taken[copy] = record["sha256"]


def bundle_metrics(meta: dict, folder: Path, trust_code: bool = False, note=None) -> dict:
    """{key: fn} of the metrics a Bundle trained with, for `evaluate` to recompute. One of a session
    that is gone (a notebook's) is left out with `note(text)`; a file moved or changed is refused."""
    code = (meta.get("metrics") or {}).get("user_code") or {}
    records = code.get("metrics") or {} if isinstance(code, dict) else None
    if not isinstance(records, dict):
        raise UserError(
            "the Bundle's record of your metrics ('user_code.metrics') is not an object; the bundle is damaged"
        )
    found = {}
    for key, record in records.items():
        name = record.get("name") if isinstance(record, dict) else None
        if isinstance(name, str) and record.get("kind") == "session" and ("metric", name) not in _SESSION:
            if note is not None:
                note(
                    f"your metric {one_line(str(key), 40)} was handed to kindling.fit in the Python session that "
                    "trained the run and no file names it, so it is not recomputed here; put it at the top of a "
                    ".py file and train again to have it everywhere"
                )
            continue
        found[str(key)] = rebuild("metric", record, folder, trust_code)
    return found
