"""What `read_bundle` checks before a Bundle is trusted: the metadata, the weights, and the two against each other.

A Bundle is user input (copied, edited, truncated, renamed): every inconsistency becomes one `UserError`
line naming the file and the field, at load time, so `evaluate`, `predict`, `export` and `serve` (before it
listens) refuse a damaged Bundle the same way instead of failing later with a traceback or a 503 per request.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

from kindling.errors import UserError

TASKS = ("classification", "regression", "multilabel")
INPUT_KINDS = ("image", "tabular", "text", "vector")
DAMAGED = "the bundle is damaged; retrain or restore it"


def parse_meta(text: str, file: Path) -> dict:
    """The `kindling` JSON of the safetensors header -> a dict with every required field of the right type."""
    try:
        meta = json.loads(text)
    except (json.JSONDecodeError, RecursionError) as exc:
        reason = exc.msg if isinstance(exc, json.JSONDecodeError) else "nested too deeply"
        raise UserError(f"{file}: its kindling metadata is not valid JSON ({reason}); {DAMAGED}") from exc
    if not isinstance(meta, dict):
        raise UserError(f"{file}: its kindling metadata is a {type(meta).__name__}, not an object; {DAMAGED}")
    check_meta(meta, file)
    return meta


def check_meta(meta: dict, file: Path) -> None:
    """Required keys and types of the metadata, and the signature's own consistency."""
    model = _field(meta, "model", dict, file)
    name = _field(model, "name", str, file, "model.name")
    if not name:
        raise UserError(f"{file}: field 'model.name' is empty; {DAMAGED}")
    if "options" in model:
        _field(model, "options", dict, file, "model.options")
    for key in ("metrics", "env", "data"):
        if meta.get(key) is not None:
            _field(meta, key, dict, file)
    check_signature(_field(meta, "signature", dict, file), file)
    if meta.get("decision") is not None:  # a two-class threshold (kindling.task.threshold)
        from kindling.task.threshold import check_decision  # lazy: numpy

        check_decision(meta["decision"], file, len(meta["signature"].get("class_names", [])))
    _check_thresholds(meta, file)


def _check_thresholds(meta: dict, file: Path) -> None:
    """A multi-label model's tuned thresholds: one number in [0, 1] per label."""
    thresholds = (meta.get("metrics") or {}).get("thresholds")
    if thresholds is None:
        return
    labels = len(meta["signature"].get("class_names") or [])
    if (
        not isinstance(thresholds, list)
        or len(thresholds) != labels
        or not all(
            isinstance(t, (int, float)) and not isinstance(t, bool) and 0 <= t <= 1 for t in thresholds
        )
    ):
        raise UserError(
            f"{file}: field 'metrics.thresholds' must be {labels} numbers in [0, 1], one per label; {DAMAGED}"
        )


def check_signature(sig: dict, file: Path) -> None:
    where = "signature."
    task = _field(sig, "task", str, file, where + "task")
    if task not in TASKS:
        raise UserError(f"{file}: field 'signature.task' is '{task[:40]}', not one of {', '.join(TASKS)}")
    kind = _field(sig, "input_kind", str, file, where + "input_kind")
    if kind not in INPUT_KINDS:
        raise UserError(
            f"{file}: field 'signature.input_kind' is '{kind[:40]}', not one of {', '.join(INPUT_KINDS)}"
        )
    shape = _field(sig, "input_shape", list, file, where + "input_shape")
    if not shape or not all(type(d) is int and d >= 1 for d in shape) or len(shape) > 4:
        raise UserError(
            f"{file}: field 'signature.input_shape' is {_short(shape)}; it must be 1 to 4 positive integers"
        )
    if kind == "image" and len(shape) != 3:
        raise UserError(f"{file}: field 'signature.input_shape' is {shape}; an image model takes [C, H, W]")
    names = sig.get("class_names", [])
    if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
        raise UserError(f"{file}: field 'signature.class_names' must be a list of strings; {DAMAGED}")
    if task in ("classification", "multilabel") and len(names) < 1:
        raise UserError(f"{file}: field 'signature.class_names' is empty; a {task} model needs them")
    _check_normalisation(sig, shape, kind, file)
    if not isinstance(sig.get("extras", {}), dict):
        raise UserError(f"{file}: field 'signature.extras' must be an object; {DAMAGED}")


