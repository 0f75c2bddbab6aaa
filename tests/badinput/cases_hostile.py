"""Files built to exhaust memory (issue 21): a few good lines followed by 2 GiB of NUL bytes, given as every
kind of file kindling reads (tables, text data, THUCNews folders, annotation files, class names, word
vectors, a vocab.pkl, a recipe), a table of 100,000 columns and a line of 17 million characters.

Each must be refused in one line at a cost bounded by what is kept, not by the file's size: the test runs
them in a child process under a memory ceiling (test_hostile.py). The 2 GiB are a sparse file (written
head, then `truncate`): they cost no disk, and read back as zeros.
"""

from __future__ import annotations

from pathlib import Path

from badinput.cases_images import folder_of
from badinput.cases_tables import GOOD
from badinput.cases_text import JSONL, THUC, TSV
from badinput.harness import Case
from badinput.trainargs import train, write

PADDED = 2**31  # bytes: the file the probe used grew the reader past 17 GB in 55 s


def padded(path: Path, head: str | bytes = b"", size: int = PADDED) -> Path:
    """`head`, then NUL bytes up to `size` (a sparse file: no disk is used for them)."""
    write(path, head)
    with open(path, "r+b") as f:
        f.truncate(size)
    return path


def wide_csv(path: Path, columns: int = 100_000, rows: int = 30) -> Path:
    """The issue's 6.7 MB table: 30 rows of 100,000 one-digit columns and a target."""
    header = ",".join(f"c{i}" for i in range(columns)) + ",y\n"
    body = "".join(
        ",".join(str((r * 7 + i) % 10) for i in range(columns)) + f",{r % 2}\n" for r in range(rows)
    )
    return write(path, header + body)


def _text_model(folder: Path, *extra) -> list[str]:
    """A healthy small text file and a text model: what goes wrong is in `extra`."""
    data = write(folder / "t.txt", TSV)
    return train(
        folder, "--data", f"text:{data}", "--model", "textrnn", "--set", "model.options.hidden=4", *extra
    )


def _table(name: str, file: str, head: str | bytes, expect: str) -> Case:
    def build(folder: Path) -> list[str]:
        return train(
            folder, "--data", f"csv:{padded(folder / file, head)}", "--target", "y", "--model", "mlp"
        )

    return Case(f"hostile-table-{name}", build, expect)


def _long_line(folder: Path) -> list[str]:
    table = write(folder / "long.csv", "a,y\n" + "x" * 17_000_000 + ",1\n")
    return train(folder, "--data", f"csv:{table}", "--target", "y", "--model", "mlp")


def _thucnews(folder: Path) -> list[str]:
    root = folder / "d"
    for part in ("dev", "test"):
        write(root / f"{part}.txt", THUC)
    padded(root / "train.txt", THUC)
    return train(folder, "--data", f"text:{root}")


def _annotations(folder: Path) -> list[str]:
    images = folder_of(folder / "img", n=3)
    lines = "".join(f"{c}/{i}.png {k}\n" for k, c in enumerate(("cat", "dog")) for i in range(3))
    return train(
        folder, "--data", f"annotations:{padded(folder / 'a.txt', lines)}", "--set", f"data.root={images}"
    )


def _class_names(folder: Path) -> list[str]:
    images = folder_of(folder / "img", n=3)
    names = padded(folder / "names.txt", "cat\ndog\n")
    return train(folder, "--data", f"folder:{images}", "--set", f"data.class_names={names}")


def _recipe(folder: Path) -> list[str]:
    return ["train", padded(folder / "recipe.yaml", "data:\n  name: digits\n"), "--run-dir", folder / "run"]


CASES = [
    _table("csv", "t.csv", GOOD, "t.csv: line 42 holds a NUL byte"),
    _table("tsv", "t.tsv", GOOD.replace(",", "\t"), "t.tsv: line 42 holds a NUL byte"),
    _table("utf16", "t.csv", "\ufeffa,y\n1,0\n".encode("utf-16-le"), "t.csv: line 3 holds a NUL byte"),
    _table("parquet", "t.parquet", b"", "not a readable Parquet file"),
    Case(
        "hostile-table-100k-columns",
        lambda f: train(f, "--data", f"csv:{wide_csv(f / 'wide.csv')}", "--target", "y", "--model", "mlp"),
        "up to 10,000 columns",
    ),
    Case("hostile-table-17m-character-line", _long_line, "longer than 16,777,216 characters"),
    Case("hostile-text-tsv", lambda f: train(f, "--data", f"text:{padded(f / 't.txt', TSV)}"), "NUL byte"),
    Case(
        "hostile-text-jsonl", lambda f: train(f, "--data", f"text:{padded(f / 't.jsonl', JSONL)}"), "NUL byte"
    ),
    Case("hostile-text-thucnews", _thucnews, "train.txt: line 41 holds a NUL byte"),
    Case("hostile-annotations", _annotations, "a.txt: line 7 holds a NUL byte"),
    Case("hostile-class-names", _class_names, "names.txt: line 3 holds a NUL byte"),
    Case("hostile-recipe", _recipe, "recipe.yaml: line 3 holds a NUL byte"),
    Case(
        "hostile-vectors-word2vec",
        lambda f: _text_model(f, "--embeddings", padded(f / "v.txt", "film 0.1 0.2\ngood 0.3 0.4\n")),
        "v.txt: line 3 holds a NUL byte",
    ),
    Case(
        "hostile-vectors-npz",
        lambda f: _text_model(f, "--embeddings", padded(f / "v.npz")),
        "not an .npz archive",
    ),
    Case(
        "hostile-vocab-pkl",
        lambda f: _text_model(f, "--vocab", padded(f / "vocab.pkl")),
        "not a readable pickle",
    ),
]
