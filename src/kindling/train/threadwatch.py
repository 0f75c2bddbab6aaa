"""Keep the measured thread count right when the machine changes under a run.

The thread count is measured once, at the start (device.choose_threads). If another program starts using
the cores mid-run, a team of OpenMP threads that each expect a core spins and waits: measured here, the
digits demo at 2 threads took 40.6 s with a one-core busy loop beside it, against 17.3 s at 1 thread and
14.6 s at 2 threads on a quiet machine. This callback times the training steps in windows; when they
become 1.5x slower than the first window it measures 1 thread against all cores again and keeps the faster,
and after a drop to fewer threads it measures again now and then, to take the cores back once they are free.
It is only installed where the count was measured (not with --threads, --deterministic or several processes).
"""

from __future__ import annotations

import time

from kindling.train.events import Callback

WINDOW = 50  # steps per timing window
SLOWER = 1.5  # a window this much slower than the reference one triggers a new measurement
RECHECK = 20  # windows between measurements while running on fewer threads than the machine has


class ThreadWatch(Callback):
    def __init__(self, cores: int):
        self.cores = cores
        self.reference: float | None = None
        self.windows_since = 0
        self.last: float | None = None  # the previous step's end; None after non-step work
        self.spent, self.steps = 0.0, 0
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
        self.spent += now - last
        self.steps += 1
        if self.steps < WINDOW:
            return
        per_step, self.spent, self.steps = self.spent / self.steps, 0.0, 0
        self.windows_since += 1
        if self.reference is None:
            self.reference = per_step
            return
        fewer = trainer.threads < self.cores
        if per_step > SLOWER * self.reference or (fewer and self.windows_since >= RECHECK):
            self._measure(trainer, per_step)

    def _measure(self, trainer, per_step: float) -> None:
        from kindling.train.calibrate import pick_threads

        self.measurements += 1
        threads, how = pick_threads(trainer, requested=0)
        if threads != trainer.threads and trainer.dist.is_main:
            trainer.echo(
                f"steps took {per_step * 1e3:.1f} ms against {self.reference * 1e3:.1f} ms earlier: "
                f"threads {trainer.threads} -> {threads} ({how})"
            )
        trainer.threads = threads
        self.reference, self.windows_since = None, 0  # learn the new pace
        self._skip_gap()
