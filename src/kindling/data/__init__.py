"""Data sources. `build(cfg.data)` -> DataModule; each source kind registers a builder by prefix.

A spec is either a name (`digits`, `mnist`) or `kind:argument` (`folder:photos`, `csv:temps.csv`).
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable
from contextvars import ContextVar
from dataclasses import dataclass

from kindling.data.memory import Split
from kindling.data.signature import Signature
from kindling.errors import unknown


@dataclass
class DataModule:
    signature: Signature
    train: Split
    val: Split | None
    test: Split | None
    description: str = ""

    def split(self, name: str) -> Split | None:
        return {"train": self.train, "val": self.val, "test": self.test}[name]


# name -> (module that registers it, one-line description). Modules import lazily so that
# `kindling list datasets` and the digits path never import torchvision.
NAMED: dict[str, tuple[str, str]] = {
    "digits": (
        "kindling.data.embedded",
        "scikit-learn's bundled 8x8 handwritten digits (1,797 images, 10 classes)",
    ),
    "wine": ("kindling.data.tables.source", "scikit-learn's bundled wine table (178 rows, 3 classes)"),
    "diabetes": (
        "kindling.data.tables.source",
        "scikit-learn's bundled diabetes table (442 rows, regression)",
    ),
    "mnist": (
        "kindling.data.images.builtin",
        "MNIST handwritten digits via torchvision (28x28 grey, 10 classes) in --data-dir",
    ),
    "fashion-mnist": (
        "kindling.data.images.builtin",
        "Fashion-MNIST via torchvision (28x28 grey, 10 classes) in --data-dir",
    ),
    "cifar10": (
        "kindling.data.images.builtin",
        "CIFAR-10 via torchvision (32x32 colour, 10 classes) in --data-dir",
    ),
    "cifar100": (
        "kindling.data.images.builtin",
        "CIFAR-100 via torchvision (32x32 colour, 100 classes) in --data-dir",
    ),
}
KINDS: dict[str, tuple[str, str]] = {
    "folder:": (
        "kindling.data.images.folder",
        "images: folder:DIR with a folder per class (train/ and val/ inside, or a seeded split)",
    ),
    "annotations:": (
        "kindling.data.images.annotations",
        "images: annotations:FILE of `filename label` lines (data.root, data.val, data.test)",
    ),
    "csv:": ("kindling.data.tables.source", "a table: csv:FILE (.csv, .tsv, .parquet) with --target COLUMN"),
    "text:": (
        "kindling.data.text",
        "labelled text: text:DIR (THUCNews train/dev/test.txt + class.txt) or text:FILE (.tsv/.csv/.jsonl)",
    ),
}
_BUILDERS: dict[str, Callable] = {}


def register(name: str) -> Callable:
    """Decorator: `@register("digits")` or `@register("folder:")` for a prefix kind."""

    def wrap(fn: Callable) -> Callable:
        _BUILDERS[name] = fn
        return fn

    return wrap


def resolve(spec: str) -> Callable:
    key = spec.split(":", 1)[0] + ":" if ":" in spec else spec
    table = KINDS if key.endswith(":") else NAMED
    if key not in table:
        hint = (
            "see `kindling list datasets`; file sources are folder:DIR, annotations:FILE, csv:FILE, text:PATH"
        )
        raise unknown("data set", spec, list(NAMED) + list(KINDS), hint)
    importlib.import_module(table[key][0])
    return _BUILDERS[key]


def source_module(spec: str) -> str | None:
    """The module that builds `spec`'s data (kindling.data.images..., .text, .tables...), without
    importing it; None for an unknown spec."""
    key = spec.split(":", 1)[0] + ":" if ":" in spec else spec
    found = (KINDS if key.endswith(":") else NAMED).get(key)
    return found[0] if found else None


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
