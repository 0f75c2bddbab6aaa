"""Bad multi-label data (and a CSV of images whose target is a measurement): a label column with an empty label set on every row (label sets in a CSV of
image paths or of texts, 0/1 columns that are all 0, annotation lines without labels, a 0/1 matrix of
zeros from a `py:` file), label columns that are not 0/1, a --target list naming a column that is not
there, an empty data.label_sep, and a label in val that training never saw. One line each, exit 2."""

from __future__ import annotations

from pathlib import Path

from badinput.cases_images import png
from badinput.harness import Case
from badinput.trainargs import train, write


def _images(folder: Path, n: int = 12) -> list[str]:
    for i in range(n):
        write(folder / "img" / f"{i}.png", png(i))
    return [f"img/{i}.png" for i in range(n)]


def _image_csv(tags: list[str], extra: tuple = ("--task", "multilabel")):
    def build(folder: Path) -> list[str]:
        paths = _images(folder, len(tags))
        rows = "".join(f"{p},{t}\n" for p, t in zip(paths, tags))
        csv = write(folder / "labels.csv", "path,tags\n" + rows)
        return train(folder, "--data", f"csv:{csv}", "--target", "tags", *extra)

    return build


def _table(content: str, target: str, *extra: str):
    def build(folder: Path) -> list[str]:
        csv = write(folder / "t.csv", content)
        return train(folder, "--data", f"csv:{csv}", "--target", target, "--model", "mlp", *extra)

    return build


TABLE = "x1,x2,a,b\n" + "".join(f"{i},{i % 7},{i % 2},{int(i % 3 == 0)}\n" for i in range(40))
ZEROS = "x1,x2,a,b\n" + "".join(f"{i},{i % 7},0,0\n" for i in range(40))
TEXTS = "text,tags\n" + "".join(
    f"a long sentence about thing number {i} and more words,\n" for i in range(40)
)


def _annotations(lines: list[str], *extra: str, val: list[str] | None = None):
    def build(folder: Path) -> list[str]:
        paths = _images(folder, len(lines))
        body = "".join(f"{p} {labels}".rstrip() + "\n" for p, labels in zip(paths, lines))
        spec = write(folder / "train.txt", body)
        more = []
        if val is not None:
            more = [
                "--set",
                f"data.val={write(folder / 'val.txt', ''.join(f'{p} {v}' + chr(10) for p, v in zip(paths, val)))}",
            ]
        return train(folder, "--data", f"annotations:{spec}", *extra, *more)

    return build


def _arrays(body: str):
    def build(folder: Path) -> list[str]:
        source = write(folder / "mydata.py", "import numpy as np\n\n\ndef make():\n" + body)
        return train(folder, "--data", f"py:{source}:make", "--model", "mlp")

    return build


CASES = [
    Case("multilabel-image-csv-all-empty", _image_csv([""] * 12), "empty label set on every row"),
    Case(
        "multilabel-image-csv-only-separators", _image_csv(["|", " | "] * 6), "empty label set on every row"
    ),
    Case("multilabel-text-csv-all-empty", _table(TEXTS, "tags", "--task", "multilabel"), "empty label set"),
    Case(
        "csv-images-with-measurements",
        _image_csv([f"{i * 1.37:.2f}" for i in range(12)], ()),
        "classified, not regressed",
    ),
    Case("multilabel-01-columns-all-zero", _table(ZEROS, "a,b"), "empty label set on every row"),
    Case("multilabel-01-column-not-01", _table(TABLE + "99,1,2,0\n", "a,b"), "holds 0 or 1"),
    Case("multilabel-target-list-typo", _table(TABLE, "a,bb"), "'bb'"),
    Case("multilabel-empty-label-sep", _image_csv(["a|b"] * 12, ("--set", "data.label_sep=")), "label_sep"),
    Case(
        "multilabel-annotations-no-labels", _annotations([""] * 10, "--task", "multilabel"), "empty label set"
    ),
    Case(
        "multilabel-annotations-unknown-val-label",
        _annotations(["cat dog", "dog"] * 5, val=["cat bird"] * 10),
        "'bird' is not one the model knows",
    ),
    Case(
        "multilabel-arrays-all-zero",
        _arrays("    return np.random.default_rng(0).random((30, 4)), np.zeros((30, 3))\n"),
        "0 everywhere",
    ),
    Case(
        "multilabel-arrays-not-01",
        _arrays("    y = np.zeros((30, 3))\n    y[4, 1] = 3\n    return np.ones((30, 4)), y\n"),
        "Y[4, 1] is 3.0",
    ),
]
