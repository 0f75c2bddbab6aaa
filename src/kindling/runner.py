"""`kindling.train(cfg)`: config -> data -> model -> Trainer -> run directory. The one direction of flow."""

from __future__ import annotations

import copy
import json
import os
import shutil
import time
from pathlib import Path

from kindling import data as data_mod
from kindling import models
from kindling.bundle.rundir import load_saved_config
from kindling.config import defaults
from kindling.config.load import flatten
from kindling.config.schema import RunConfig, default_name
from kindling.errors import UserError
from kindling.models import recorded, usercode
from kindling.models.userrefs import check_saved, split_metric
from kindling.predict.session_graph import after_training as add_session_graph
from kindling.report.loggers import resolve_loggers
from kindling.report.record import callbacks_for as report_callbacks
from kindling.task.imbalance import check_against_data as check
from kindling.train.settle import settle
from kindling.util.codetrust import check_saved_data, remember_data
from kindling.util.envinfo import collect
from kindling.util.fileio import atomic_write_json, atomic_write_text

# keys that may change when a run is resumed; any other difference is refused
RESUMABLE_CHANGES = (
    "data.display_name",  # how the data is shown, not what it is
    "train.epochs",
    "train.device",
    "train.threads",
    "train.patience",
    "train.save_every_steps",
    "train.log_interval",
    "train.logger",
    "train.baseline",
    "train.devices",
    "train.metrics",  # your metrics and callbacks may change on a resume (the loss may not)
    "train.callbacks",
    "run_dir",
    "runs_dir",
    "name",
)


class JsonlLog:
    """metrics.jsonl: one JSON record per epoch, the file rewritten atomically each time."""

    def __init__(self, path: Path, records: list[dict]):
        self.path, self.records = path, records

    def on_epoch_end(self, trainer, record: dict) -> None:
        if trainer.dist.is_main:
            self.records = list(trainer.history)
            atomic_write_text(self.path, "".join(json.dumps(r) + "\n" for r in self.records))

    def __getattr__(self, name):  # the other events are no-ops
        if name.startswith("on_"):
            return lambda *a, **k: None
        raise AttributeError(name)


def check_resume_config(saved: RunConfig, new: RunConfig) -> None:
    a, b = flatten(saved.to_dict()), flatten(new.to_dict())
    if b.get("train.monitor") == "auto":  # the saved config holds what `auto` resolved to for this data
        b["train.monitor"] = a.get("train.monitor")
    differing = [k for k in sorted(set(a) | set(b)) if a.get(k) != b.get(k) and k not in RESUMABLE_CHANGES]
    if differing:
        shown = ", ".join(f"{k} ({a.get(k)!r} -> {b.get(k)!r})" for k in differing[:6])
        raise UserError(
            f"cannot resume: the config differs from the run's in {shown}; start a new run instead (--run-dir)"
        )


def has_checkpoint(run_dir: Path) -> bool:
    return (Path(run_dir) / "checkpoints" / "last.pt").is_file()


def prepare_run_dir(cfg: RunConfig, overwrite: bool, echo=print) -> Path:
    """The empty run directory of a new run. A run that stopped before its first checkpoint (killed in its
    first seconds) can be neither resumed nor kept, so it is started again, and the user told so."""
    run_dir = check_run_dir(cfg, overwrite)
    if run_dir.exists() and any(run_dir.iterdir()):
        if not has_checkpoint(run_dir):
            echo(f"{run_dir} holds a run that stopped before its first checkpoint; starting it again")
        shutil.rmtree(run_dir)
    return run_dir


