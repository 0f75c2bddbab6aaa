"""What seeing the training costs: the digits demo command with train.logger=none against the default
logger (TensorBoard events, and at the end the evidence files, every plot and plots/report.json), and
`kindling report` on the finished run.

Goals (issue 14): logging and plots <= 5% of the demo's wall time; `kindling report RUN` on a finished run
under 1 s without importing torch. Goals (issue 23): no per-epoch cost beyond TensorBoard's writer, and the
pictures at the end of `kindling train` under 1 s: one more run of the command in a process that times each
hook of the loggers (kindling's callbacks, wrapped with a clock before the command starts; nothing else
changes), split into the TensorBoard writer's hooks, the end-of-training pictures' per-epoch hooks, and
their one call at the end.

The two commands run as back-to-back pairs, alternating which goes first; the figure held against the goal
is the median of the paired wall-time differences (whole commands: start-up, training, the end of
training). `kindling report RUN` is timed as a command (interpreter start included), median of 3;
`--refresh` (evaluate and redraw) once for comparison.

    python benchmarks/bench_report.py            # the full demo recipe, 7 pairs
    python benchmarks/bench_report.py --quick    # 3 epochs, 1 pair: checks the script works
"""

from __future__ import annotations

import argparse
import json
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
LOGGERS = ("none", "auto")  # auto: TensorBoard when installed, the default


def train_command(run_dir: Path, logger: str, epochs: int | None) -> float:
    """Wall seconds of `kindling train recipes/digits.yaml` with this logger (interpreter start included)."""
    command = [
        sys.executable,
        "-m",
        "kindling",
        "train",
        str(RECIPE),
        "--run-dir",
        str(run_dir),
        "--overwrite",
    ]
    command += ["--set", f"train.logger={logger}"] + (["--epochs", str(epochs)] if epochs else [])
    t0 = time.perf_counter()
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - t0


def report_command(run_dir: Path, *flags: str) -> float:
    t0 = time.perf_counter()
    command = [sys.executable, "-m", "kindling", "report", str(run_dir), *flags]
    subprocess.run(command, check=True, capture_output=True)
    return time.perf_counter() - t0


def report_imports(run_dir: Path) -> list[str]:
    """The heavy modules that `kindling report` on a finished run imports (expected: none)."""
    script = (
        "import sys\n"
        "from kindling.cli.main import main\n"
        f"main(['report', {str(run_dir)!r}])\n"
        "print('heavy:' + ','.join(m for m in ('torch', 'torchvision', 'matplotlib') if m in sys.modules))\n"
    )
    done = subprocess.run([sys.executable, "-c", script], check=True, capture_output=True, text=True)
    line = [x for x in done.stdout.splitlines() if x.startswith("heavy:")][-1]
    return [m for m in line[len("heavy:") :].split(",") if m]


HOOK_CLOCK = """
import json, sys, time
from collections import defaultdict
from kindling.report import loggers, record, tensorboard
spent = defaultdict(float)
def clock(cls, name, key):
    original = getattr(cls, name, None)
    if original is None:
        return
    def timed(self, *a, **k):
        t0 = time.perf_counter()
        try:
            return original(self, *a, **k)
        finally:
            spent[key] += time.perf_counter() - t0
    setattr(cls, name, timed)
EPOCH_HOOKS = ("on_epoch_start", "on_step_end", "on_validation_end", "on_epoch_end")
for name in EPOCH_HOOKS:
    clock(loggers.TensorBoardLogger, name, "tensorboard")
    clock(tensorboard.PredictionGrid, name, "tensorboard")
    clock(record.EvidenceAtEnd, name, "pictures_per_epoch")
clock(record.EvidenceAtEnd, "on_fit_end", "pictures_at_end")
from kindling.cli.main import main
main(sys.argv[1:])
print("HOOKS " + json.dumps(spent))
"""


