"""What seeing the training costs: the digits demo trained with logger none vs TensorBoard + plots, and
`kindling report` on the finished run.

Goals (issue 7): logging and plotting <= 3% of the demo's training time; `kindling report` < 5 s.

Two measures of the overhead, because a shared CPU is noisy:
  * wall time of the demo command with train.logger=none vs tensorboard (median of alternating repeats);
  * the time spent inside the report callbacks themselves (timed around every event) in one in-process
    run: the cost without the noise of two separate runs.

    python benchmarks/bench_report.py            # the full demo recipe, 3 repeats each
    python benchmarks/bench_report.py --quick    # 3 epochs, 1 repeat: checks the script works
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RECIPE = ROOT / "recipes" / "digits.yaml"


class Timed:
    """Wraps a callback and adds up the seconds spent in each of its events."""

    def __init__(self, inner, totals: dict):
        self.inner, self.totals = inner, totals

    def __getattr__(self, name):
        method = getattr(self.inner, name)
        if not name.startswith("on_"):
            return method

        def timed(*args):
            t0 = time.perf_counter()
            try:
                return method(*args)
            finally:
                key = f"{type(self.inner).__name__}.{name}"
                self.totals[key] = self.totals.get(key, 0.0) + time.perf_counter() - t0

        return timed


def _config(run_dir: Path, logger: str, epochs: int | None):
    from kindling.config import load_config

    sets = [f"train.logger={logger}"] + ([f"train.epochs={epochs}"] if epochs else [])
    return load_config(RECIPE, {"run_dir": str(run_dir)}, sets)


def train_cli(run_dir: Path, logger: str, epochs: int | None) -> float:
    """Wall seconds of `kindling train recipes/digits.yaml` (the demo command, interpreter start included)."""
    command = [
        sys.executable,
        "-m",
        "kindling",
        "train",
        str(RECIPE),
        "--run-dir",
        str(run_dir),
        "--overwrite",
        "--set",
        f"train.logger={logger}",
    ]
    if epochs:
        command += ["--epochs", str(epochs)]
    t0 = time.perf_counter()
    subprocess.run(command, check=True, capture_output=True)
    return time.perf_counter() - t0


def train_timed(run_dir: Path, epochs: int | None) -> tuple[float, dict]:
    """One in-process run with the report callbacks timed around every event: (wall seconds, per-event sums)."""
    from kindling.report.callbacks import callbacks_for
    from kindling.runner import train

    totals: dict = {}
    cfg = _config(run_dir, "none", epochs)
    extra = [Timed(cb, totals) for cb in callbacks_for(_config(run_dir, "tensorboard", epochs), run_dir)]
    t0 = time.perf_counter()
    train(cfg, overwrite=True, echo=lambda *a, **k: None, callbacks=extra)
    return time.perf_counter() - t0, totals


def report_times(run_dir: Path, repeats: int) -> tuple[list[float], float]:
    """In-process write_report seconds (each run), and one `kindling report` CLI call (with interpreter start)."""
    from kindling.report.html import write_report

    inproc = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        write_report(run_dir)
        inproc.append(time.perf_counter() - t0)
    t0 = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "kindling", "report", str(run_dir)], check=True, capture_output=True
    )
    return inproc, time.perf_counter() - t0


def main(quick: bool = False, repeats: int = 3) -> str:
    epochs = 3 if quick else None
    repeats = 1 if quick else repeats
    walls: dict[str, list[float]] = {"none": [], "tensorboard": []}
    with tempfile.TemporaryDirectory(prefix="bench_report_") as tmp:
        tmp = Path(tmp)
        train_cli(tmp / "warm", "tensorboard", 1)  # first-run caches (pyc, fonts) out of the measurement
        for _ in range(repeats):
            for logger in ("none", "tensorboard"):
                walls[logger].append(train_cli(tmp / logger, logger, epochs))
        timed_wall, totals = train_timed(tmp / "timed", epochs)
        inproc, cli = report_times(tmp / "tensorboard", 1 if quick else 3)
    none_s, tb_s = statistics.median(walls["none"]), statistics.median(walls["tensorboard"])
    inside = sum(totals.values())
    lines = [
        "## Report: logging, plots, report.html (issue 7)",
        "",
        f"Digits demo `kindling train recipes/digits.yaml`{' --epochs 3' if quick else ''} with train.logger none vs "
        f"tensorboard (TensorBoard + end-of-training plots), median of {repeats} alternating run(s) each; "
        f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPUs. A shared machine: the wall-time "
        "difference is noisy; the time inside the callbacks (one in-process run, every event timed) is the steadier measure.",
        "",
        "| measure | seconds | share |",
        "|---|---:|---:|",
        f"| `kindling train`, logger none | {none_s:.2f} | |",
        f"| `kindling train`, TensorBoard + plots | {tb_s:.2f} | {100 * (tb_s - none_s) / none_s:+.1f}% (goal <= 3%) |",
        f"| inside the report callbacks, in-process run of {timed_wall:.2f} s | {inside:.3f} | "
        f"{100 * inside / timed_wall:.1f}% of it, {100 * inside / none_s:.1f}% of the command |",
    ]
    for key, value in sorted(totals.items(), key=lambda kv: -kv[1])[:5]:
        lines.append(f"| &nbsp;&nbsp;{key} | {value:.3f} | {100 * value / timed_wall:.1f}% |")
    lines += [
        f"| `kindling report` in process (median of {len(inproc)}) | {statistics.median(inproc):.2f} | goal < 5 s |",
        f"| `kindling report` CLI, with interpreter and torch start | {cli:.2f} | |",
        "",
    ]
    text = "\n".join(lines)
    print(text)
    return text


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="3 epochs, 1 repeat (default: the full recipe)")
    parser.add_argument("--repeats", type=int, default=3, help="repeats per logger (default: 3)")
    args = parser.parse_args()
    main(args.quick, args.repeats)
