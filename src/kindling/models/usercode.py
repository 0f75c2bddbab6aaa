"""The user's own model, named `path/to/file.py:Name` or `package.module:Name`.

`Name` is an `nn.Module` subclass or a function returning one. Its constructor's parameters named after
a fact of the data (`num_classes`, `in_channels`, `input_shape`, `vocab_size` ...) are filled from the
Signature unless the user set them, so the seeds' `class LeNet(nn.Module)` with `num_classes=10` fits
a 3-class folder unchanged. Every mistake is one line naming the file and the fix.

The code is read once, hashed, and executed from those same bytes, so the sha256 that the Bundle records
is the code that ran; `provenance()` gives that record and the bytes for the Bundle's copy, and
`kindling.models.recorded` imports it back only from a file the user pointed at (trained with here,
unchanged, or named again with `--code`; kindling.util.codetrust), or from that copy (`--trust-code`). Only the named file is hashed and copied: modules it imports in turn are the user's
environment, as its torch is.
"""

from __future__ import annotations

import hashlib
import importlib
import inspect
import sys
from dataclasses import dataclass
from pathlib import Path

from kindling.errors import UserError, did_you_mean
from kindling.task import inputs_for, task_for
from kindling.task.probe import check_user_model
from kindling.util.userfile import import_file


@dataclass(frozen=True)
class Reference:
    kind: str  # file | module
    target: str  # the file's absolute path, or the dotted module name
    name: str  # the class or function inside it
    text: str  # as the user wrote it

    @property
    def where(self) -> str:
        return self.target if self.kind == "file" else f"module {self.target}"


@dataclass
class Loaded:
    obj: object  # the class, function or instance named
    file: Path  # the source file that was executed
    source: bytes
    sha256: str


_LOADED: dict[tuple[str, str], Loaded] = {}  # (kind, target) -> what this process imported
_INSTANCES: dict[str, object] = {}  # spec -> the instance `kindling.fit(model=...)` handed over, used once
_SESSION: dict[str, object] = {}  # name -> a class or factory of `__main__` this process was handed


def is_reference(name: str) -> bool:
    """`file.py:Name` or `pkg.module:Name` (a registered model name has no colon)."""
    head, sep, tail = str(name).rpartition(":")
    return bool(sep and head and tail.isidentifier())


def parse(text: str) -> Reference:
    head, _, name = str(text).rpartition(":")
    if not is_reference(text):
        raise UserError(f"model '{text}' is not FILE.py:Name or package.module:Name")
    looks_like_file = head.endswith(".py") or "/" in head or "\\" in head or Path(head).expanduser().is_file()
    if looks_like_file:
        return Reference("file", str(Path(head).expanduser().resolve()), name, str(text))
    if not all(part.isidentifier() for part in head.split(".")):
        raise UserError(f"model '{text}': '{head}' is neither a .py file nor a dotted module name")
    return Reference("module", head, name, str(text))


