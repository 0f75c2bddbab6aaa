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


EVENTS = ("fit_start", "epoch_start", "step_end", "validation_end", "epoch_end", "fit_end")


class Callback:
    """Override any of these; each receives the trainer. Your own callbacks (`kindling.fit(callbacks=[obj])`,
    `--callback FILE.py:NAME`) get the same events and need not subclass this: an object with any of the
    `on_<event>` methods will do (docs/callbacks.md has one example per event)."""

    def on_fit_start(self, trainer: Trainer) -> None:
        """Once, before the first step (and again when a run resumes): the model, optimizer and data are
        ready, a resumed run's state is restored."""

    def on_epoch_start(self, trainer: Trainer) -> None:
        """Before each epoch's first step (and before the rest of an epoch a resume continues)."""

    def on_step_end(self, trainer: Trainer) -> None:
        """After each training batch (`trainer.progress.batch` counts them; with `--accumulate N` the
        optimizer steps, `progress.step`, every N batches)."""

    def on_validation_end(self, trainer: Trainer, metrics: dict) -> None:
        """After each pass over the validation split: `metrics` holds its loss, the task's metrics and
        yours, unprefixed (`{"loss": 0.21, "acc": 0.94, "top3": 0.99, ...}`)."""

    def on_epoch_end(self, trainer: Trainer, record: dict) -> None:
        """After each epoch, once its checkpoint is written: `record` is the line of metrics.jsonl
        (`epoch`, `step`, `lr`, `seconds`, `train_*`, `val_*`)."""

    def on_fit_end(self, trainer: Trainer) -> None:
        """Once, when training ends (epochs done or stopped early); the best Bundle is written."""


__all__ = ["EVENTS", "Callback", "Interrupted", "Progress", "StopTraining"]
