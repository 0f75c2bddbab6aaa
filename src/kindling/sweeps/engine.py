"""A sweep from start to results: settle it, make its folder and study, run the workers, sum up.

    folder = start(settle("recipes/digits.yaml", ["optim.lr=loguniform:1e-4:1e-1"], trials=20))
    code = run(Sweep.load(folder))            # the workers; 130 when interrupted
    best = summarise(Sweep.load(folder))      # table, best.yaml, runs/NAME/best, sweep.html

Running the same command again, or `kindling sweep --resume runs/NAME`, continues a sweep: the trials
that finished stay finished, the one that was running continues from its checkpoint, the rest run.
Several processes or machines given the same recipe, space and `--storage` share one study.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from kindling.errors import UserError
from kindling.report.loggers import resolve_loggers
from kindling.report.mlflow_logger import parent_run
from kindling.sweeps import study as S
from kindling.sweeps.spec import SPEC_FILE, Sweep
from kindling.sweeps.worker import Session, threads_each, work
from kindling.train.events import Interrupted


def start(sweep: Sweep, runs_dir: str | Path | None = None) -> Path:
    """Make (or join) the sweep's folder and study; -> the folder. Every check comes before any write."""
    sweep.folder = Path(runs_dir or sweep.base_config().runs_dir).expanduser() / sweep.name
    folder, fingerprint = sweep.folder, sweep.fingerprint()
    if (folder / SPEC_FILE).is_file():
        saved = Sweep.load(folder)
        _check_same_sweep(saved, sweep, fingerprint)
        sweep.trials = max(sweep.trials, saved.trials)
    elif folder.exists() and any(folder.iterdir()):
        raise UserError(f"{folder} holds other files, not a sweep (no {SPEC_FILE}); choose another --name")
    storage = None
    if sweep.storage:  # reachable, and not another recipe's study, before anything is written here
        storage = S.open_storage(sweep.storage)
        _check_existing_study(storage, sweep.name, fingerprint)
    folder.mkdir(parents=True, exist_ok=True)
    sweep.save()
    storage = storage or S.open_storage(sweep.storage_url())
    study, created = S.create_or_join(
        storage,
        sweep.name,
        sweep.direction,
        fingerprint,
        sweep.trials,
        sweep.make_pruner(),
        sweep.recipe_values(),
    )
    if not created:
        S.extend(study, sweep.trials)
    return folder


def _check_same_sweep(saved: Sweep, sweep: Sweep, fingerprint: dict) -> None:
    if saved.fingerprint()["hash"] != fingerprint["hash"]:
        raise UserError(
            f"{sweep.folder} holds a sweep of another recipe or search space ({saved.fingerprint()['summary']}); "
            f"continue it with `kindling sweep --resume {sweep.folder}`, or choose another --name"
        )
    if saved.storage != sweep.storage:
        raise UserError(
            f"{sweep.folder} keeps its study in {S.shown(saved.storage_url())}; continue it with "
            f"`kindling sweep --resume {sweep.folder}`, or choose another --name"
        )


def _check_existing_study(storage, name: str, fingerprint: dict) -> None:
    opt = S.optuna()
    try:
        study = opt.load_study(study_name=name, storage=storage)
    except KeyError:  # no such study yet: it will be created
        return
    S.check_same_recipe(study, fingerprint, storage)


def resume(folder: str | Path, trials: int | None = None) -> Sweep:
    """The sweep in `folder`, its study checked and (with `trials`) its queue extended."""
    sweep = Sweep.load(folder)
    if trials is not None:
        sweep.trials = max(sweep.trials, trials)
    session = Session.open(sweep)
    S.check_same_recipe(session.study, sweep.fingerprint(), session.storage)
    added = S.extend(session.study, sweep.trials)
    if added:
        sweep.save()
    return sweep


def run(sweep: Sweep, workers: int | None = None, timeout: float | None = None, echo=print) -> int:
    """Run the sweep's workers to the end; -> 0, or 130 when interrupted (each running trial wrote a
    checkpoint, and continues on `--resume`), or a worker's exit code. With MLflow among the recipe's
    loggers, the sweep is a parent run and each trial one of its children."""

    workers = workers or sweep.workers
    timeout = timeout if timeout is not None else sweep.timeout
    deadline = time.time() + timeout if timeout else None
    threads = threads_each(workers, sweep.base_config().train.threads)
    try:
        with _tracking(sweep):
            if workers == 1:
                try:
                    work(Session.open(sweep), deadline, threads, echo)
                except Interrupted:
                    raise KeyboardInterrupt from None
                return 0
            code = _run_processes(sweep.folder, workers, deadline, threads or 0)
            if code == 130:
                raise KeyboardInterrupt
            return code
    except KeyboardInterrupt:  # the MLflow parent, if any, ended KILLED
        return 130


def _tracking(sweep: Sweep):
    """MLflow's parent run over the trials (kindling.report.mlflow_logger), when the recipe logs there."""

    if "mlflow" not in resolve_loggers(sweep.base_config().train.logger):
        return contextlib.nullcontext()

    return parent_run(sweep.folder, sweep.name)


def _run_processes(folder: Path, workers: int, deadline: float | None, threads: int) -> int:
    """W worker processes; a signal the sweep gets is passed on to them (each checkpoints its trial)."""
    argv = [
        sys.executable,
        "-m",
        "kindling.sweeps.worker",
        str(folder),
        str(os.getpid()),
        str(deadline or 0),
        str(threads),
    ]
    procs = [subprocess.Popen(argv) for _ in range(workers)]

    def forward(signum, frame):
        for proc in procs:
            if proc.poll() is None:
                proc.send_signal(signum)

    old = {s: signal.signal(s, forward) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        codes = [proc.wait() for proc in procs]
    finally:
        for s, handler in old.items():
            signal.signal(s, handler)
    if 130 in codes:
        return 130
    return next((code for code in codes if code), 0)
