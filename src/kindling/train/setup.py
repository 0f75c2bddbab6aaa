"""Setting up a fit: what `Trainer.fit` makes before its first step, from the settled config it was given.

    setup.prepare(trainer, model, data, task)   # device, splits, batches, task, optimizer, monitor; the start line

The config is taken as it is: it was finished once, before training (kindling.train.settle), so nothing
here chooses a default or resolves the monitor; a config that still leaves one to kindling is refused.
"""

from __future__ import annotations

import os

import torch
from torch.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn

from kindling.data import augment
from kindling.data.memory import num_batches
from kindling.task import Task, imbalance, task_for
from kindling.task.inputs import make_preprocess
from kindling.task.probe import probe
from kindling.train import calibrate, distributed, persist, rng
from kindling.train.device import pick_device
from kindling.train.optim import build_optimizer, build_scheduler
from kindling.train.precision import autocast_for, maybe_compile
from kindling.train.sampler import sampler_for
from kindling.train.settle import check_settled
from kindling.train.splits import small_val_warning
from kindling.train.threadwatch import ThreadWatch
from kindling.train.userfns import Own
from kindling.util.envinfo import usable_cores


def prepare(trainer, model, data, task: Task | None = None) -> None:
    """Everything `trainer` trains with, made for `model` on `data`; `task` as `Trainer.fit` takes it."""
    t, tc = trainer, trainer.tc
    check_settled(t.cfg)
    t.data, t.sig = data, data.signature
    t.device = pick_device(tc.device)
    t.dist = distributed.init_from_env(t.device)
    if tc.deterministic:
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")  # cuBLAS needs it for determinism
        torch.use_deterministic_algorithms(True, warn_only=True)
        torch.backends.cudnn.benchmark = False
    elif t.device.type == "cuda":
        torch.backends.cudnn.benchmark = True
    rng.seed_everything(tc.seed + t.dist.rank)
    t.train_split = data.train
    t.val_split = data.val
    if tc.overfit_batches:
        keep = torch.arange(min(len(data.train), tc.overfit_batches * t.cfg.data.batch_size))
        t.train_split = t.val_split = data.train.subset(keep)
    if t.device.type == "cuda":  # small data sets live on the GPU: batches are sliced there, no copies
        budget = t.cfg.data.memory_budget_mb * 2**20
        t.train_split = _resident(t.train_split, t.device, budget)
        t.val_split = _resident(t.val_split, t.device, budget)
    t.batch_size = max(1, t.cfg.data.batch_size // t.dist.world)  # data.batch_size is global
    t.steps_per_epoch = num_batches(t.train_order_len(), t.batch_size)
    t.epochs = 1 if tc.dry_run else tc.epochs
    if tc.dry_run:
        t.steps_per_epoch = 1
    t.model = model.to(t.device)
    t.preprocess = make_preprocess(t.sig, t.device)
    t.augment = augment.build(t.cfg.data.augment, t.sig)
    has_val = t.val_split is not None and len(t.val_split) > 0
    t.class_weights = imbalance.check_against_data(t.cfg, t.sig, t.train_split.y, has_val)
    t.sampler = sampler_for(tc.sampler, t.train_split.y, tc.seed, len(t.sig.class_names))
    t.task = _task(t, model, task)
    t.autocast, t.scaler = autocast_for(tc.precision, t.device)
    t.own = (t.own or Own.load(tc, kept=True)).attach(t)  # your loss, callbacks (after ours)
    t.threads, threads_how = calibrate.pick_threads(t)
    t.memory_format, format_how = calibrate.pick_memory_format(t)
    if threads_how.startswith("measured"):  # re-measured if the machine gets busy mid-run
        t.callbacks.insert(0, ThreadWatch(usable_cores()))
    if tc.precision == "bf16" and t.device.type == "cpu":
        calibrate.check_cpu_bf16(t)
    t.optimizer = build_optimizer(list(model.parameters()), t.cfg.optim, t.device)  # frozen: no grad, no step
    t.scheduler, t.sched_interval = build_scheduler(t.optimizer, t.cfg.sched, t.epochs, t._sched_steps())
    t.ema = _make_ema(tc, model)
    t.train_model = maybe_compile(distributed.wrap(t.model, t.dist, t.device), tc.compile, t.device)
    # the settled monitor (the task's rule for this validation split, or val_KEY of your metric)
    t.monitor, t.mode = t.own.monitor_and_mode(t.task, tc.monitor, t.val_split is not None)
    t.monitor_key = t.monitor if t.val_split is not None else t.monitor.replace("val_", "train_")
    t._epoch_metrics = None
    t._ending = None  # (train metrics, seconds, progress) while an epoch's end runs
    t._stopping = None  # raised in on_validation_end: stops after the epoch
    t._unchecked = 0  # batches since the GPU's deferred NaN check
    if t.resume_state is not None:
        persist.load_state(t, t.resume_state)
    if t.dist.is_main:
        _print_start(t, threads_how, format_how)


def _task(t, model, given: Task | None) -> Task:
    """The Task, checked against the model's outputs on one real batch before any step
    (`kindling.task.probe`), no random stream moved; unless the caller gave the Task or the model
    carries an `outputs_log_probs` mark, its convention (logits or log-probabilities) is detected."""
    task = given or task_for(
        t.sig, model, label_smoothing=t.tc.label_smoothing, class_weights=t.class_weights
    )
    name = t.cfg.model.name if t.cfg.model.name not in ("", "auto") else type(model).__name__
    x, _, lengths = next(t.train_split.batches(min(t.batch_size, 16)))
    with rng.kept():
        out = probe(task, model, name, t._forward, t.preprocess(x), lengths)
    return task if given is not None else task.settled(model, out)


def _make_ema(tc, model):
    if not tc.ema:
        return None

    return AveragedModel(model, multi_avg_fn=get_ema_multi_avg_fn(tc.ema), use_buffers=True)


def _print_start(t, threads_how: str, format_how: str) -> None:
    n_params = sum(p.numel() for p in t.model.parameters())
    val = len(t.val_split) if t.val_split is not None else 0
    test = f" / {len(t.data.test)} test" if t.data.test is not None else ""
    t.echo(
        f"training {t.cfg.model.name} ({n_params:,} parameters) on {t.cfg.data.shown}: "
        f"{len(t.train_split)} train / {val} val{test} samples, batch {t.cfg.data.batch_size}, "
        f"{t.epochs} epochs, device {t.device}, threads {t.threads} ({threads_how})"
        + (f", {t.dist.world} processes" if t.dist.enabled else "")
    )
    if t.memory_format == "channels_last":
        t.echo(f"memory format: channels_last ({format_how})")
    small = small_val_warning(val, t.cfg.data.val_fraction) if t.task.class_targets else None
    if small and not t.tc.overfit_batches and t.resume_state is None:
        t.echo(small)
    if t.class_weights is not None:
        t.echo(imbalance.weights_line(t.tc.class_weights, t.class_weights, t.sig.class_names))
    if t.tc.patience:
        t.echo(
            f"early stopping: after {t.tc.patience} validation rounds without improvement of {t.monitor_key}"
        )


def _resident(split, device, budget_bytes: int):
    if split is None or split.nbytes() > budget_bytes:
        return split
    return split.to(device)
