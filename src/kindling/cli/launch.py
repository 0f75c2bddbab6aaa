"""`kindling train --devices N`: start torchrun for N processes on this machine, running the same command."""

from __future__ import annotations

import subprocess
import sys
import tempfile
from pathlib import Path


def torchrun_command(nproc: int, argv: list[str], log_dir: Path | str | None = None) -> list[str]:
    """`python -m torch.distributed.run --standalone --nproc_per_node=N [--log-dir=DIR] -m kindling ARGV`."""
    launcher = [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={nproc}"]
    if log_dir is not None:
        launcher.append(f"--log-dir={log_dir}")
    return [*launcher, "-m", "kindling", *argv]


def launch_torchrun(nproc: int, argv: list[str]) -> int:
    """Run torchrun and wait for it. Its per-rank error files go to a folder of ours, removed when it ends:
    left to itself torchrun makes a `torchelastic_*` folder in the temporary directory on every launch and
    never removes it."""
    with tempfile.TemporaryDirectory(prefix="kindling-torchrun-") as logs:
        print("launching: " + " ".join(torchrun_command(nproc, argv)[2:]), flush=True)
        try:
            return subprocess.call(torchrun_command(nproc, argv, log_dir=logs))
        except KeyboardInterrupt:
            return 130
