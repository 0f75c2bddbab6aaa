"""Data sources. `build(cfg.data)` -> DataModule; each source is a `kindling.data` entry point (a builder).

A spec is either a name (`digits`, `mnist`) or `kind:argument` (`folder:photos`, `csv:temps.csv`).
"""

from __future__ import annotations

import inspect
import sys
from collections.abc import Callable
from contextlib import contextmanager
from contextvars import ContextVar

from kindling import plugins
from kindling.data import sources
from kindling.data.module import DataModule  # the public name: `from kindling.data import DataModule`
from kindling.data.signature import Signature
from kindling.errors import unknown


def resolve(spec: str) -> Callable:
    """The builder for `spec`: a `kindling.data` entry, by name (`digits`) or by kind (`folder:` for
    `folder:photos`); loaded only now, so the other sources' modules (and torchvision) stay unimported."""
    plugin = sources.find(spec)
    if plugin is None:
        raise unknown("data set", spec, sources.names(), sources.HINT)
    return plugins.load(plugin)


def _to_stderr(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


_NOTES: ContextVar[Callable[[str], None]] = ContextVar("kindling_data_notes", default=_to_stderr)


def note(text: str) -> None:
    """What a source chose or skipped (column typing, tokeniser, skipped rows): on stderr, so stdout
    stays clean for `--json`; silent inside `build(cfg, quiet=True)`."""
    _NOTES.get()(text)


@contextmanager
def held_notes():
    """Hold the sources' notes (column typing ...) and give them back as a list: a run prints them only
    once the model fits the data, so a refusal is the only line and never comes after a schema table."""
    held: list[str] = []
    token = _NOTES.set(held.append)
    try:
        yield held
    finally:
        _NOTES.reset(token)


def build(
    cfg,
    quiet: bool = False,
    fitted: Signature | None = None,
    photos: int | None = None,
    objects: dict | None = None,
) -> DataModule:
    """Build the DataModule for `cfg` (a DataConfig). `quiet` drops the sources' notes (evaluate, report:
    the user saw them when training). `fitted`, a trained model's Signature, makes a source that fits
    state (vocabulary, table encoders) reuse the model's instead of fitting anew on other data.
    `photos`: the side a folder of a few photos is decoded at when kindling chooses the model for it
    (kindling.config.defaults.photo_side; None keeps every size). `objects`: the Python objects a
    `kindling.fit(data=...)` handed over, for a spec `objects:N` (kindling.data.objects). Each is passed
    to the sources that take it, as an argument."""

    token = _NOTES.set(lambda text: None) if quiet else None
    try:
        builder = resolve(cfg.name)
        takes = inspect.signature(builder).parameters
        given = {"fitted": fitted, "photos": photos, "objects": objects}
        dm = builder(cfg, **{k: v for k, v in given.items() if v is not None and k in takes})
    finally:
        if token is not None:
            _NOTES.reset(token)
    if getattr(cfg, "folds", None):  # one fold of a cross-validation (kindling cv)
        from kindling.data import folds  # lazy: it imports torch

        dm = folds.apply(dm, cfg.folds, cfg.fold, cfg.split_seed)
    return dm
