"""Plug-ins: models, data sources and commands, found one way, through Python entry points.

kindling's own built-ins are declared in its pyproject.toml exactly as another package declares its own:

    [project.entry-points."kindling.models"]
    lenet = "kindling.models.classic:lenet"            # a constructor: (sig, **options) -> nn.Module
    [project.entry-points."kindling.data"]
    digits = "kindling.data.embedded:digits"            # a builder: (cfg) -> DataModule
    "folder:" = "kindling.data.images.folder:folder"    # a kind, `--data folder:DIR`: its name ends in ':'
    [project.entry-points."kindling.commands"]
    serve = "kindling.cli.serve:add_commands"           # add_commands(subparsers): parsers with handler=

Names and packages come from the installed metadata and descriptions from the source text, so listing
(`kindling list ...`) imports no plug-in module and no torch. An entry is loaded when it is used. One
from another package that fails to load is one warning line and is skipped where skipping is possible;
one of kindling's own that fails is a bug and raises.
"""

from __future__ import annotations

import ast
import importlib.util
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from importlib.metadata import EntryPoint, entry_points
from pathlib import Path

from kindling.errors import UserError

MODELS = "kindling.models"
DATA = "kindling.data"
COMMANDS = "kindling.commands"
OWN = "kindling"  # the distribution whose entries are built-ins


class PluginFailed(UserError):
    """A plug-in the user asked for by name could not be loaded."""


@dataclass(frozen=True)
class Plugin:
    name: str
    package: str  # the distribution that declares the entry
    entry: EntryPoint

    @property
    def module(self) -> str:
        return self.entry.module

    @property
    def builtin(self) -> bool:
        return self.package == OWN

    def describe(self) -> str:
        """The first line of the target's docstring, read from its source file without importing it."""
        return _doc_line(self.entry.module, self.entry.attr)

    def failure(self, exc: BaseException) -> str:
        reason = " ".join(str(exc).split())[:200]
        return (
            f"plugin '{self.name}' from package '{self.package}' failed to load "
            f"({type(exc).__name__}{': ' + reason if reason else ''})"
        )


def _package(entry: EntryPoint) -> str:
    dist = getattr(entry, "dist", None)
    return dist.name if dist is not None else "?"


@cache
def found(group: str) -> dict[str, Plugin]:
    """Every entry of `group` by name. kindling's own come first; another package's entry that takes a
    name already taken is skipped with a warning (a built-in is never replaced behind the user's back)."""
    plugins: dict[str, Plugin] = {}
    for entry in sorted(entry_points(group=group), key=lambda e: _package(e) != OWN):
        plugin = Plugin(entry.name, _package(entry), entry)
        taken = plugins.get(entry.name)
        if taken is None:
            plugins[entry.name] = plugin
        else:
            warn(
                f"plugin '{plugin.name}' from package '{plugin.package}' clashes with the one from '{taken.package}'"
            )
    return plugins


_WARNED: set[str] = set()


def warn(text: str) -> None:
    """One line on stderr, once per process, ending in '; skipped'."""
    if text not in _WARNED:
        _WARNED.add(text)
        print(f"kindling: warning: {text}; skipped", file=sys.stderr, flush=True)


def load(plugin: Plugin):
    """The entry's object, for a part the user asked for by name: another package's failure is one line
    (PluginFailed, exit 2); kindling's own failure is a bug and raises as it is."""
    try:
        return plugin.entry.load()
    except Exception as exc:
        if plugin.builtin:
            raise
        raise PluginFailed(plugin.failure(exc)) from exc


def load_each(group: str) -> Iterator[tuple[Plugin, object]]:
    """(plugin, object) for every entry that loads; another package's broken one is warned about and skipped."""
    for plugin in found(group).values():
        try:
            yield plugin, plugin.entry.load()
        except Exception as exc:
            if plugin.builtin:
                raise
            warn(plugin.failure(exc))


def listed(group: str) -> list[tuple[Plugin, str]]:
    """(plugin, description) sorted by name, without importing them. Another package's entry whose module
    is not there is warned about and left out; anything else wrong with an entry shows when it is loaded."""
    rows = []
    for plugin in sorted(found(group).values(), key=lambda p: p.name):
        missing = _missing(plugin)
        if missing is not None and not plugin.builtin:
            warn(plugin.failure(missing))
            continue
        rows.append((plugin, plugin.describe()))
    return rows


def _missing(plugin: Plugin) -> Exception | None:
    """Why the entry's module cannot be imported, as far as finding it (not running it) tells."""
    try:
        if importlib.util.find_spec(plugin.module) is None:
            return ModuleNotFoundError(f"No module named '{plugin.module}'")
    except Exception as exc:  # a parent package missing, or failing as it is imported
        return exc
    return None


@cache
def _doc_line(module: str, attr: str | None) -> str:
    """First docstring line of `module.attr` (or of the module), parsed from its source: importing the
    module would import torch, and listing must stay instant. '' when the source cannot be read."""
    try:
        spec = importlib.util.find_spec(module)
        tree = ast.parse(Path(spec.origin).read_text(encoding="utf-8"))
    except Exception:  # no spec, no source (a compiled module), unreadable: no description
        return ""
    node: ast.AST = tree
    if attr:
        top = attr.split(".")[0]
        defs = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)
        node = next((n for n in tree.body if isinstance(n, defs) and n.name == top), None)
        if node is None:
            return ""
    doc = (ast.get_docstring(node) or "").strip()
    return doc.splitlines()[0] if doc else ""