def _check_normalisation(sig: dict, shape: list[int], kind: str, file: Path) -> None:
    """mean / std: finite numbers, one per channel (images) or per feature (tables), std above zero."""
    values = {}
    for key in ("mean", "std"):
        value = sig.get(key, [])
        if not isinstance(value, list) or not all(
            isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) for v in value
        ):
            raise UserError(f"{file}: field 'signature.{key}' must be a list of finite numbers; {DAMAGED}")
        values[key] = value
    mean, std = values["mean"], values["std"]
    if kind == "text" or not (mean or std):
        return
    width = shape[0] if kind == "image" else shape[-1]
    unit = "channel" if kind == "image" else "feature"
    for key, value in values.items():
        if len(value) not in (1, width):
            raise UserError(
                f"{file}: field 'signature.{key}' has {len(value)} values but the model takes {width} "
                f"{unit}{'s' if width > 1 else ''} (input_shape {shape}); {DAMAGED}"
            )
    if any(s <= 0 for s in std):
        raise UserError(f"{file}: field 'signature.std' has a value <= 0; {DAMAGED}")


def _field(data: dict, key: str, kind: type, file: Path, label: str | None = None):
    label = label or key
    if key not in data:
        raise UserError(f"{file}: the metadata lacks field '{label}'; {DAMAGED}")
    value = data[key]
    if not isinstance(value, kind) or isinstance(value, bool):
        raise UserError(
            f"{file}: field '{label}' is {_json_type(value)}, not {_json_type(kind())}; {DAMAGED}"
        )
    return value


def _json_type(value) -> str:
    """The JSON name of a value's type, as a user who edited the file sees it."""
    names = {bool: "a boolean", dict: "an object", list: "a list", str: "a string", type(None): "null"}
    return names.get(type(value), "a number" if isinstance(value, (int, float)) else type(value).__name__)


def check_weights(state: dict, model, name: str, file: Path) -> None:
    """The tensors of the file against the model the metadata builds: names, shapes, finite values."""
    expected = model.state_dict()
    missing = [k for k in expected if k not in state]
    unexpected = [k for k in state if k not in expected]
    if missing:
        raise UserError(
            f"{file}: the weights lack {_listed(missing, 'tensor')} that model '{name}' needs; {DAMAGED}"
        )
    if unexpected:
        raise UserError(
            f"{file}: the weights hold {_listed(unexpected, 'tensor')} that model '{name}' does not have; "
            + DAMAGED
        )
    for key, tensor in state.items():
        want = list(expected[key].shape)
        if list(tensor.shape) != want:
            raise UserError(
                f"{file}: tensor '{key}' has shape {list(tensor.shape)} but model '{name}' built from the "
                f"metadata (signature, model.options) expects {want}; {DAMAGED}"
            )
    for key, tensor in state.items():
        if tensor.is_floating_point() and not bool(tensor.isfinite().all()):
            raise UserError(
                f"{file}: tensor '{key}' holds NaN or infinite values (training diverged, or the file was "
                "edited); retrain with a lower learning rate or restore the file"
            )


def compare_copy(meta: dict, folder: Path) -> str | None:
    """bundle.json (the readable copy) against the safetensors header (the one read): a warning or None."""
    copy = folder / "bundle.json"
    if not copy.is_file():
        return None
    used = f"using the metadata in {folder / 'model.safetensors'}; bundle.json is only a readable copy"
    try:
        other = json.loads(copy.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError, RecursionError):
        return f"{copy} is not valid JSON; {used}"
    where = _first_difference(meta, other)
    if where is None:
        return None
    return f"{copy} differs from the weights' header at '{where}'; {used}"


def _first_difference(a, b, path: str = "") -> str | None:
    """The dotted path of the first place two JSON values differ, or None when they are equal."""
    if isinstance(a, dict) and isinstance(b, dict):
        for key in list(a) + [k for k in b if k not in a]:
            if key not in a or key not in b:
                return f"{path}{key}"
            found = _first_difference(a[key], b[key], f"{path}{key}.")
            if found is not None:
                return found
        return None
    if isinstance(a, list) and isinstance(b, list) and len(a) == len(b):
        for i, (x, y) in enumerate(zip(a, b)):
            if _first_difference(x, y) is not None:
                return f"{path.rstrip('.')}[{i}]"
        return None
    both_nan = isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b)
    if a != b and not both_nan:  # a NaN metric is written as NaN in both copies
        return path.rstrip(".") or "(top level)"
    return None


def _listed(items: list[str], what: str, limit: int = 3) -> str:
    shown = ", ".join(f"'{i[:60]}'" for i in items[:limit])
    more = f" and {len(items) - limit} more" if len(items) > limit else ""
    return f"{len(items)} {what}{'s' if len(items) != 1 else ''} ({shown}{more})"


def _short(value, limit: int = 60) -> str:
    text = json.dumps(value, default=str)
    return text if len(text) <= limit else text[: limit - 3] + "..."
