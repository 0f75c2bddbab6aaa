"""`kindling train --devices N`: start torchrun for N processes on this machine, running the same command."""

from __future__ import annotations

import subprocess
import sys


def launch_torchrun(nproc: int, argv: list[str]) -> int:
    cmd = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--standalone",
        f"--nproc_per_node={nproc}",
        "-m",
        "kindling",
        *argv,
    ]
    print("launching: " + " ".join(cmd[2:]), flush=True)
    try:
        return subprocess.call(cmd)
    except KeyboardInterrupt:
        return 130
