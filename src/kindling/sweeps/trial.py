"""One trial: the recipe with the trial's values, trained by the same runner as `kindling train` into
`runs/NAME/trial-NNNN/`, its epochs reported to the pruner, its best monitored value told to the study.

A trial taken over from a worker that died continues from its checkpoint (`kindling train --resume`):
the epochs it finished stay finished, and it ends exactly as if it had never stopped.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

from kindling.errors import NonFiniteLossError, UserError
from kindling.runner import has_checkpoint
from kindling.runner import train as train_run
from kindling.sweeps import study as S
from kindling.sweeps.spec import Sweep
from kindling.train.events import Callback, Interrupted, StopTraining


class PruningReport(Callback):
    """Each epoch's monitored value goes to the Optuna trial; the pruner's 'stop' ends training cleanly
    (the Bundle of the best epoch so far is kept). At the end: the best value and the seconds trained."""

    def __init__(self, trial, reported=()):
        self.trial = trial
        self.reported = set(reported)  # epochs a killed run reported before its last checkpoint was written
        self.pruned_at: int | None = None
        self.best: float | None = None
        self.best_epoch = -1
        self.key = ""
        self.seconds = 0.0
        self.epochs = 0

    def on_epoch_end(self, trainer, record: dict) -> None:
        value = record.get(trainer.monitor_key)
        if not trainer.dist.is_main or value is None or not math.isfinite(value):
            return
        if int(record["epoch"]) in self.reported:  # trained again since that checkpoint: the same value
            return
        self.trial.report(float(value), int(record["epoch"]))
        if self.trial.should_prune():
            self.pruned_at = int(record["epoch"])
            raise StopTraining(f"pruned at epoch {self.pruned_at}: {trainer.monitor_key} {value:.4f}")

    def on_fit_end(self, trainer) -> None:
        p = trainer.progress
        self.best, self.best_epoch, self.key = p.best, p.best_epoch, trainer.monitor_key
        self.seconds = sum(r.get("seconds", 0.0) for r in trainer.history)
        self.epochs = len(trainer.history)


def values_of(sweep: Sweep, trial) -> dict:
    """The trial's values, drawn now (or the ones it drew before, for a trial taken over)."""
    return {p.key: p.suggest(trial) for p in sweep.space}


def shown_values(values: dict) -> str:
    return ", ".join(f"{k}={_fmt(v)}" for k, v in values.items())


def _fmt(value) -> str:
    return f"{value:.4g}" if isinstance(value, float) else str(value)


def run_trial(session, number: int, threads: int | None, echo=print) -> str:
    """Train trial `number` (claimed by, and locked for, this process) and tell the study how it ended.
    -> its state: complete, pruned or failed. Interrupted (Ctrl-C) leaves it RUNNING, to be continued."""

    opt = S.optuna()
    sweep, study = session.sweep, session.study
    study.sampler = S.make_sampler(sweep.seed, number)
    tid = session.trial_id(number)
    trial = opt.trial.Trial(study, tid)
    values = values_of(sweep, trial)
    run_dir = sweep.trial_dir(number)
    for key, value in {"kindling.dir": str(run_dir.resolve()), **S.owner()}.items():
        trial.set_user_attr(key, value)
    cfg = sweep.trial_config(values, number, threads)
    resume = run_dir if has_checkpoint(run_dir) else None
    reported: set[int] = set()  # a resumed trial's epochs the study holds: not reported again
    if resume is not None:
        reported = _report_history(
            trial, session.storage.get_trial(tid).intermediate_values, run_dir, sweep.monitor
        )
        if trial.should_prune():  # it was being pruned when its worker died
            study.tell(trial, state=opt.trial.TrialState.PRUNED)
            echo(f"trial {number} pruned ({shown_values(values)})")
            return "pruned"
    echo(f"trial {number} {'continues from its checkpoint' if resume else 'starts'}: {shown_values(values)}")
    report = PruningReport(trial, reported)
    try:
        train_run(cfg, resume=resume, echo=lambda line: None, callbacks=[report])
    except NonFiniteLossError as exc:  # a setting the search had to try: the trial failed, the sweep goes on
        return _fail(study, trial, number, str(exc), echo)
    except UserError as exc:
        _fail(study, trial, number, str(exc), echo)
        raise UserError(f"trial {number} ({shown_values(values)}): {exc}") from exc
    except Interrupted:  # Ctrl-C: a checkpoint was written; the trial stays RUNNING, to be continued
        raise
    except Exception as exc:
        _fail(study, trial, number, f"{type(exc).__name__}: {exc}", lambda line: None)
        raise
    return _tell(study, trial, number, report, echo)


def _tell(study, trial, number: int, report: PruningReport, echo) -> str:
    opt = S.optuna()
    trial.set_user_attr("kindling.seconds", round(report.seconds, 3))
    trial.set_user_attr("kindling.epochs", report.epochs)
    if report.pruned_at is not None:
        study.tell(trial, state=opt.trial.TrialState.PRUNED)
        echo(f"trial {number} pruned at epoch {report.pruned_at} ({report.key} {report.best:.4f} at best)")
        return "pruned"
    if report.best is None:
        return _fail(study, trial, number, f"no {report.key or 'monitored'} value was measured", echo)
    study.tell(trial, report.best)
    echo(
        f"trial {number} complete: {report.key} {report.best:.4f} at epoch {report.best_epoch} ({report.seconds:.1f} s)"
    )
    return "complete"


def _fail(study, trial, number: int, reason: str, echo) -> str:
    opt = S.optuna()
    trial.set_user_attr("kindling.error", reason[:500])
    study.tell(trial, state=opt.trial.TrialState.FAIL)
    echo(f"trial {number} failed: {reason}")
    return "failed"


def _report_history(trial, reported: dict, run_dir: Path, monitor: str) -> set[int]:
    """Epochs the dead worker finished but had not reported yet (it died between the two) -> every epoch
    the trial has reported now."""
    done = set(reported)
    path = run_dir / "metrics.jsonl"
    if not path.is_file():
        return done
    for line in path.read_text(encoding="utf-8").splitlines():
        record = json.loads(line) if line.strip() else {}
        value = record.get(monitor, record.get(monitor.replace("val_", "train_")))
        if "epoch" in record and record["epoch"] not in done and value is not None:
            trial.report(float(value), int(record["epoch"]))
            done.add(int(record["epoch"]))
    return done
