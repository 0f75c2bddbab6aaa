"""Keep the measured thread count right when the machine changes under a run.

The thread count is measured once, at the start (kindling.util.measure.choose_threads). If another program
starts using the cores mid-run, a team of OpenMP threads that each expect a core spins and waits, and
a run on all cores can end up far slower than one on a single thread. This callback times the training
steps in windows (kindling.util.measure.Pace decides when a window calls for it) and measures the candidates
again, keeping the faster; after a drop to fewer threads it measures again now and then, to take the
cores back once they are free. It is only installed where the count was measured (not with --threads,
--deterministic or several processes).
"""

from __future__ import annotations

import time

from kindling.train.events import Callback
from kindling.util.measure import Pace


class ThreadWatch(Callback):
    def __init__(self, cores: int):
        self.cores = cores
        self.pace = Pace()
        self.last: float | None = None  # the previous step's end; None after non-step work
        self.measurements = 0

    def _skip_gap(self) -> None:
        self.last = None  # validation, checkpoints and epoch ends are not training steps

    def on_epoch_start(self, trainer) -> None:
        self._skip_gap()

    def on_validation_end(self, trainer, metrics: dict) -> None:
        self._skip_gap()

    def on_step_end(self, trainer) -> None:
        now = time.perf_counter()
        last, self.last = self.last, now
        if last is None:
            return
        per_step = self.pace.add(now - last, fewer_threads=trainer.threads < self.cores)
        if per_step is not None:
            self._measure(trainer, per_step)

    def _measure(self, trainer, per_step: float) -> None:
        from kindling.train.calibrate import pick_threads  # lazy: torch

        self.measurements += 1
        threads, how = pick_threads(trainer, requested=0)
        if threads != trainer.threads and trainer.dist.is_main:
            trainer.echo(
                f"steps took {per_step * 1e3:.1f} ms against {self.pace.reference * 1e3:.1f} ms earlier: "
                f"threads {trainer.threads} -> {threads} ({how})"
            )
        trainer.threads = threads
        self.pace.restart()
        self._skip_gap()
