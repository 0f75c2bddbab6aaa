"""Data sources. `build(cfg.data)` -> DataModule; each source kind registers a builder by prefix.

A spec is either a name (`digits`, `mnist`) or `kind:argument` (`folder:photos`, `csv:temps.csv`).
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable
from contextvars import ContextVar
from dataclasses import dataclass
from typing import TYPE_CHECKING

from kindling.data.signature import Signature
from kindling.errors import unknown

if TYPE_CHECKING:  # the package itself stays torch-free: the report sidecar starts before torch loads
    from kindling.data.memory import Split


@dataclass
class DataModule:
    signature: Signature
    train: Split
    val: Split | None
    test: Split | None
    description: str = ""

    def split(self, name: str) -> Split | None:
        return {"train": self.train, "val": self.val, "test": self.test}[name]


from kindling.data.sources import KINDS, NAMED, source_module  # noqa: E402,F401  (torch-free)

_BUILDERS: dict[str, Callable] = {}


def register(name: str) -> Callable:
    """Decorator: `@register("digits")` or `@register("folder:")` for a prefix kind."""

    def wrap(fn: Callable) -> Callable:
        _BUILDERS[name] = fn
        return fn

    return wrap


def resolve(spec: str) -> Callable:
    key = spec.split(":", 1)[0] + ":" if ":" in spec else spec
    if key in ("py:", "objects:"):  # the user's own Dataset / arrays / DataFrame (kindling.data.objects)
        importlib.import_module("kindling.data.objects")
        return _BUILDERS[key]
    table = KINDS if key.endswith(":") else NAMED
    if key not in table:
        hint = (
            "see `kindling list datasets`; file sources are folder:DIR, annotations:FILE, csv:FILE, text:PATH; "
            "your own Dataset is py:FILE.py:FUNCTION"
        )
        raise unknown("data set", spec, list(NAMED) + list(KINDS), hint)
    importlib.import_module(table[key][0])
    return _BUILDERS[key]


def _to_stderr(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


_NOTES: ContextVar[Callable[[str], None]] = ContextVar("kindling_data_notes", default=_to_stderr)


def note(text: str) -> None:
    """What a source chose or skipped (column typing, tokeniser, skipped rows): on stderr, so stdout
    stays clean for `--json`; silent inside `build(cfg, quiet=True)`."""
    _NOTES.get()(text)


def build(cfg, quiet: bool = False, fitted: Signature | None = None) -> DataModule:
    """Build the DataModule for `cfg` (a DataConfig). `quiet` drops the sources' notes (evaluate, report:
    the user saw them when training). `fitted`, a trained model's Signature, makes a source that fits
    state (vocabulary, table encoders) reuse the model's instead of fitting anew on other data."""
    import inspect

    token = _NOTES.set(lambda text: None) if quiet else None
    try:
        builder = resolve(cfg.name)
        if fitted is not None and "fitted" in inspect.signature(builder).parameters:
            return builder(cfg, fitted=fitted)
        return builder(cfg)
    finally:
        if token is not None:
            _NOTES.reset(token)