def sha256_of(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


# ---------------------------------------------------------------- importing


def import_module(ref: Reference) -> tuple[object, Path]:
    """Import `pkg.module` as Python would; the current folder counts, as it does for `python -m`."""
    added = "" not in sys.path and str(Path.cwd()) not in sys.path
    if added:
        sys.path.insert(0, str(Path.cwd()))
    try:
        module = importlib.import_module(ref.target)
    except ModuleNotFoundError as exc:
        raise UserError(
            f"module '{ref.target}' not found ({exc}); install it, run from its folder, or name the file "
            f"(--model path/to/file.py:{ref.name})"
        ) from exc
    except SyntaxError as exc:
        raise UserError(f"{exc.filename}:{exc.lineno}: syntax error ({exc.msg}); fix the file") from exc
    except Exception as exc:
        raise UserError(f"importing module '{ref.target}' failed: {type(exc).__name__}: {exc}") from exc
    finally:
        if added:
            sys.path.remove(str(Path.cwd()))
    file = getattr(module, "__file__", None)
    if not file:
        raise UserError(f"module '{ref.target}' has no source file; name a .py file instead")
    return module, Path(file).resolve()


def load(ref: Reference) -> Loaded:
    """The object `ref` names, with the bytes and hash of the file it came from; remembered per process
    for `provenance` (a file is read again on each call: an unchanged one is not executed twice)."""
    if ref.kind == "file":
        module, source = import_file(Path(ref.target), f"--model {ref.text}")
        file = Path(ref.target)
    elif ref.target == "__main__":  # kindling.fit(model=Net) from a notebook or a script: this session's
        module = sys.modules["__main__"]
        file = (
            Path(module.__file__).resolve() if str(getattr(module, "__file__", "")).endswith(".py") else None
        )
        source = file.read_bytes() if file else b""
        _SESSION[ref.name] = member_of(module, ref)
    else:
        module, file = import_module(ref)
        source = file.read_bytes()
    loaded = Loaded(module, file, source, sha256_of(source) if file else None)
    _LOADED[(ref.kind, ref.target)] = loaded
    return Loaded(member_of(module, ref), file, source, loaded.sha256)


def member_of(module, ref: Reference):
    if hasattr(module, ref.name):
        return getattr(module, ref.name)
    import torch.nn as nn  # lazy: torch

    defined = [
        k
        for k, v in vars(module).items()
        if not k.startswith("_")
        and (inspect.isfunction(v) or (inspect.isclass(v) and issubclass(v, nn.Module)))
        and getattr(v, "__module__", None) == module.__name__
    ]
    raise UserError(
        f"{ref.where} has no '{ref.name}'{did_you_mean(ref.name, defined)}; "
        f"it defines: {', '.join(sorted(defined)) or 'no nn.Module class or function'}"
    )


# ---------------------------------------------------------------- building


def _image(sig) -> bool:
    return inputs_for(sig).pictures and len(sig.input_shape) == 3


def _vector(sig) -> bool:
    return not inputs_for(sig).text_lines and len(sig.input_shape) == 1


SIGNATURE_FACTS = {  # constructor parameter -> its value for this data (None: not this kind of data)
    "num_classes": lambda sig: sig.num_outputs,
    "num_outputs": lambda sig: sig.num_outputs,
    "num_targets": lambda sig: sig.num_outputs,
    "output_size": lambda sig: sig.num_outputs,  # seed 004's Model(input_size, output_size)
    "out_features": lambda sig: sig.num_outputs,
    "in_channels": lambda sig: sig.input_shape[0] if _image(sig) else None,
    "image_size": lambda sig: sig.input_shape[-1] if _image(sig) else None,
    "input_shape": lambda sig: tuple(sig.input_shape),
    "in_features": lambda sig: sig.input_shape[0] if _vector(sig) else None,
    "num_features": lambda sig: sig.input_shape[0] if _vector(sig) else None,
    "input_size": lambda sig: sig.input_shape[0] if _vector(sig) else None,
    "vocab_size": lambda sig: len(sig.extras["vocab"]) if "vocab" in sig.extras else None,
    "pad_size": lambda sig: sig.input_shape[0] if inputs_for(sig).text_lines else None,
    "class_names": lambda sig: list(sig.class_names),
}


def construct(obj, sig, options: dict, label: str):
    """A class or factory called with `options` plus the data's facts; an instance is returned as is."""
    import torch.nn as nn  # lazy: torch

    if isinstance(obj, nn.Module):
        if options:
            raise UserError(f"{label} is a model instance; it takes no options (got {', '.join(options)})")
        return obj
    if inspect.isclass(obj) and not issubclass(obj, nn.Module):
        raise UserError(f"{label} is the class {obj.__name__}, not an nn.Module subclass")
    if not callable(obj):
        raise UserError(
            f"{label} is a {type(obj).__name__}, not an nn.Module subclass or a function returning one"
        )
    kwargs = _arguments(obj, sig, dict(options), label)
    try:
        model = obj(**kwargs)
    except Exception as exc:
        shown = ", ".join(f"{k}={v!r}" for k, v in kwargs.items())
        raise UserError(f"{label}({shown}) raised {type(exc).__name__}: {exc}") from exc
    if not isinstance(model, nn.Module):
        raise UserError(f"{label}(...) returned a {type(model).__name__}, not an nn.Module")
    return model


def _arguments(obj, sig, options: dict, label: str) -> dict:
    """Options checked against the signature (did-you-mean on a typo), plus the facts it asks for."""
    try:
        params = inspect.signature(obj).parameters
    except (TypeError, ValueError):
        return options
    accepts_any = any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values())
    named = [
        n
        for n, p in params.items()
        if p.kind in (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)
    ]
    for key in options:
        if key not in named and not accepts_any:
            raise UserError(
                f"{label} has no parameter '{key}'{did_you_mean(key, named)}; "
                f"its parameters: {', '.join(named) or 'none'}"
            )
    for name in named:
        if name not in options and name in SIGNATURE_FACTS:
            value = SIGNATURE_FACTS[name](sig)
            if value is not None:
                options[name] = value
    missing = [n for n in named if n not in options and params[n].default is inspect.Parameter.empty]
    if missing:
        raise UserError(
            f"{label} needs {', '.join(missing)}, which the data does not give; "
            f"set it with --set model.options.{missing[0]}=VALUE"
        )
    return options


def build(name: str, sig, options: dict | None = None):
    """`--model file.py:Name`: import, construct for the data, check its outputs against the data."""
    ref = parse(name)
    loaded = load(ref)
    instance = _INSTANCES.pop(name, None)
    if instance is not None:
        return _instance_ready(instance, loaded.obj, sig, options, ref)
    return ready(loaded.obj, sig, options, ref)


