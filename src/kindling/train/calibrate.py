"""Measure before choosing: intra-op threads, and whether bf16 autocast actually helps on this CPU.

Each probe runs real forward+backward steps on a copy of the model and a real batch, and restores
every RNG afterwards so that calibrating never changes what training computes.
"""

from __future__ import annotations

import contextlib
import copy
import time

import torch

from kindling.errors import UserError
from kindling.train import rng
from kindling.train.device import choose_threads


def probe_step(trainer, autocast=contextlib.nullcontext):
    """A closure running one forward+backward of a copy of the model on the first training batch."""
    x, y, lengths = next(trainer.train_split.batches(trainer.batch_size))
    probe = copy.deepcopy(trainer.model)

    def step() -> None:
        with autocast():
            out = trainer._forward(probe, trainer.preprocess(x), lengths)
            loss = trainer.loss_fn(out.float(), trainer._target(y.to(trainer.device)))
        loss.backward()
        probe.zero_grad(set_to_none=True)

    return step


def pick_threads(trainer) -> tuple[int, str]:
    tc = trainer.tc
    requested = tc.threads
    if trainer.resume_state is not None and not requested:
        requested = int(trainer.resume_state.get("threads") or 0)  # same threads: same float results
    saved = rng.capture()
    try:
        return choose_threads(
            probe_step(trainer), requested, trainer.device, tc.deterministic, trainer.dist.world
        )
    finally:
        rng.restore(saved)


def _ms_per_step(step, repeats: int = 3) -> float:
    step()
    t0 = time.perf_counter()
    for _ in range(repeats):
        step()
    return (time.perf_counter() - t0) / repeats * 1e3


def check_cpu_bf16(trainer) -> None:
    """Refuse bf16 on a CPU where it measures slower than fp32 for this model and batch."""
    saved = rng.capture()
    try:
        fp32 = _ms_per_step(probe_step(trainer))
        bf16 = _ms_per_step(probe_step(trainer, lambda: torch.autocast("cpu", dtype=torch.bfloat16)))
    finally:
        rng.restore(saved)
    if bf16 > fp32:
        raise UserError(
            f"--precision bf16 refused: on this CPU it measured {bf16:.1f} ms/step against {fp32:.1f} ms/step in fp32 "
            "for this model and batch; use --precision 32 (bf16 pays off on GPUs and CPUs with fast bf16 units)"
        )
