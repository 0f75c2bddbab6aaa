"""Subcommands contributed by optional modules. Each module has `add_commands(subparsers)` and sets
`handler=` on its parsers with `set_defaults`. A module that is absent is skipped."""

from __future__ import annotations

import importlib

MODULES = [
    "kindling.serve.cli",
    "kindling.export",
    "kindling.report.cli",
    "kindling.doctor",
]


def add_commands(sub) -> None:
    for name in MODULES:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name and exc.name.startswith("kindling"):
                continue
            raise
        module.add_commands(sub)
