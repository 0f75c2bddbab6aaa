"""The trainer's extension points: callbacks with named events, a cancel exception, and the counters
that every checkpoint saves."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from kindling.train.trainer import Trainer


class StopTraining(Exception):
    """Raised by a callback (or early stopping) to end training cleanly after the current step."""


class Interrupted(Exception):
    """SIGINT / SIGTERM arrived: a resumable checkpoint was written; the CLI exits 130."""


@dataclass
class Progress:
    """The loop's counters; saved in every checkpoint so a resume continues exactly."""

    epoch: int = 0  # the epoch in progress, 0-based
    batch: int = 0  # batches of it already done (this rank)
    step: int = 0  # optimizer steps so far
    best: float | None = None
    best_epoch: int = -1
    bad_rounds: int = 0  # validation rounds without improvement
    last_improved_step: int = 0
    skipped_steps: int = 0  # fp16 steps the grad scaler skipped
    val_rounds: int = 0


class Callback:
    """Override any of these; each receives the trainer."""

    def on_fit_start(self, trainer: Trainer) -> None: ...
    def on_epoch_start(self, trainer: Trainer) -> None: ...
    def on_step_end(self, trainer: Trainer) -> None: ...
    def on_validation_end(self, trainer: Trainer, metrics: dict) -> None: ...
    def on_epoch_end(self, trainer: Trainer, record: dict) -> None: ...
    def on_fit_end(self, trainer: Trainer) -> None: ...


__all__ = ["Callback", "Interrupted", "Progress", "StopTraining"]
