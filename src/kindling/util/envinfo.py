"""Provenance: versions, git SHA, hardware. Saved in env.json and in every Bundle."""

from __future__ import annotations

import os
import platform
import subprocess
import sys

VERSION = "0.1.0"  # kindling's own; the package exports it as kindling.__version__


def usable_cores() -> int:
    """The cores this process may run on (its affinity mask: a container's or taskset's limit), not the host's."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)


def git_sha() -> str | None:
    try:
        out = subprocess.run(
            ["git", "rev-parse", "HEAD"], capture_output=True, text=True, timeout=5, check=False
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() or None


def collect(device=None, threads: int | None = None, seed: int | None = None) -> dict:
    import numpy  # lazy: numpy
    import torch  # lazy: torch

    info = {
        "kindling": VERSION,
        "python": sys.version.split()[0],
        "torch": torch.__version__,
        "numpy": numpy.__version__,
        "platform": platform.platform(),
        "processor": platform.processor() or platform.machine(),
        "cpu_count": os.cpu_count(),
        "git_sha": git_sha(),
        "seed": seed,
        "threads": threads,
        "device": str(device) if device is not None else None,
    }
    if device is not None and getattr(device, "type", "") == "cuda":
        info["gpu"] = torch.cuda.get_device_name(device)
    return info
