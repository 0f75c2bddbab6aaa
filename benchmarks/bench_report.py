"""What seeing the training costs: the digits demo trained with logger none vs TensorBoard + plots, and
`kindling report` on the finished run.

Goals (issue 7): logging and plotting <= 3% of the demo's training time; `kindling report` < 5 s.

Measures of the overhead:
  * wall (and CPU) time of the demo command with train.logger=none vs tensorboard, run as back-to-back
    pairs (alternating which goes first); the median paired wall-time difference is the figure held
    against the goal (it counts everything: the report sidecar process, its start and its drawing);
  * the same commands cut into phases by the lines they print (start-up to the first line, training,
    the last epoch's line to the exit): the machine's speed drifts between runs, so the phase where the
    plots are made says more than the total;
  * the time spent inside the report callbacks themselves (timed around every event) in in-process runs:
    where the cost sits in the training process.
`kindling report RUN` is timed as a command (interpreter start included), median of 3: on a finished run it
reads the files training left (no torch); `--refresh` (evaluate and redraw) is timed once for comparison.

    python benchmarks/bench_report.py            # the full demo recipe, 5 pairs
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
    """Wraps a callback and adds up the wall seconds spent in each of its events (`totals`), and the CPU
    seconds of the whole process meanwhile (`cpu`: the callbacks' own threads and torch's included)."""

    def __init__(self, inner, totals: dict, cpu: dict):
        self.inner, self.totals, self.cpu = inner, totals, cpu

    def __getattr__(self, name):
        method = getattr(self.inner, name)
        if not name.startswith("on_"):
            return method

        def timed(*args):
            t0, c0 = time.perf_counter(), time.process_time()
            try:
                return method(*args)
            finally:
                key = f"{type(self.inner).__name__}.{name}"
                self.totals[key] = self.totals.get(key, 0.0) + time.perf_counter() - t0
                self.cpu[key] = self.cpu.get(key, 0.0) + time.process_time() - c0

        return timed


def _config(run_dir: Path, logger: str, epochs: int | None):
    from kindling.config import load_config

    sets = [f"train.logger={logger}"] + ([f"train.epochs={epochs}"] if epochs else [])
    return load_config(RECIPE, {"run_dir": str(run_dir)}, sets)


def demo_command(run_dir: Path, logger: str, epochs: int | None = None) -> list[str]:
    """`kindling train recipes/digits.yaml` into run_dir with the given logger (and epochs)."""
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
    return command + ["--set", f"train.logger={logger}"] + (["--epochs", str(epochs)] if epochs else [])


def train_cli(run_dir: Path, logger: str, epochs: int | None) -> tuple[float, float, dict]:
    """(wall, CPU, phases) seconds of `kindling train recipes/digits.yaml` (the demo command, start-up
    included); phases: start-up (to the "training ..." line), training (to the last epoch's line), end
    (from there to the exit)."""
    command = demo_command(run_dir, logger, epochs)
    t0, c0 = time.perf_counter(), _children_cpu()
    marks = {}
    with subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True) as proc:
        for line in proc.stdout:
            if line.startswith(("training ", "epoch ")):
                marks["training" if line.startswith("training") else "last_epoch"] = time.perf_counter() - t0
    if proc.returncode:
        raise RuntimeError(f"{' '.join(command)} failed with exit code {proc.returncode}")
    wall = time.perf_counter() - t0
    phases = {
        "start-up": marks["training"],
        "training": marks["last_epoch"] - marks["training"],
        "end": wall - marks["last_epoch"],
    }
    return wall, _children_cpu() - c0, phases


def startup_cli(run_dir: Path, logger: str) -> float:
    """Seconds from the demo command's start to its "training ..." line; the command is then stopped (a
    cheap extra sample of the start-up phase, whose run-to-run noise is the largest of the three)."""
    t0 = time.perf_counter()
    command = demo_command(run_dir, logger)
    with subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True) as proc:
        for line in proc.stdout:
            if line.startswith("training "):
                seconds = time.perf_counter() - t0
                proc.kill()
                break
    return seconds


def _children_cpu() -> float:
    import resource

    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


class ChildCpu:
    """A callback noting the CPU seconds this process's children (the report sidecar) used from the start
    of training to the end of its last epoch: what the sidecar took from the cores while torch trained.
    At the start it waits for the sidecar to finish warming up, as it has by then in the command (whose
    start-up, torch's import, takes seconds; here torch is already loaded)."""

    def __init__(self):
        self.start = self.last = 0.0

    def __getattr__(self, name):
        if name == "on_fit_start":
            return lambda *a: setattr(self, "start", _idle_children_cpu())
        if name == "on_epoch_end":
            return lambda *a: setattr(self, "last", _live_children_cpu())
        if name.startswith("on_"):
            return lambda *a: None
        raise AttributeError(name)

    @property
    def seconds(self) -> float:
        return self.last - self.start


def _idle_children_cpu(limit: float = 10.0) -> float:
    """_live_children_cpu() once it stops growing (the children went idle), or after `limit` seconds."""
    before, t0 = _live_children_cpu(), time.perf_counter()
    while time.perf_counter() - t0 < limit:
        time.sleep(0.2)
        now = _live_children_cpu()
        if now == before:
            return now
        before = now
    return before


def _live_children_cpu() -> float:
    """utime + stime of this process's running children (Linux /proc; 0 elsewhere)."""
    total, tick = 0.0, os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
    for task in Path("/proc/self/task").glob("*"):
        try:
            pids = (task / "children").read_text().split()
        except OSError:
            continue
        for pid in pids:
            try:
                fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
                total += (int(fields[11]) + int(fields[12])) / tick
            except (OSError, IndexError, ValueError):
                continue
    return total


def train_timed(run_dir: Path, epochs: int | None) -> tuple[float, dict, dict]:
    """One in-process run (its report sidecar included) with the report callbacks timed around every
    event: (wall seconds of the run, per-event wall sums, per-event process-CPU sums; the sidecar's CPU
    seconds during training under "sidecar CPU while training")."""
    from kindling.report import callbacks
    from kindling.runner import train

    totals: dict = {}
    cpu: dict = {}
    real = callbacks.callbacks_for

    def timed_callbacks(*args):
        return [Timed(cb, totals, cpu) for cb in real(*args)]

    callbacks.callbacks_for = timed_callbacks
    probe = ChildCpu()
    try:
        t0 = time.perf_counter()
        train(
            _config(run_dir, "tensorboard", epochs),
            overwrite=True,
            echo=lambda *a, **k: None,
            callbacks=[probe],
        )
        cpu["sidecar CPU while training"] = probe.seconds
        return time.perf_counter() - t0, totals, cpu
    finally:
        callbacks.callbacks_for = real


def report_cli(run_dir: Path, *flags: str) -> tuple[float, str]:
    """Wall seconds of one `kindling report RUN` command (interpreter start included), and what it printed."""
    t0 = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "kindling", "report", str(run_dir), *flags],
        check=True,
        capture_output=True,
        text=True,
    )
    return time.perf_counter() - t0, done.stdout.strip()


