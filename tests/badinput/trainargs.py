"""The `kindling train` command line of the input-surface cases: tiny, quiet, one thread, in the folder.

Each case fails before training; should one not, `--dry-run` keeps the cost to one batch.
"""

from __future__ import annotations

from pathlib import Path

QUIET = ["--threads", "1", "--epochs", "1", "--logger", "none", "--dry-run"]


def train(folder: Path, *args) -> list[str]:
    """`kindling train --run-dir FOLDER/run ... ARGS`: the run directory must not be left behind."""
    return ["train", "--run-dir", str(folder / "run"), *QUIET, *map(str, args)]


def write(path: Path, content: str | bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content, encoding="utf-8")
    return path
