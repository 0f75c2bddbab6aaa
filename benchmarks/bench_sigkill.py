"""A SIGKILL at random moments of a run, then the command kindling advises: does the run always finish,
with the weights of an uninterrupted run?

One uninterrupted run of a small digits recipe (--deterministic, a checkpoint every few steps) gives the
reference weights and its duration T. Then, N times: the same command is started and killed (SIGKILL, the
whole process group) at a moment drawn uniformly from [1 s, T]; the user's next move is replayed: run the
same command again, and if kindling refuses, run the command its one line advises (`--resume RUN`),
until it finishes or refuses twice. The final checkpoint's tensors are compared with the reference.

    python benchmarks/bench_sigkill.py              # 20 kills
    python benchmarks/bench_sigkill.py --kills 2    # a quick check that it works
    python benchmarks/bench_sigkill.py --at 2,9     # kills at chosen moments (before the first checkpoint)
"""

from __future__ import annotations

import argparse
import os
import random
import re
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, os.path.dirname(__file__))

from common import machine, table  # noqa: E402

KINDLING = [sys.executable, "-m", "kindling"]


def command(run_dir: Path, epochs: int) -> list[str]:
    return [
        *KINDLING, "train", "--data", "digits", "--epochs", str(epochs), "--deterministic", "--threads", "1",
        "--logger", "none", "--save-every-steps", "5", "--run-dir", str(run_dir),
    ]  # fmt: skip


def state_of(run_dir: Path) -> str:
    if not run_dir.exists():
        return "no run dir"
    if (run_dir / "checkpoints" / "last.pt").is_file():
        return "checkpoint"
    return "no checkpoint"


def killed_at(argv: list[str], seconds: float, cwd: Path) -> bool:
    """Start `argv` in `cwd` (the scratch folder) and SIGKILL its process group after `seconds`; False when
    it finished first."""
    proc = subprocess.Popen(
        argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True, cwd=cwd
    )
    try:
        proc.wait(timeout=seconds)
        return False
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
        return True


def advised(stderr: str) -> list[str] | None:
    """The command a refusal's line advises (`kindling train --resume RUN` ...), as argv, or None."""
    found = re.search(r"`(kindling train [^`]+)`", stderr) or re.search(
        r"(kindling train \S.*)$", stderr.strip()
    )
    return [*KINDLING, *shlex.split(found.group(1))[1:]] if found else None


def follow_advice(argv: list[str], cwd: Path) -> tuple[bool, str]:
    """Rerun `argv` in `cwd`; on a refusal run what it advises. (finished, what was run)."""
    steps = []
    for _ in range(3):
        done = subprocess.run(argv, capture_output=True, text=True, cwd=cwd)
        steps.append(" ".join(argv[3:5]) if argv[3:5] != ["train", "--data"] else "same command")
        if done.returncode == 0:
            return True, " -> ".join(steps)
        nxt = advised(done.stderr)
        if done.returncode != 2 or nxt is None:
            return False, " -> ".join(steps) + f" (exit {done.returncode}: {done.stderr.strip()[-200:]})"
        argv = nxt
    return False, " -> ".join(steps) + " (advice loops)"


def weights(run_dir: Path) -> dict:
    from kindling.train import checkpoint

    return checkpoint.load(run_dir / "checkpoints" / "last.pt")["model"]


def identical(a: dict, b: dict) -> bool:
    import torch

    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def cli(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kills", type=int, default=20)
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--at", default="", help="comma-separated kill moments in seconds (instead of random)"
    )
    args = parser.parse_args(argv)
    forced = [float(x) for x in args.at.split(",") if x]
    args.kills = len(forced) or args.kills
    rng = random.Random(args.seed)
    rows, failures = [], 0
    with tempfile.TemporaryDirectory(prefix="bench-sigkill-") as tmp:  # every process's scratch, its cwd
        ref = Path(tmp) / "reference"
        t0 = time.perf_counter()
        subprocess.run(command(ref, args.epochs), check=True, capture_output=True, cwd=tmp)
        duration = time.perf_counter() - t0
        reference = weights(ref)
        for k in range(args.kills):
            run_dir = Path(tmp) / f"kill{k}"
            moment = forced[k] if forced else rng.uniform(1.0, duration)
            was_killed = killed_at(command(run_dir, args.epochs), moment, Path(tmp))
            state = state_of(run_dir) if was_killed else "finished first"
            finished, how = follow_advice(command(run_dir, args.epochs), Path(tmp))
            same = finished and identical(weights(run_dir), reference)
            failures += not same  # not finished, or not bit-identical: whatever it left behind
            rows.append(
                [k + 1, f"{moment:.1f}", state, how, "yes" if finished else "NO", "yes" if same else "NO"]
            )
            shutil.rmtree(run_dir, ignore_errors=True)
    print(f"SIGKILL at {args.kills} random moments of a {duration:.1f} s digits run ({args.epochs} epochs, "
          f"--deterministic, a checkpoint every 5 steps; the duration is the whole uninterrupted command); "
          f"seed {args.seed}; {machine()}\n")  # fmt: skip
    print(table(["#", "killed at (s)", "left behind", "what was run", "finished", "bit-identical"], rows))
    print(
        f"\n{failures} failures (not finished, or final weights not bit-identical to the uninterrupted run's)"
    )
    return 1 if failures else 0


def main(quick: bool = False) -> str:
    """run_all's entry: the table as markdown (`--quick`: a small subset, to check the script runs)."""
    import contextlib
    import io

    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        cli(["--kills", "2"] if quick else [])
    return "## SIGKILL at random moments, then the advised command (issue 16)\n\n" + out.getvalue()


if __name__ == "__main__":
    sys.exit(cli())
