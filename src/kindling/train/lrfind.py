"""The LR range test (Smith 2015; fastai's lr_find): train from a tiny to a huge learning rate, growing it
exponentially each step, and watch the loss. The suggestion is where the smoothed loss falls fastest,
a rate that learns quickly and is still well short of where the loss blows up.

    lrs, losses = range_test(load_config("recipes/digits.yaml"), steps=100, start_lr=1e-7, end_lr=10.0)
    suggest(lrs, losses)   # e.g. 3.1e-03

`kindling lr-find` (kindling.cli.lr_find) runs it and draws the plot.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from kindling import data as data_mod
from kindling import models
from kindling.config import defaults
from kindling.errors import UserError
from kindling.models.userrefs import load
from kindling.task import task_for
from kindling.task.inputs import make_preprocess
from kindling.task.userfns import with_loss

SMOOTHING = 0.9  # exponential moving average of the loss, debiased as in Adam
DIVERGED = 4.0  # stop once the smoothed loss exceeds this many times its minimum


def check_range(steps: int, start_lr: float, end_lr: float, output: Path) -> None:
    if steps < 10:
        raise UserError(f"--steps {steps} is too few for a range test; use 50 or more")
    if not 0 < start_lr < end_lr:
        raise UserError(f"--start-lr {start_lr} and --end-lr {end_lr} must satisfy 0 < start < end")
    if output.suffix.lower() != ".png":
        raise UserError(f"--output {output} must be a .png file")
    if output.parent.exists() and not output.parent.is_dir():
        raise UserError(f"--output {output}: {output.parent} is not a folder")


def suggest(lrs: list[float], losses: list[float]) -> float | None:
    """The learning rate of the steepest descent of the loss against log(lr), before its minimum."""
    if len(losses) < 5:
        return None
    y = np.asarray(losses)
    stop = int(np.argmin(y)) + 1
    skip = max(1, len(y) // 10)  # the first steps are noise around the initial loss
    if stop - skip < 3:
        return None
    slope = np.gradient(y[skip:stop], np.log(np.asarray(lrs[skip:stop])))
    best = int(np.argmin(slope))
    return float(lrs[skip + best]) if slope[best] < 0 else None


def range_test(cfg, steps: int, start_lr: float, end_lr: float) -> tuple[list[float], list[float]]:
    """Train `cfg`'s model for up to `steps` steps with an exponentially growing LR -> (lrs, smoothed losses)."""

    from kindling.data import augment  # lazy: torch
    from kindling.data.memory import epoch_order  # lazy: torch
    from kindling.models.common import forward  # lazy: torch
    from kindling.train import rng  # lazy: torch
    from kindling.train.device import pick_device  # lazy: torch
    from kindling.train.optim import build_optimizer  # lazy: torch

    data = data_mod.build(cfg.data)
    cfg, _ = defaults.choose(cfg, data.signature, len(data.train))  # the model and batch a bare --data trains
    rng.seed_everything(cfg.train.seed)
    sig = data.signature
    device = pick_device(cfg.train.device)
    model = models.build(cfg.model.name, sig, cfg.model.options).to(device).train()
    preprocess, aug = make_preprocess(sig, device), augment.build(cfg.data.augment, sig)
    task = _with_own_loss(task_for(sig, model), cfg, device)
    optimizer = build_optimizer([p for p in model.parameters() if p.requires_grad], cfg.optim)
    factor = (end_lr / start_lr) ** (1 / (steps - 1))
    lrs, losses, avg, best = [], [], 0.0, math.inf
    epoch, batches = 0, iter(())
    for i in range(steps):
        lr = start_lr * factor**i
        for group in optimizer.param_groups:
            group["lr"] = lr
        batch = next(batches, None)
        if batch is None:
            batches = data.train.batches(
                cfg.data.batch_size, epoch_order(len(data.train), cfg.train.seed, epoch)
            )
            epoch, batch = epoch + 1, next(batches)
        x, y, lengths = batch
        x, y = preprocess(x), y.to(device)
        if aug is not None:
            x = aug(x)
        out = forward(model, x, lengths)
        loss = task.loss(out, y)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        value = float(loss.detach())
        if not math.isfinite(value):
            break
        avg = SMOOTHING * avg + (1 - SMOOTHING) * value
        smoothed = avg / (1 - SMOOTHING ** (i + 1))
        lrs.append(lr)
        losses.append(smoothed)
        best = min(best, smoothed)
        if smoothed > DIVERGED * best:
            break
    return lrs, losses


def _with_own_loss(task, cfg, device):
    """The task training with the run's own loss (`train.loss`), as the trainer would."""
    if not cfg.train.loss:
        return task
    import torch  # lazy: torch

    named = load("loss", cfg.train.loss)
    if isinstance(named.obj, torch.nn.Module):
        named.obj.to(device)
    return with_loss(task, named.obj, named.key)