def hook_seconds(run_dir: Path, epochs: int | None) -> dict:
    """Seconds spent in each group of logger hooks during one `kindling train` of the digits recipe."""
    command = [
        sys.executable,
        "-c",
        HOOK_CLOCK,
        "train",
        str(RECIPE),
        "--run-dir",
        str(run_dir),
        "--overwrite",
    ]
    command += ["--epochs", str(epochs)] if epochs else []
    done = subprocess.run(command, check=True, capture_output=True, text=True)
    line = [x for x in done.stdout.splitlines() if x.startswith("HOOKS ")][-1]
    epochs_run = sum(1 for _ in (run_dir / "metrics.jsonl").open())
    return {"epochs": epochs_run, **json.loads(line[len("HOOKS ") :])}


def main(quick: bool = False, repeats: int = 7) -> str:
    epochs, repeats = (3, 1) if quick else (None, repeats)
    walls: dict[str, list[float]] = {logger: [] for logger in LOGGERS}
    with tempfile.TemporaryDirectory(prefix="bench_report_") as tmp:
        tmp = Path(tmp)
        train_command(tmp / "warm", "auto", 1)  # first-run caches (pyc, fonts) out of the measurement
        for i in range(repeats):
            for logger in LOGGERS if i % 2 == 0 else LOGGERS[::-1]:
                walls[logger].append(train_command(tmp / logger, logger, epochs))
        run = tmp / "auto"
        cli = [report_command(run) for _ in range(3)]
        heavy = report_imports(run)
        refresh = report_command(run, "--refresh")
        hooks = [hook_seconds(tmp / "hooks", epochs) for _ in range(1 if quick else 3)]
    pairs = [100 * (with_ - none) / none for none, with_ in zip(walls["none"], walls["auto"])]
    cost, median_cli = statistics.median(pairs), statistics.median(cli)
    lines = [
        "## Report: logging, plots, report.html (issue 14)",
        "",
        f"Digits demo `kindling train recipes/digits.yaml`{' --epochs 3' if quick else ''}, train.logger none "
        f"vs the default (TensorBoard, evidence files, plots, plots/report.json), {repeats} back-to-back "
        f"pair(s), alternating which runs first; {platform.processor() or platform.machine()}, "
        f"{os.cpu_count()} CPUs.",
        "",
        "| measure | seconds | |",
        "|---|---:|---|",
        f"| `kindling train`, logger none (median) | {statistics.median(walls['none']):.2f} | |",
        f"| `kindling train`, default logger (median) | {statistics.median(walls['auto']):.2f} | |",
        f"| **logging and plots**: paired wall-time difference (median) | | **{cost:+.1f}%** (goal <= 5%: "
        f"{'met' if cost <= 5 else 'NOT met'}; pairs: {', '.join(f'{x:+.1f}%' for x in pairs)}) |",
        f"| `kindling report RUN`, finished run (median of {len(cli)}) | {median_cli:.2f} | goal < 1 s: "
        f"{'met' if median_cli < 1 else 'NOT met'}; imports {', '.join(heavy) or 'no torch, torchvision or matplotlib'} |",
        f"| `kindling report RUN --refresh` (evaluate and redraw, once) | {refresh:.2f} | |",
        f"| TensorBoard's writer (its hooks), per epoch (median of {len(hooks)} runs) | "
        f"{statistics.median(h.get('tensorboard', 0) / h['epochs'] for h in hooks):.4f} | |",
        f"| the end-of-training pictures' hooks, per epoch | "
        f"{statistics.median(h.get('pictures_per_epoch', 0) / h['epochs'] for h in hooks):.4f} | goal: nothing "
        "beyond the writer |",
        f"| the pictures at the end of `kindling train` (evaluation, evidence, every plot, report.json) | "
        f"{statistics.median(h.get('pictures_at_end', 0) for h in hooks):.2f} | goal < 1 s: "
        f"{'met' if statistics.median(h.get('pictures_at_end', 0) for h in hooks) < 1 else 'NOT met'} |",
        "",
    ]
    text = "\n".join(lines)
    print(text)
    return text


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="3 epochs, 1 pair (default: the full recipe)")
    parser.add_argument("--repeats", type=int, default=7, help="pairs of runs (default: 7)")
    args = parser.parse_args()
    main(args.quick, args.repeats)
