"""Which source builds a data spec, from the `kindling.data` entry points, without importing any source
(nor torch): `kindling list datasets` answers at once.

A spec is a name (`digits`, `mnist`) or `kind:argument` (`folder:photos`, `csv:temps.csv`); a kind's
entry is named with its colon (`"folder:" = "kindling.data.images.folder:folder"`).
"""

from __future__ import annotations

from kindling import plugins

HINT = (
    "see `kindling list datasets`; file sources are folder:DIR, annotations:FILE, csv:FILE, text:PATH; "
    "your own Dataset is py:FILE.py:FUNCTION"
)


def key_of(spec: str) -> str:
    """The entry name a spec resolves through: 'folder:' for 'folder:photos', the spec itself for a name."""
    return spec.split(":", 1)[0] + ":" if ":" in spec else spec


def find(spec: str) -> plugins.Plugin | None:
    return plugins.found(plugins.DATA).get(key_of(spec))


def names() -> list[str]:
    return sorted(plugins.found(plugins.DATA))


def source_module(spec: str) -> str | None:
    """The module that builds `spec`'s data (kindling.data.images..., .text, .tables...), without
    importing it; None for an unknown spec."""
    plugin = find(spec)
    return plugin.module if plugin else None
