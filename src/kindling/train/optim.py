"""Optimizers and learning-rate schedulers, built by name from the config."""

from __future__ import annotations

import math

import torch

from kindling.errors import unknown


def build_optimizer(params, cfg, device=None) -> torch.optim.Optimizer:
    """On a CPU the fused kernels: one pass over each parameter instead of a dozen small ops per parameter
    (PyTorch's CPU default is the per-tensor loop): for a small CNN the optimizer step is otherwise a large
    share of the whole training step, and fused it becomes a small one. SGD takes the multi-tensor (foreach) path
    instead: fused SGD fails when a parameter first gets a gradient after the first step (a backbone that is
    unfrozen mid-run). On GPUs PyTorch's own default (foreach)."""
    name = cfg.name.lower()
    cpu = device is not None and device.type == "cpu"
    fused = {"fused": True} if cpu else {}
    if name == "sgd":
        return torch.optim.SGD(
            params,
            lr=cfg.lr,
            momentum=cfg.momentum,
            nesterov=cfg.nesterov,
            weight_decay=cfg.weight_decay,
            **({"foreach": True} if cpu else {}),
        )
    if name == "adam":
        return torch.optim.Adam(
            params, lr=cfg.lr, betas=tuple(cfg.betas), weight_decay=cfg.weight_decay, **fused
        )
    if name == "adamw":
        return torch.optim.AdamW(
            params, lr=cfg.lr, betas=tuple(cfg.betas), weight_decay=cfg.weight_decay, **fused
        )
    raise unknown("optimizer", cfg.name, ["sgd", "adam", "adamw"])


def build_scheduler(optimizer, cfg, epochs: int, steps_per_epoch: int):
    """(scheduler, interval): interval is 'step', 'epoch' or 'val' (plateau steps on the monitored metric)."""
    name = cfg.name.lower()
    total = max(1, epochs * steps_per_epoch)
    warmup = int(cfg.warmup_epochs * steps_per_epoch)
    if name == "none":
        return None, "epoch"
    if name == "step":
        return torch.optim.lr_scheduler.StepLR(optimizer, cfg.step_size, cfg.gamma), "epoch"
    if name == "multistep":
        return torch.optim.lr_scheduler.MultiStepLR(optimizer, cfg.milestones, cfg.gamma), "epoch"
    if name == "cosine":
        base = [g["lr"] for g in optimizer.param_groups]
        floor = cfg.min_lr

        def factor(step: int, lr0: float) -> float:
            if step < warmup:
                return (step + 1) / warmup
            progress = (step - warmup) / max(1, total - warmup)
            return (floor + (lr0 - floor) * 0.5 * (1 + math.cos(math.pi * min(1.0, progress)))) / lr0

        lambdas = [lambda s, lr0=lr0: factor(s, lr0) for lr0 in base]
        return torch.optim.lr_scheduler.LambdaLR(optimizer, lambdas), "step"
    if name == "onecycle":
        max_lr = [g["lr"] for g in optimizer.param_groups]
        return torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=max_lr, total_steps=total), "step"
    if name == "plateau":
        return torch.optim.lr_scheduler.ReduceLROnPlateau(
            optimizer, factor=cfg.gamma, patience=cfg.patience
        ), "val"
    raise unknown("scheduler", cfg.name, ["none", "step", "multistep", "cosine", "onecycle", "plateau"])
