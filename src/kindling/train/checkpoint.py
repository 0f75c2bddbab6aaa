"""The full training state in `checkpoints/last.pt`: plain tensors and numbers, written atomically."""

from __future__ import annotations

from pathlib import Path

from kindling import __version__
from kindling.errors import UserError
from kindling.fileio import atomic_torch_save, load_checkpoint

FORMAT_VERSION = 1


def save(path: Path, state: dict) -> None:
    """Write `state` (model, optimizer, counters, rng ...) with format tags, atomically."""
    atomic_torch_save(
        {"format": "kindling-checkpoint", "format_version": FORMAT_VERSION, "kindling": __version__, **state},
        path,
    )


def load(path: Path) -> dict:
    """Load through the one safe loader and check the format version."""
    state = load_checkpoint(path)
    if state.get("format_version") != FORMAT_VERSION:
        raise UserError(
            f"{path} was written by kindling {state.get('kindling', '?')} (checkpoint format "
            f"{state.get('format_version')}), this kindling reads format {FORMAT_VERSION}; retrain or use that version"
        )
    return state
