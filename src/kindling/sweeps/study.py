"""The Optuna side of a sweep: the storage, the study, and handing trials to workers one at a time.

A sweep's N trials are put in the study's queue when the study is created (WAITING, no parameters yet),
and a worker claims one by moving it to RUNNING, which the database does for one claimant only
(`set_trial_state_values` answers False to the others). So however many workers and machines share a
study, each trial number runs once and the study never holds more than N trials. The sampler draws a
trial's parameters when its worker claims it, from every trial finished (or running) by then.

A worker that is killed leaves its trial RUNNING. Its run directory and host are recorded on the trial
(`kindling.dir`, `kindling.host`), and while it runs the worker holds a lock on `.locks/trial-NNNN.lock`
in the sweep folder; the kernel drops the lock when the process dies, so a RUNNING trial of this host
whose lock can be taken is an orphan, and the next worker continues it from its checkpoint.
"""

from __future__ import annotations

import fcntl
import os
import random
import socket
import time
from contextlib import contextmanager
from pathlib import Path

from kindling.errors import UserError

PIP_LINE = "pip install 'kindling[sweep]'"
PRUNERS = ("median", "hyperband", "none")
ORPHAN_GRACE_S = 60
STARTUP = 2  # finished trials before the median pruner judges  # a RUNNING trial with no owner recorded this long after its start lost its worker


def optuna():
    """The optuna module, quiet; without it, the pip line that installs it."""
    try:
        import optuna as module  # lazy: optuna
    except ImportError:
        raise UserError(f"kindling sweep needs Optuna, which is not installed; run: {PIP_LINE}") from None
    module.logging.set_verbosity(module.logging.WARNING)
    return module


def shown(url: str) -> str:
    """A storage URL as it may be printed: without its password."""
    try:
        from sqlalchemy.engine import make_url  # lazy: sqlalchemy

        return make_url(url).render_as_string(hide_password=True)
    except Exception:  # not a URL at all: the refusal says so
        return url


def open_storage(url: str, tries: int = 5):
    """Optuna's RDBStorage at `url`, connected: a URL that cannot be reached is one line. Processes that
    open a new database at the same moment all create its tables, and all but one collide: they try
    again, and then find the tables made."""
    opt = optuna()
    connect = {"timeout": 60} if url.startswith("sqlite") else {}
    if url.startswith("postgres"):
        connect = {"connect_timeout": 10}
    try:
        return opt.storages.RDBStorage(url, engine_kwargs={"connect_args": connect} if connect else None)
    except ImportError as exc:  # Optuna's, over the driver's ModuleNotFoundError
        missing = getattr(exc.__cause__, "name", None) or getattr(exc, "name", None) or "?"
        raise UserError(
            f"--storage {shown(url)} needs the database driver '{missing}', which is not installed; "
            f"run: pip install {missing} (kindling[sweep] brings psycopg for postgresql://)"
        ) from None
    except Exception as exc:  # sqlalchemy's errors for a bad URL, a refused connection, a missing file
        if tries > 1 and type(exc).__name__ == "IntegrityError":  # the tables' collision
            time.sleep(0.2 + random.random())
            return open_storage(url, tries - 1)
        text = str(getattr(exc, "orig", None) or exc).strip().splitlines() or ["?"]
        reason = " ".join(text[0].split())
        reason = reason if len(reason) <= 120 else reason[:117].rsplit(" ", 1)[0] + " ..."
        raise UserError(
            f"--storage {shown(url)} cannot be reached ({reason}); check the URL and that the database "
            "server runs and accepts this user"
        ) from None


def make_sampler(seed: int, number: int):
    """TPE seeded by the sweep's seed and the trial's number: a trial draws the same values for the same
    history, and two workers never share a random stream. constant_liar keeps parallel trials apart."""
    return optuna().samplers.TPESampler(seed=seed * 100_003 + number, constant_liar=True)