def check_run_dir(cfg: RunConfig, overwrite: bool) -> Path:
    """The run directory of a new run, refused (one line) when it holds something to keep: checked before
    the data is read, so the refusal is the first thing the user sees, not the last under its notes."""
    run_dir = cfg.resolved_run_dir()
    if run_dir.exists() and any(run_dir.iterdir()):
        # a run of ours: its config.yaml, or only the temp file of that first write (killed during it)
        temps = all(p.name.startswith(".") and p.name.endswith(".tmp") for p in run_dir.iterdir())
        if not (run_dir / "config.yaml").is_file() and not temps:
            raise UserError(
                f"{run_dir} holds other files, not a kindling run (no config.yaml); choose another --run-dir"
            )
        if has_checkpoint(run_dir) and not overwrite:
            raise UserError(
                f"{run_dir} already holds a run; continue it with `kindling train --resume {run_dir}`, "
                "replace it with --overwrite, or choose another --run-dir"
            )
    return run_dir


def remember_code(cfg: RunConfig) -> None:
    """The user's own files this run imports (its model, a `py:` data source) go in kindling's ledger of
    trusted code (kindling.util.codetrust), so that its Bundle loads here without naming them again."""

    if usercode.is_reference(cfg.model.name):
        recorded.remember_trained(cfg.model.name)
    remember_data(cfg.data.name)


def check_saved_code(cfg: RunConfig, run_dir: Path, state: dict) -> None:
    """A resumed run imports only code this user pointed at: the model file or module and a `py:` data
    source its config.yaml names must be ones trained with here (a run folder is anyone's to send)."""

    if usercode.is_reference(cfg.model.name):
        recorded.check_saved_reference(cfg.model.name, run_dir, state.get("code"))
    check_saved_data(cfg.data.name, run_dir, "start a new run from it (--data py:FILE.py:FUNCTION)")
    check_saved_own(cfg, run_dir, state.get("own_code") or {})


def check_saved_own(cfg: RunConfig, run_dir: Path, started: dict, echo=print) -> None:
    """Your loss, metrics and callbacks named in a run's config.yaml: named again now, or files trained
    with here and unchanged since the run started (kindling.models.userrefs)."""

    tc = cfg.train
    named = [("loss", tc.loss)] if tc.loss else []
    named += [("metric", t) for t in tc.metrics] + [("callback", t) for t in tc.callbacks]
    for role, text in named:
        spec = split_metric(text)[1] if role == "metric" else text
        note = check_saved(role, text, run_dir, started.get(spec))
        if note and int(os.environ.get("RANK", "0")) == 0:
            echo(f"note: {note}")


def finished(cfg: RunConfig, run_dir: Path, state: dict) -> str | None:
    """The line for a run that has nothing left to resume (every epoch done, or stopped early with the
    same patience), naming how to train it longer; None when there is training left."""
    p = state.get("progress") or {}
    epoch, patience, idle = int(p.get("epoch", 0)), cfg.train.patience, int(p.get("bad_rounds", 0))
    if p.get("batch", 0) or cfg.train.dry_run:
        return None
    if cfg.train.logger not in ("none", ["none"]) and not (Path(run_dir) / "plots" / "report.json").is_file():
        return None  # stopped after its last epoch but before its plots: the resume finishes the run's end
    best = p.get("best")
    shown = (
        f" (best {cfg.train.monitor} {best:.4f} at epoch {p.get('best_epoch')})" if best is not None else ""
    )
    again = f"to train longer: kindling train --resume {run_dir}"
    if epoch >= cfg.train.epochs:
        done = "its 1 epoch is done" if epoch == 1 else f"its {epoch} epochs are done"
        return f"{run_dir} finished: {done}{shown}; {again} --epochs N (N > {epoch})"
    if patience and idle >= patience:
        return (
            f"{run_dir} finished: early stopping ended it at epoch {epoch} of {cfg.train.epochs}{shown}, "
            f"after {idle} rounds without a better {cfg.train.monitor}; {again} --patience P (P > {idle})"
        )
    return None


