"""Measure before choosing: intra-op threads, the memory format of conv nets, and whether bf16 autocast
actually helps on this CPU.

Each probe runs real forward+backward steps on a copy of the model and a real batch, and restores
every RNG afterwards so that calibrating never changes what training computes. How the alternatives are
timed and which one wins are the rules the server follows too (kindling.util.measure).
"""

from __future__ import annotations

import contextlib
import copy

import torch

from kindling.errors import UserError
from kindling.train import rng
from kindling.util.measure import choose_threads, fastest, time_alternatives


def probe_step(trainer, autocast=contextlib.nullcontext, memory_format=None):
    """A closure running one forward+backward of a copy of the model on the first training batch."""
    x, y, lengths = next(trainer.train_split.batches(trainer.batch_size))
    probe = copy.deepcopy(trainer.model)
    if memory_format is not None:
        probe = probe.to(memory_format=memory_format)

    def step() -> None:
        with autocast():
            out = trainer._forward(probe, trainer.preprocess(x), lengths)
            loss = trainer.task.loss(out, y.to(trainer.device))
        loss.backward()
        probe.zero_grad(set_to_none=True)

    return step


def pick_threads(trainer, requested: int | None = None) -> tuple[int, str]:
    """requested: None = as configured (--threads, or the checkpoint's on resume); 0 = measure now."""
    tc = trainer.tc
    kept = False
    if requested is None:
        requested = tc.threads
        if trainer.resume_state is not None and not requested:
            requested = int(trainer.resume_state.get("threads") or 0)  # same threads: same float results
            kept = requested > 0
    with rng.kept():  # the probe's batch draw too: calibrating never moves a random stream
        # a dry run checks that one batch fits: timing the candidates would be most of it
        step = None if tc.dry_run else probe_step(trainer)
        threads, how = choose_threads(step, requested, trainer.device, tc.deterministic, trainer.dist.world)
    return threads, "kept from the run's start" if kept else how


MEMORY_FORMATS = ("auto", "contiguous", "channels_last")


def has_conv2d(model) -> bool:
    return any(isinstance(m, torch.nn.Conv2d) for m in model.modules())


def pick_memory_format(trainer) -> tuple[str, str]:
    """(format, how): 'channels_last' when a conv net on image batches measures faster that way on this CPU.

    A small conv net often steps faster in channels_last (max-pool and the convolutions take oneDNN's
    faster path), but that is not true of every model, so both are timed on real steps, alternately.
    Fixed (contiguous) under --deterministic and on GPUs (not measured there); a resumed run keeps its
    first choice, so the floating-point sums stay the same.
    """
    asked = trainer.tc.memory_format
    if asked not in MEMORY_FORMATS:
        raise UserError(
            f"train.memory_format '{asked}' is not one of {', '.join(MEMORY_FORMATS)}; auto measures both"
        )
    if not has_conv2d(trainer.model) or len(trainer.sig.input_shape) != 3:
        return "contiguous", "no 2-d convolutions"
    if asked != "auto":
        _apply(trainer, asked)
        return asked, "set by train.memory_format"
    if trainer.resume_state is not None:
        chosen = trainer.resume_state.get("memory_format") or "contiguous"
        _apply(trainer, chosen)
        return chosen, "kept from the checkpoint"
    if trainer.tc.deterministic or trainer.device.type != "cpu":
        return "contiguous", "fixed"
    if trainer.tc.dry_run:  # one batch to check that everything fits: timing both would be most of it
        return "contiguous", "not measured in a dry run"
    with rng.kept():
        try:
            times = time_alternatives(
                {
                    "contiguous": probe_step(trainer),
                    "channels_last": probe_step(trainer, memory_format=torch.channels_last),
                }
            )
        except RuntimeError as exc:  # the seeds' `x.view(-1, 32 * 5 * 5)` needs a contiguous tensor
            if "view" not in str(exc):
                raise
            return "contiguous", "the model's .view() needs contiguous tensors"
    chosen = fastest(times, default="contiguous")
    _apply(trainer, chosen)
    ms = {name: seconds * 1e3 for name, seconds in times.items()}
    return (
        chosen,
        f"measured: contiguous {ms['contiguous']:.1f} ms/step, channels_last {ms['channels_last']:.1f}",
    )


def _apply(trainer, memory_format: str) -> None:
    if memory_format == "channels_last":
        trainer.model.to(memory_format=torch.channels_last)  # in place: parameters keep their identity


def check_cpu_bf16(trainer) -> None:
    """Refuse bf16 on a CPU where it measures clearly slower than fp32 for this model and batch."""
    with rng.kept():
        times = time_alternatives(
            {
                "fp32": probe_step(trainer),
                "bf16": probe_step(trainer, lambda: torch.autocast("cpu", dtype=torch.bfloat16)),
            }
        )
    if fastest(times, default="bf16") != "bf16":
        fp32, bf16 = times["fp32"] * 1e3, times["bf16"] * 1e3
        raise UserError(
            f"--precision bf16 refused: on this CPU it measured {bf16:.1f} ms/step against {fp32:.1f} ms/step in fp32 "
            "for this model and batch; use --precision 32 (bf16 pays off on GPUs and CPUs with fast bf16 units)"
        )
