"""A worker: take a trial (an orphan first, else the next one queued), train it, repeat until the queue
is empty or the deadline has passed. `--workers W` starts W of these as processes
(`python -m kindling.sweeps.worker FOLDER`), each with its share of the cores; one worker runs in the
sweep's own process.
"""

from __future__ import annotations

import os
import signal
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from kindling.errors import GUARD, UserError, one_line
from kindling.sweeps import study as S
from kindling.sweeps.spec import DB_FILE, Sweep
from kindling.sweeps.trial import run_trial
from kindling.train.events import Interrupted
from kindling.util.envinfo import usable_cores


@dataclass
class Session:
    """One process's handle on the sweep: its spec, the storage and the study."""

    sweep: Sweep
    storage: object
    study: object

    @classmethod
    def open(cls, sweep: Sweep) -> Session:
        """The sweep's study; one missing (its database deleted or replaced) is one line, and no empty
        database is left where it was."""
        opt = S.optuna()
        where = S.shown(sweep.storage_url())
        if sweep.own_storage and not (sweep.folder / DB_FILE).is_file():
            raise UserError(
                f"{sweep.folder / DB_FILE} is missing: the sweep's study is gone; start a new sweep"
            )
        storage = S.open_storage(sweep.storage_url())
        try:
            study = opt.load_study(study_name=sweep.name, storage=storage, pruner=sweep.make_pruner())
        except KeyError:
            raise UserError(f"{where} holds no study '{sweep.name}'; start a new sweep") from None
        return cls(sweep, storage, study)

    @property
    def study_id(self) -> int:
        return self.storage.get_study_id_from_name(self.sweep.name)

    def trial_id(self, number: int) -> int:
        return self.storage.get_trial_id_from_study_id_trial_number(self.study_id, number)

    def trials(self, *states):
        opt = S.optuna()
        wanted = tuple(getattr(opt.trial.TrialState, s) for s in states) or None
        return self.study.get_trials(deepcopy=False, states=wanted)


def work(session: Session, deadline: float | None, threads: int | None, echo=print) -> int:
    """Run trials until none is left (or the deadline passed); -> how many this worker ran."""

    ran = 0
    while deadline is None or time.time() < deadline:
        taken = _take(session)
        if taken is None:
            break
        number, lock = taken
        try:
            run_trial(session, number, threads, echo)
        finally:
            lock.release()
        ran += 1
    return ran


def _take(session: Session) -> tuple[int, S.TrialLock] | None:
    """A trial now RUNNING for this process, with its lock held: an orphan first (a trial whose worker
    died), else the next one queued. None: nothing is left to take."""
    folder, own = session.sweep.folder, session.sweep.own_storage
    for trial in session.trials("RUNNING"):
        if not S.is_orphan(trial, folder, own):
            continue
        lock = S.TrialLock(folder, trial.number)
        if lock.acquire():
            if trial.number in {t.number for t in session.trials("RUNNING")}:  # not finished meanwhile
                return trial.number, lock
            lock.release()
    with S.claim_lock(folder):
        for trial in session.trials("WAITING"):
            lock = S.TrialLock(folder, trial.number)
            if not lock.acquire():
                continue
            running = S.optuna().trial.TrialState.RUNNING
            if session.storage.set_trial_state_values(session.trial_id(trial.number), running):
                return trial.number, lock
            lock.release()
    return None


def threads_each(workers: int, configured: int) -> int | None:
    """Each worker's share of the cores when several run at once and the recipe leaves threads to kindling."""
    if workers <= 1 or configured:
        return None

    return max(1, usable_cores() // workers)


def _die_with_parent(parent: int) -> None:
    """A worker must not outlive its sweep (a SIGKILLed sweep leaves no trial running behind it): Linux's
    parent-death signal, then a check that the parent did not die before it was set."""
    try:
        import ctypes  # lazy: optional

        ctypes.CDLL(None).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):  # not Linux: the worker ends with its trial instead
        pass
    if os.getppid() != parent:
        os._exit(1)


def main(argv: list[str]) -> int:
    """`python -m kindling.sweeps.worker FOLDER PARENT_PID DEADLINE THREADS` (started by the sweep)."""

    folder, parent, deadline, threads = argv
    _die_with_parent(int(parent))
    try:
        session = Session.open(Sweep.load(Path(folder)))
        work(session, float(deadline) or None, int(threads) or None)
    except UserError as exc:
        print(f"kindling sweep: {one_line(str(exc), GUARD)}", file=sys.stderr)
        return 2
    except (Interrupted, KeyboardInterrupt):
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