def reference_for(obj) -> str:
    """`kindling.fit(model=...)`: the `file.py:Name` spec of a class or factory defined at the top of a
    .py file, so the run records its code as `--model file.py:Name` does. An instance stands for its
    class and is trained as it is (its weights are the start), once its layers are shown to be what
    the class builds for the data, so that evaluate, predict, serve and export can rebuild it."""
    import torch.nn as nn  # lazy: torch

    target = type(obj) if isinstance(obj, nn.Module) else obj
    name = getattr(target, "__qualname__", "")
    module = sys.modules.get(getattr(target, "__module__", None) or "")
    file = getattr(module, "__file__", None) or ""
    in_session = module is not None and module.__name__ == "__main__"
    if not (
        name.isidentifier() and (file.endswith(".py") or in_session) and getattr(module, name, None) is target
    ):
        raise UserError(
            f"model {name or obj!r} is not defined at the top of a module, a notebook or a script (one "
            "defined inside a function cannot be found again); define it at the top level"
        )
    spec = f"__main__:{name}" if in_session else f"{Path(file).resolve()}:{name}"
    if in_session:
        _SESSION[name] = target
    if isinstance(obj, nn.Module):
        _INSTANCES[spec] = obj
    return spec


def session_model(record: dict):
    """The class or factory of a Bundle whose model was defined in a notebook or a script's `__main__`:
    only one this process was handed (`kindling.fit(model=Net)`), never a name looked up in `__main__` on
    the header's word (a header could name any function there). Another process cannot rebuild it."""
    obj = _SESSION.get(record.get("name"))
    if obj is None:
        raise UserError(
            f"model '{str(record.get('name'))[:60]}' was defined in the Python session that trained it (a "
            "notebook or a script), not in a module; load it in that session, or move it to a .py file and "
            "train again"
        )
    return obj


def _instance_ready(instance, cls, sig, options: dict | None, ref: Reference):
    """The instance handed to fit, if `cls` built for the data has the same parameters and buffers."""
    fresh = ready(cls, sig, options, ref)
    mine = {k: tuple(v.shape) for k, v in instance.state_dict().items()}
    theirs = {k: tuple(v.shape) for k, v in fresh.state_dict().items()}
    if mine != theirs:
        differ = sorted(k for k in set(mine) | set(theirs) if mine.get(k) != theirs.get(k))
        raise UserError(
            f"the {ref.name} instance differs from what {ref.name}(...) builds for this data (in {differ[0]}: "
            f"{mine.get(differ[0])} vs {theirs.get(differ[0])}), so it could not be rebuilt later; pass the "
            f"class (model={ref.name}) with its arguments in set={{'model.options.NAME': value}}"
        )
    _check_outputs(instance, sig, ref)
    return instance


def constructor(name: str):
    """The registry's constructor for `file.py:Name`: imported now, so a missing file or name fails at
    lookup; `ctor(sig, **options)` builds as `build` does (options checked against the user's signature)."""
    load(parse(name))

    def build_users_model(sig, **options):
        return build(name, sig, options)

    return build_users_model


def ready(obj, sig, options: dict | None, ref: Reference):
    """Constructed for the data, told whether it takes lengths, and its outputs checked."""
    model = construct(obj, sig, dict(options or {}), f"'{ref.name}' in {ref.where}")
    _mark_lengths(model)
    _check_outputs(model, sig, ref)
    return model


def _check_outputs(model, sig, ref: Reference) -> None:
    """The data's Task refuses outputs it cannot train on, before training starts, and marks a model
    that returns log-probabilities (`kindling.task.probe`)."""
    from kindling.models.common import forward  # lazy: torch

    check_user_model(task_for(sig), model, f"'{ref.text}'", forward)


def _mark_lengths(model) -> None:
    """A text model whose forward takes `lengths` gets the true lengths, as kindling's own text models do."""
    try:
        params = inspect.signature(model.forward).parameters
    except (TypeError, ValueError):
        return
    if "lengths" in params:
        model.takes_lengths = True  # read by kindling.models.common.forward


def provenance(name: str, options: dict | None = None) -> tuple[dict, bytes]:
    """The Bundle's record of where the code came from, and the source bytes for its copy.

    The bytes are those this process executed (the import is cached), not the file as it is now."""
    ref = parse(name)
    loaded = _LOADED.get((ref.kind, ref.target)) or load(ref)
    kind = "session" if ref.target == "__main__" else ref.kind  # rebuilt only in the session that has it
    record = {
        "kind": kind,
        "path" if kind == "file" else "module": ref.target,
        "file": str(loaded.file) if loaded.file else None,
        "name": ref.name,
        "reference": ref.text,
        "options": dict(options or {}),
        "sha256": loaded.sha256,
        "copy": f"code/{loaded.file.name}" if loaded.file else None,
    }
    return record, loaded.source


def check_resumed(name: str, saved: dict) -> None:
    """A resumed run continues with the code it started with (the checkpoint recorded its sha256)."""
    record, _ = provenance(name)
    if record["sha256"] != saved.get("sha256"):
        raise UserError(
            f"{record['file']} changed since this run started (sha256 differs); restore it to resume, "
            "or start a new run"
        )
