"""Ctrl-C, SIGTERM and SIGUSR1 (Slurm's warning before a time limit or preemption) become a flag the loop
checks at a step boundary, so a resumable checkpoint is written before the process exits 130. A second
Ctrl-C stops at once; a second SIGUSR1 changes nothing (Slurm and torchrun may both pass it on)."""

from __future__ import annotations

import signal
import threading

USR1 = getattr(signal, "SIGUSR1", None)  # POSIX only
HANDLED = tuple(s for s in (signal.SIGINT, signal.SIGTERM, USR1) if s is not None)


class SignalFlag:
    def __init__(self):
        self.signum: int | None = None
        self._old: dict = {}

    def __enter__(self) -> SignalFlag:
        if threading.current_thread() is threading.main_thread():
            self._old = {s: signal.signal(s, self._handler) for s in HANDLED}
        return self

    def __exit__(self, *exc) -> None:
        for s, handler in self._old.items():
            signal.signal(s, handler)

    def _handler(self, signum, frame) -> None:
        if self.signum is not None:
            if signum == USR1:
                return
            raise KeyboardInterrupt
        self.signum = signum

    @property
    def name(self) -> str:
        return signal.Signals(self.signum).name if self.signum is not None else ""
