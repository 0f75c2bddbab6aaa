"""Helpers shared by tests (import as `from kindling_testing import train_run`)."""

from __future__ import annotations

from pathlib import Path


def train_run(run_dir: Path, *args: str) -> Path:
    """Train in-process through the real CLI entry point; return the run directory."""
    from kindling.cli.main import main

    rc = main(["train", "--run-dir", str(run_dir), "--threads", "1", *args])
    assert rc == 0, f"training failed with exit code {rc}"
    return run_dir


def write_sentiment_tsv(path: Path, rows: int = 80) -> Path:
    """A small headerless `label<TAB>text` file (pos/neg) that a text model learns in an epoch or two."""
    filler = ["the", "a", "film", "was", "very", "quite", "plot", "cast"]
    lines = [
        ("pos" if i % 2 else "neg")
        + "\t"
        + ("good great " if i % 2 else "bad awful ")
        + " ".join(filler[i % 8 :])
        for i in range(rows)
    ]
    path.write_text("\n".join(lines) + "\n")
    return path