def report_imports(run_dir: Path) -> list[str]:
    """The heavy modules that `kindling report` on a finished run imports (expected: none)."""
    script = (
        "import sys\n"
        "from kindling.cli import main\n"
        f"main(['report', {str(run_dir)!r}])\n"
        "print('heavy:' + ','.join(m for m in ('torch', 'torchvision', 'matplotlib') if m in sys.modules))\n"
    )
    done = subprocess.run([sys.executable, "-c", script], check=True, capture_output=True, text=True)
    line = [x for x in done.stdout.splitlines() if x.startswith("heavy:")][-1]
    return [m for m in line[len("heavy:") :].split(",") if m]


def main(quick: bool = False, repeats: int = 7, startup_pairs: int = 13) -> str:
    epochs = 3 if quick else None
    repeats, startup_pairs = (1, 1) if quick else (repeats, startup_pairs)
    walls: dict[str, list[tuple[float, float, dict]]] = {"none": [], "tensorboard": []}
    with tempfile.TemporaryDirectory(prefix="bench_report_") as tmp:
        tmp = Path(tmp)
        train_cli(tmp / "warm", "tensorboard", 1)  # first-run caches (pyc, fonts) out of the measurement
        for i in range(repeats):
            for logger in ("none", "tensorboard") if i % 2 == 0 else ("tensorboard", "none"):
                walls[logger].append(train_cli(tmp / logger, logger, epochs))
        starts = [t[2]["start-up"] - n[2]["start-up"] for n, t in zip(walls["none"], walls["tensorboard"])]
        for i in range(startup_pairs):
            order = ("none", "tensorboard") if i % 2 else ("tensorboard", "none")
            pair = {lg: startup_cli(tmp / f"start_{lg}", lg) for lg in order}
            starts.append(pair["tensorboard"] - pair["none"])
        timed = [train_timed(tmp / f"timed{i}", epochs) for i in range(min(repeats, 3))]
        run = tmp / "tensorboard"
        cli = [report_cli(run)[0] for _ in range(3)]
        heavy = report_imports(run)
        refresh, _ = report_cli(run, "--refresh")
    none_s = statistics.median(w for w, _, _ in walls["none"])
    tb_s = statistics.median(w for w, _, _ in walls["tensorboard"])
    pairs = [100 * (t[0] - n[0]) / n[0] for n, t in zip(walls["none"], walls["tensorboard"])]
    phase = {
        name: statistics.median(t[2][name] - n[2][name] for n, t in zip(walls["none"], walls["tensorboard"]))
        for name in ("start-up", "training", "end")
    }
    phase["start-up"] = statistics.median(starts)  # whole commands and the extra start-up-only pairs
    phase_rows = [
        f"| phase: {name}, logger none / TensorBoard (medians) | "
        f"{statistics.median(w[2][name] for w in walls['none']):.2f} / "
        f"{statistics.median(w[2][name] for w in walls['tensorboard']):.2f} | {phase[name]:+.2f} s paired"
        + (
            f" ({len(starts)} pairs, {len(starts) - repeats} of them stopped there)"
            if name == "start-up"
            else ""
        )
        + " |"
        for name in ("start-up", "training", "end")
    ]
    cpu_pairs = [100 * (t[1] - n[1]) / n[1] for n, t in zip(walls["none"], walls["tensorboard"])]
    paired = statistics.median(pairs)
    during = statistics.median(
        sum(v for k, v in totals.items() if not k.endswith(".on_fit_end")) + cpu["sidecar CPU while training"]
        for _, totals, cpu in timed
    )
    cost = max(0.0, phase["start-up"]) + during + max(0.0, phase["end"])  # a phase measured faster counts 0
    share = 100 * cost / none_s
    head = (
        f"Digits demo `kindling train recipes/digits.yaml`{' --epochs 3' if quick else ''} with train.logger none "
        "vs tensorboard (TensorBoard + end-of-training evaluation, plots and plots/report.json), "
        f"{repeats} back-to-back pair(s), alternating which runs first; "
        f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPUs. "
        "TensorBoard's events and the plots are made by the report sidecar process, which imports TensorBoard "
        "(and matplotlib for runs that need it; this image run's plots are all PIL) while the trainer loads "
        "torch, and sleeps until it is sent something. "
        "The cost is measured where it lies, each part with as little noise as it allows: the paired "
        "difference of the start-up phase (to the command's first line; extra pairs stopped there, as it "
        "is the noisiest) and of the end phase (from the last epoch's line to "
        "the exit: evaluation, drawing, report.json), and in between the time inside the report callbacks "
        "(in-process runs, every event timed) plus the CPU the sidecar used while torch trained. The "
        "difference of whole commands is shown too, but this VM's speed drifts by ±10% from one run to the "
        "next, well over the 3% being measured, so its median moves by several points between sessions."
    )
    lines = [
        "## Report: logging, plots, report.html (issue 7)",
        "",
        head,
        "",
        "| measure | seconds | share |",
    ]
    lines += [
        "|---|---:|---:|",
        f"| `kindling train`, logger none | {none_s:.2f} | |",
        f"| `kindling train`, TensorBoard + plots | {tb_s:.2f} | |",
        f"| **logging and plotting cost**: start-up {max(0.0, phase['start-up']):.2f} + training {during:.2f} + end "
        f"{max(0.0, phase['end']):.2f} | {cost:.2f} | **{share:.1f}%** of the logger-none command (goal <= 3%: "
        f"{'met' if share <= 3 else 'NOT met'}) |",
        f"| whole-command paired wall-time difference (median) | | {paired:+.1f}% (pairs: "
        f"{', '.join(f'{x:+.1f}%' for x in pairs)}) |",
        f"| paired CPU-time difference (median; sidecar included) | | {statistics.median(cpu_pairs):+.1f}% |",
        *phase_rows,
        *_callback_rows(timed, none_s),
    ]
    median_cli = statistics.median(cli)
    lines += [
        f"| `kindling report RUN` command, finished run (median of {len(cli)}) | {median_cli:.2f} | "
        f"goal < 5 s: {'met' if median_cli < 5 else 'NOT met'}; imports "
        f"{', '.join(heavy) or 'no torch, torchvision or matplotlib'} |",
        f"| `kindling report RUN --refresh` command (evaluate and redraw, once) | {refresh:.2f} | |",
        "",
    ]
    text = "\n".join(lines)
    print(text)
    return text


