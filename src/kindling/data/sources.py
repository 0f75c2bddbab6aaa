"""Which module builds which data spec, without importing any of them (nor torch): `kindling list
datasets` answers at once."""

from __future__ import annotations

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


def source_module(spec: str) -> str | None:
    """The module that builds `spec`'s data (kindling.data.images..., .text, .tables...), without
    importing it; None for an unknown spec."""
    key = spec.split(":", 1)[0] + ":" if ":" in spec else spec
    found = (KINDS if key.endswith(":") else NAMED).get(key)
    return found[0] if found else None
