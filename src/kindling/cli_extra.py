"""Subcommands contributed by optional modules. Each module has `add_commands(subparsers)` and sets
`handler=` on its parsers with `set_defaults`. A module that is absent is skipped."""

from __future__ import annotations

from kindling.optional import import_optional

MODULES = [
    "kindling.serve.cli",
    "kindling.export",
    "kindling.report.cli",
    "kindling.doctor",
]


def add_commands(sub) -> None:
    for name in MODULES:
        module = import_optional(name)
        if module is not None:
            module.add_commands(sub)
