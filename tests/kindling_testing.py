"""Helpers shared by tests (import as `from kindling_testing import train_run`)."""

from __future__ import annotations

from pathlib import Path


def train_run(run_dir: Path, *args: str) -> Path:
    """Train in-process through the real CLI entry point; return the run directory."""
    from kindling.cli import main

    rc = main(["train", "--run-dir", str(run_dir), "--threads", "1", *args])
    assert rc == 0, f"training failed with exit code {rc}"
    return run_dir