def _callback_rows(timed: list[tuple[float, dict, dict]], command_s: float) -> list[str]:
    """The median in-process run (by the callbacks' share of it) and its costliest events."""
    timed = sorted(timed, key=lambda t: sum(t[1].values()) / t[0])
    wall, totals, cpu = timed[len(timed) // 2]
    cpu = dict(cpu)
    sidecar = cpu.pop("sidecar CPU while training", 0.0)
    inside, share = sum(totals.values()), 100 * sum(totals.values()) / wall
    shares = ", ".join(f"{100 * sum(t[1].values()) / t[0]:.1f}%" for t in timed)
    rows = [
        f"| inside the report callbacks, in-process run of {wall:.2f} s | {inside:.3f} (CPU {sum(cpu.values()):.3f}) | "
        f"{share:.1f}% (runs: {shares}; "
        f"{100 * inside / command_s:.1f}% of the logger-none command) |"
    ]
    for key, value in sorted(totals.items(), key=lambda kv: -kv[1])[:6]:
        rows.append(f"| &nbsp;&nbsp;{key} | {value:.3f} (CPU {cpu[key]:.3f}) | {100 * value / wall:.1f}% |")
    rows.append(
        f"| the sidecar's CPU while torch trained (same run) | {sidecar:.3f} | {100 * sidecar / wall:.1f}% |"
    )
    return rows


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="3 epochs, 1 repeat (default: the full recipe)")
    parser.add_argument("--repeats", type=int, default=7, help="pairs of runs (default: 7)")
    args = parser.parse_args()
    main(args.quick, args.repeats)