def make_pruner(name: str, epochs: int | None):
    """median: stop a trial at an epoch where it is behind the median of the finished trials at that
    epoch, once STARTUP trials have finished; hyperband: successive halving of the trials over 1 to
    `epochs` epochs (the recipe's; else the first finished trial's)."""
    pruners = optuna().pruners
    if name == "median":
        return pruners.MedianPruner(n_startup_trials=STARTUP, n_warmup_steps=0)
    if name == "hyperband":
        return pruners.HyperbandPruner(min_resource=1, max_resource=epochs or "auto")
    return pruners.NopPruner()


def create_or_join(storage, name: str, direction: str, fingerprint: dict, trials: int, pruner, first: dict):
    """The study `name` in `storage`: created (with `trials` trials queued, the first with the values
    `first`) or, when it exists, joined if it was made for the same recipe and search space.
    -> (study, created)."""
    opt = optuna()
    try:
        study = opt.create_study(storage=storage, study_name=name, direction=direction, pruner=pruner)
    except opt.exceptions.DuplicatedStudyError:
        study = opt.load_study(study_name=name, storage=storage, pruner=pruner)
        check_same_recipe(study, fingerprint, storage)
        return study, False
    study.set_user_attr("kindling.fingerprint", fingerprint["hash"])
    study.set_user_attr("kindling.recipe", fingerprint["summary"])
    study.enqueue_trial(first)
    extend(study, trials)
    return study, True


def check_same_recipe(study, fingerprint: dict, storage) -> None:
    """Refuse a study that another recipe (or search space, or something else than kindling) made."""
    attrs = study.user_attrs
    for _ in range(100):  # its creator sets these once it has queued the trials: give it a moment
        if "kindling.trials" in attrs or (
            "kindling.fingerprint" not in attrs and study.get_trials(deepcopy=False)
        ):
            break
        time.sleep(0.1)
        attrs = study.user_attrs
    where = f"study '{study.study_name}' in {shown(storage.url)}"
    if "kindling.fingerprint" not in attrs:
        raise UserError(f"{where} was not made by kindling sweep; choose another --name")
    if attrs["kindling.fingerprint"] != fingerprint["hash"]:
        raise UserError(
            f"{where} was created for another recipe or search space ({attrs.get('kindling.recipe', '?')}); "
            "choose another --name, or run that recipe"
        )


def extend(study, trials: int) -> int:
    """Queue trials until the study holds `trials`; -> how many were added."""
    have = len(study.get_trials(deepcopy=False))
    for _ in range(trials - have):
        study.enqueue_trial({})
    study.set_user_attr("kindling.trials", max(trials, have))
    return max(0, trials - have)


class TrialLock:
    """The lock a worker holds on trial `number` while it runs it (`.locks/trial-NNNN.lock` in the sweep
    folder). flock: the kernel releases it when the process dies, however it dies."""

    def __init__(self, folder: Path, number: int):
        locks = folder / ".locks"
        locks.mkdir(parents=True, exist_ok=True)
        self.fd = os.open(locks / f"trial-{number:04d}.lock", os.O_RDWR | os.O_CREAT, 0o644)

    def acquire(self) -> bool:
        """True: held now; False: another process holds it (this lock is then released)."""
        try:
            fcntl.flock(self.fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            self.release()
            return False
        return True

    def release(self) -> None:
        if self.fd >= 0:
            os.close(self.fd)  # closing the only descriptor drops the lock
            self.fd = -1


@contextmanager
def claim_lock(folder: Path):
    """One claimant at a time on this machine: SQLite reads the queue outside the write that claims."""
    locks = folder / ".locks"
    locks.mkdir(parents=True, exist_ok=True)
    fd = os.open(locks / "claim.lock", os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def owner() -> dict:
    return {"kindling.host": socket.gethostname(), "kindling.pid": os.getpid()}


def is_orphan(trial, folder: Path, own_storage: bool) -> bool:
    """A RUNNING trial this host may take over: one of this sweep folder's (or, in the folder's own
    database, any), or one whose claimant died before it could say where it runs."""
    attrs = trial.user_attrs
    if own_storage:
        return True
    if "kindling.dir" in attrs:
        here = attrs.get("kindling.host") == socket.gethostname()
        return here and Path(attrs["kindling.dir"]).parent == folder.resolve()
    started = trial.datetime_start.timestamp() if trial.datetime_start else 0.0
    return time.time() - started > ORPHAN_GRACE_S
