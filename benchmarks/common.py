"""Shared helpers for benchmarks: provenance, medians, markdown tables, CIFAR-shaped data."""

from __future__ import annotations

import os
import platform
import statistics
import time
from collections.abc import Callable


def machine() -> str:
    import torch

    cpu = platform.processor() or platform.machine()
    try:
        cpu = next(ln.split(":", 1)[1].strip() for ln in open("/proc/cpuinfo") if ln.startswith("model name"))
    except (OSError, StopIteration):
        pass
    gpu = f", GPU {torch.cuda.get_device_name()}" if torch.cuda.is_available() else ""
    return (
        f"{cpu}, {os.cpu_count()} cores{gpu}; Python {platform.python_version()}, torch {torch.__version__}"
    )


def median_time(fn: Callable[[], object], repeats: int) -> tuple[float, list[float]]:
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times), times


def interleaved(fns: dict[str, Callable[[], float]], repeats: int) -> dict[str, list[float]]:
    """Run each fn once per round, round after round, so drift of the machine hits all alike; every
    other round runs them in reverse order, so no contender always follows the same one (what ran just
    before leaves the caches and the allocator in its own state). Each fn returns what it measured itself.
    """
    out: dict[str, list[float]] = {name: [] for name in fns}
    for r in range(repeats):
        for name in list(fns) if r % 2 == 0 else list(fns)[::-1]:
            out[name].append(fns[name]())
    return out


def table(header: list[str], rows: list[list]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def cifar_like(n: int, seed: int = 0):
    """n CIFAR-10-shaped uint8 images (N,3,32,32) with labels; class-dependent colour so it is learnable."""
    import torch

    g = torch.Generator().manual_seed(seed)
    y = torch.randint(0, 10, (n,), generator=g)
    base = (y.view(-1, 1, 1, 1).float() * 25).expand(n, 3, 32, 32)
    noise = torch.randint(0, 60, (n, 3, 32, 32), generator=g).float()
    return (base + noise).clamp(0, 255).to(torch.uint8), y