def train(
    cfg: RunConfig,
    resume: str | Path | None = None,
    overwrite: bool = False,
    echo=print,
    callbacks=(),
    instead=None,
    objects: dict | None = None,
    draw: bool = True,
) -> Path:
    """Train `cfg` (or resume the run at `resume`) and return the run directory. `cfg` is not changed:
    the run trains the config `settle` returns for it and its data. `instead(cfg, objects)`: what runs
    when the defaults choose the fold ensemble for a small table (kindling.config.defaults.ENSEMBLE_ROWS;
    the faces pass kindling.crossval's), given the settled config; without it one network is trained.
    `objects`: the Python objects a `kindling.fit(data=...)` handed over (kindling.data.objects), for a
    config whose data is `objects:N`; nothing keeps them once the run is done. `draw`: the pictures at
    the end (kindling.crossval's folds leave them to `kindling report FOLD`, which draws from the evidence)."""
    from kindling.train import checkpoint, distributed, rng  # lazy: torch
    from kindling.train.trainer import Trainer  # lazy: torch
    from kindling.train.userfns import Own  # lazy: torch

    cfg = copy.deepcopy(cfg)  # the caller's config stays as it was given
    distributed.adopt_slurm_env()  # under srun without torchrun: SLURM's ranks, before rank 0 is asked
    resolve_loggers(cfg.train.logger)  # a logger's missing package is refused before any file is written
    resume_state = None
    if resume is not None:
        run_dir = Path(resume)
        if (run_dir / "cv.json").is_file():  # kindling.crossval's folder: its folds are the runs
            raise UserError(
                f"{run_dir} is a cross-validation; continue it with `kindling cv --resume {run_dir}`"
            )
        cfg.run_dir = str(run_dir)
        saved = load_saved_config(run_dir)
        defaults.adopt(cfg, saved)  # what the run chose when it started
        cfg.name = cfg.name or saved.name
        check_resume_config(saved, cfg)
        if not has_checkpoint(run_dir):
            raise UserError(
                f"{run_dir} has no checkpoint to resume (it stopped before the first one); drop --resume "
                f"to start it again: kindling train {run_dir / 'config.yaml'} --run-dir {run_dir}"
            )
        resume_state = checkpoint.load(run_dir / "checkpoints" / "last.pt")
        done = finished(cfg, run_dir, resume_state)
        if done is not None:  # nothing to resume: say so, and how to train longer, and do no work
            if int(os.environ.get("RANK", "0")) == 0:
                echo(done)
            return run_dir
        check_saved_code(cfg, run_dir, resume_state)
        for stale in (run_dir / "checkpoints").glob(".*.tmp"):  # left by a write that a SIGKILL cut short
            stale.unlink(missing_ok=True)
    cfg.name = cfg.name or default_name(cfg)  # named before kindling chooses a model: runs/digits
    rank0 = int(os.environ.get("RANK", "0")) == 0
    if resume is None and rank0:
        check_run_dir(cfg, overwrite)  # a refusal before the data's notes (a table's column schema)
    photos = defaults.photo_side(cfg) if resume is None else None  # a few photos: decoded small
    # shown once the model fits the data: a refusal comes alone
    with data_mod.held_notes() as notes:
        # everything that can fail on user input happens before any write
        data = data_mod.build(cfg.data, photos=photos, objects=objects)
    own = Own.load(cfg.train)  # your loss, metrics and callbacks, imported before any write
    ensemble_ok = resume is None and instead is not None and not cfg.data.folds  # not one fold of a cv
    # the one place the config is finished: the monitor, the defaults' choices, the photo size
    cfg, chose = settle(cfg, data, own=own, resumed=resume is not None, ensemble_ok=ensemble_ok)
    rng.seed_everything(cfg.train.seed)  # the same seed gives the same initial weights
    model = models.build(cfg.model.name, data.signature, cfg.model.options)
    if resume is None and rank0:
        remember_code(cfg)
    if rank0:  # a file of yours named again on a resume (fixed) is one you train with here too
        own.remember()
    check_imbalance(cfg, data)
    for text in notes if resume is None else ():  # once per run: a resumed run said them when it started
        data_mod.note(text)
    if chose and rank0:
        echo(chose)
    if ensemble_ok and cfg.data.folds:  # the defaults chose the fold ensemble (kindling.crossval)
        del data, model  # the folds read their own
        return instead(cfg, objects)
    if resume is None:
        run_dir = prepare_run_dir(cfg, overwrite, echo) if rank0 else cfg.resolved_run_dir()
    if rank0:
        atomic_write_text(run_dir / "config.yaml", cfg.to_yaml())
        atomic_write_json(run_dir / "env.json", collect(seed=cfg.train.seed))
    history = resume_state.get("history", []) if resume_state else []
    callbacks = [
        JsonlLog(run_dir / "metrics.jsonl", history),
        *_extra_callbacks(cfg, run_dir, objects, draw),
        *callbacks,
    ]
    trainer = Trainer(cfg, run_dir, callbacks, resume=resume_state, echo=echo, own=own)
    started = time.perf_counter()
    try:
        summary = trainer.fit(model, data)
    except UserError:
        # a mistake found while setting up (bf16 refused, bad pretrained file ...): leave no half-made run
        if resume is None and rank0 and not (run_dir / "checkpoints" / "last.pt").exists():
            shutil.rmtree(run_dir, ignore_errors=True)
        raise
    finally:
        distributed.shutdown(getattr(trainer, "dist", distributed.DistInfo()))
    if rank0:
        _end_of_run(trainer, summary, cfg, data, run_dir, time.perf_counter() - started, echo)
    return run_dir


