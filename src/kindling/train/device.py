"""Device choice (cuda > mps > cpu) and the intra-op thread count that is fastest for the model."""

from __future__ import annotations

import os
import time

import torch

from kindling.envinfo import usable_cores
from kindling.errors import UserError


def pick_device(name: str = "auto") -> torch.device:
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda", int(os.environ.get("LOCAL_RANK", 0)))
        if getattr(torch.backends, "mps", None) and torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    try:
        device = torch.device(name)
    except RuntimeError as exc:
        raise UserError(f"--device '{name}' is not a device; use auto, cpu, cuda, cuda:N or mps") from exc
    if device.type == "cuda" and not torch.cuda.is_available():
        raise UserError("--device cuda asked for, but no CUDA GPU is visible here; use --device cpu or auto")
    if device.type == "mps" and not (
        getattr(torch.backends, "mps", None) and torch.backends.mps.is_available()
    ):
        raise UserError("--device mps asked for, but MPS is not available here; use --device cpu or auto")
    return device


def _time_steps(step, threads: int, repeats: int = 3) -> float:
    torch.set_num_threads(threads)
    step()  # warm-up at this thread count
    t0 = time.perf_counter()
    for _ in range(repeats):
        step()
    return (time.perf_counter() - t0) / repeats


def choose_threads(
    step, requested: int, device: torch.device, deterministic: bool = False, world: int = 1
) -> tuple[int, str]:
    """Return (threads, how). `step` runs one forward+backward on a real batch.

    requested > 0 is honoured. Otherwise, on a CPU, 1 thread and all cores are timed on a few real
    steps and the faster wins: on 2-core machines a small CNN often trains faster on 1 thread.
    Large models (a step over 0.25 s) skip the measurement and take all cores.
    """
    cores = usable_cores()
    if requested > 0:
        torch.set_num_threads(requested)
        return requested, "set by --threads"
    if deterministic and device.type == "cpu":
        torch.set_num_threads(1)  # a measured choice could differ between runs, and so would the float sums
        return 1, "fixed by --deterministic"
    if world > 1 and device.type == "cpu":
        share = max(1, cores // world)
        torch.set_num_threads(share)
        return share, f"cores shared by {world} processes"
    if device.type != "cpu" or cores == 1:
        torch.set_num_threads(cores)
        return cores, "all cores"
    t_all = _time_steps(step, cores, repeats=2)
    if t_all > 0.25:
        return cores, f"all cores (a step takes {t_all:.2f}s)"
    t_one = _time_steps(step, 1)
    t_all = _time_steps(step, cores)
    best = 1 if t_one <= t_all else cores
    torch.set_num_threads(best)
    return best, f"measured: 1 thread {t_one * 1e3:.1f} ms/step, {cores} threads {t_all * 1e3:.1f} ms/step"
