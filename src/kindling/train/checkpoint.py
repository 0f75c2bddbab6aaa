"""The full training state in `checkpoints/last.pt`: plain tensors and numbers, written atomically."""

from __future__ import annotations

from pathlib import Path

from kindling.errors import UserError
from kindling.util.envinfo import VERSION as __version__
from kindling.util.fileio import atomic_torch_save, load_checkpoint

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
    _check_parts(path, state)
    return state


# the parts `persist.load_state` restores, and the type each must have
REQUIRED = {"model": dict, "optimizer": dict, "progress": dict, "history": list, "rng": dict}


def _check_parts(path: Path, state: dict) -> None:
    """A checkpoint edited or written by something else: one line naming the part, before anything runs."""
    for key, kind in REQUIRED.items():
        if key not in state:
            raise UserError(
                f"{path} lacks the training state's '{key}'; it is damaged: retrain, or resume another run"
            )
        if not isinstance(state[key], kind):
            raise UserError(
                f"{path}: the training state's '{key}' is a {type(state[key]).__name__}, not a {kind.__name__}; "
                "it is damaged: retrain, or resume another run"
            )
    if not isinstance(state["optimizer"].get("param_groups"), list):
        raise UserError(f"{path}: the optimizer state has no parameter groups; it is damaged: retrain")