def _end_of_run(trainer, summary: dict, cfg: RunConfig, data, run_dir: Path, seconds: float, echo) -> None:
    """Rank 0's last lines and files: the best epoch, the session graph, the baseline, MLflow's artifacts."""
    echo(
        f"best {trainer.monitor_key} {summary['best']:.4f} at epoch {summary['best_epoch']}; bundle in {run_dir / 'best'}"
        if summary["best"] is not None
        else f"bundle in {run_dir / 'best'}"
    )
    if summary["skipped_steps"]:
        echo(f"note: the fp16 grad scaler skipped {summary['skipped_steps']} steps (overflow)")
    from kindling.train.decide import end_of_run_line  # lazy: numpy

    imbalanced = end_of_run_line(cfg, data, run_dir)  # a rare class: the flags that answer it
    if imbalanced:
        echo(imbalanced)

    add_session_graph(run_dir, data, echo)  # a notebook's or a script's model: its graph, for elsewhere
    _baseline(cfg, data, run_dir, seconds, echo)
    for cb in trainer.callbacks:  # the run folder is complete: MLflow sends its artifacts
        getattr(cb, "on_run_end", lambda: None)()


def check_imbalance(cfg: RunConfig, data) -> None:
    """--class-weights, --sampler and --threshold against the data (a weights FILE read and checked),
    before any file is written (kindling.task.imbalance)."""

    has_val = bool(cfg.train.overfit_batches) or (data.val is not None and len(data.val) > 0)
    check(cfg, data.signature, data.train.y, has_val)


def _baseline(cfg: RunConfig, data, run_dir: Path, train_seconds: float, echo) -> None:
    """The classical model beside the network, last (its line ends the run's output); not for a dry run
    or a run without a best model."""
    if (
        cfg.train.baseline == "none"
        or cfg.train.dry_run
        or not (run_dir / "best" / "model.safetensors").is_file()
    ):
        return
    from kindling.evaluate.baseline_run import after_training  # lazy: numpy

    after_training(data, run_dir, train_seconds, cfg.data.memory_budget_mb, echo)


def _extra_callbacks(cfg: RunConfig, run_dir: Path, objects: dict | None, draw: bool) -> list:
    """A multi-label model's thresholds tuned on validation at the end (before the recorder evaluates the
    Bundle), the recorder (logger, evidence and pictures at the end: what the report reads from the run
    folder) and the fine-tuning stages the model config asks for."""
    from kindling.train.finetune import callbacks_for as finetune_callbacks  # lazy: torch
    from kindling.train.thresholds import TuneThresholds  # lazy: torch

    return [
        TuneThresholds(run_dir),
        *report_callbacks(cfg, run_dir, objects, draw),
        *finetune_callbacks(cfg, run_dir),
    ]
