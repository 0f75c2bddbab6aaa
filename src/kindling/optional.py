"""Optional parts of kindling (extra subcommands, callbacks, model families) are imported by name; one
that is absent from this install is skipped, while an error inside one that is present still surfaces."""

from __future__ import annotations

import importlib
from types import ModuleType


def import_optional(name: str) -> ModuleType | None:
    try:
        return importlib.import_module(name)
    except ModuleNotFoundError as exc:
        if exc.name and (exc.name == name or exc.name.startswith("kindling")):
            return None
        raise
