"""`kindling train --devices N`: start torchrun for N processes on this machine, running the same command."""

from __future__ import annotations

import subprocess
import sys


def torchrun_command(nproc: int, argv: list[str]) -> list[str]:
    """`python -m torch.distributed.run --standalone --nproc_per_node=N -m kindling ARGV`."""
    launcher = [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={nproc}"]
    return [*launcher, "-m", "kindling", *argv]


def launch_torchrun(nproc: int, argv: list[str]) -> int:
    cmd = torchrun_command(nproc, argv)
    print("launching: " + " ".join(cmd[2:]), flush=True)
    try:
        return subprocess.call(cmd)
    except KeyboardInterrupt:
        return 130
