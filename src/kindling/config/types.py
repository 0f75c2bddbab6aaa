"""Building the config's dataclasses from plain dicts, strictly: every value checked against its field's
annotation (ints accepted for floats), unknown keys refused with a did-you-mean, naming where each sits;
and the command-line flags that fields declare in their metadata (`flags_of`).
"""

from __future__ import annotations

import dataclasses
import types
import typing
from dataclasses import dataclass, fields
from typing import Any, Union

from kindling.errors import UserError, did_you_mean


def is_dataclass_type(tp: Any) -> bool:
    return isinstance(tp, type) and dataclasses.is_dataclass(tp)


def _coerce(value: Any, tp: Any, where: str) -> Any:
    """Check `value` against the annotation `tp`; ints are accepted for floats. Raise UserError."""
    origin = typing.get_origin(tp)
    if origin in (Union, types.UnionType):
        args = typing.get_args(tp)
        if value is None and type(None) in args:
            return None
        errors = []
        for arg in (a for a in args if a is not type(None)):
            try:
                return _coerce(value, arg, where)
            except UserError as exc:
                errors.append(str(exc))
        raise UserError(errors[0])
    if origin is list:
        (item_tp,) = typing.get_args(tp) or (Any,)
        if isinstance(value, str):  # --set data.drop=a,b
            value = [v for v in value.split(",") if v]
        if isinstance(value, tuple):
            value = list(value)
        if not isinstance(value, list):
            raise UserError(f"{where} must be a list, got {value!r}")
        return [_coerce(v, item_tp, f"{where}[{i}]") for i, v in enumerate(value)]
    if tp is dict or origin is dict:
        if value is None:
            return {}
        if not isinstance(value, dict):
            raise UserError(f"{where} must be a mapping, got {value!r}")
        return value
    if tp is Any:
        return value
    if tp is bool:
        if isinstance(value, bool):
            return value
        raise UserError(f"{where} must be true or false, got {value!r}")
    if tp is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        if isinstance(value, float) and value.is_integer():
            return int(value)
        raise UserError(f"{where} must be an integer, got {value!r}")
    if tp is float:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
        if isinstance(value, str):  # YAML 1.1 reads 1e-3 (no dot) as a string
            try:
                return float(value)
            except ValueError:
                pass
        raise UserError(f"{where} must be a number, got {value!r}")
    if tp is str:
        if isinstance(value, (str, int, float)) and not isinstance(value, bool):
            return str(value)
        raise UserError(f"{where} must be a string, got {value!r}")
    return value


def from_dict(cls: type, data: dict | None, where: str = "") -> Any:
    """Build dataclass `cls` from `data`, refusing unknown keys (with a did-you-mean) and wrong types."""
    data = data or {}
    if not isinstance(data, dict):
        raise UserError(f"{where or 'config'} must be a mapping of keys to values, got {data!r}")
    hints = typing.get_type_hints(cls)
    names = [f.name for f in fields(cls)]
    kwargs = {}
    for key, value in data.items():
        dotted = f"{where}.{key}" if where else str(key)
        if key not in hints:
            raise UserError(
                f"unknown config key '{dotted}'{did_you_mean(key, names)}; valid keys here: {', '.join(names)}"
            )
        tp = hints[key]
        kwargs[key] = from_dict(tp, value, dotted) if is_dataclass_type(tp) else _coerce(value, tp, dotted)
    return cls(**kwargs)


@dataclass(frozen=True)
class Flag:
    """One `kindling train` flag, generated from a config field's metadata."""

    flag: str
    key: str  # dotted config key, e.g. optim.lr
    type: type  # int | float | str; bool is a switch (store_true)
    help: str
    default: Any
    repeat: bool = False  # given once per value (--metric A --metric B): a list


def _flag_type(tp: Any) -> type:
    """The argparse type of an annotation: `int | None` -> int, a list -> str (comma-separated), and
    `str | list[str]` -> str."""
    args = [a for a in typing.get_args(tp) if a is not type(None)]
    if typing.get_origin(tp) in (Union, types.UnionType) and (len(args) == 1 or str in args):
        tp = str if str in args else args[0]
    return str if typing.get_origin(tp) is list else tp


def flags_of(cls: type, prefix: str = "") -> list[Flag]:
    """Every field of dataclass `cls` with a `flag` in its metadata, in declaration order, sections included."""
    found: list[Flag] = []
    hints = typing.get_type_hints(cls)
    defaults = cls()
    for f in fields(cls):
        key = f"{prefix}{f.name}"
        if is_dataclass_type(hints[f.name]):
            found += flags_of(hints[f.name], f"{key}.")
            continue
        if "flag" in f.metadata:
            tp = _flag_type(hints[f.name])
            found.append(
                Flag(
                    f.metadata["flag"],
                    key,
                    tp,
                    f.metadata["help"],
                    getattr(defaults, f.name),
                    f.metadata.get("repeat", False),
                )
            )
        for flag, (option, text) in f.metadata.get("option_flags", {}).items():
            found.append(Flag(flag, f"{key}.{option}", str, text, getattr(defaults, f.name).get(option)))
    return found
