"""How often early stopping ends a default photo run (issue 24 §5).

A bare `kindling train --data folder:cats_dogs` trains a small CNN for up to 60 epochs on a cosine schedule
with patience 20 (kindling.config.defaults._photos). In the issue's walk the earlier patience, 30, never
fired; measured here over 5 seeds it ended 1 run in 5, and the replay below showed 20 to be the shortest
patience that never changed the model kept, so 20 became the default. For each seed
this trains that default run and reports: the epochs it ran, whether early stopping ended it, its best
epoch and its test accuracy; and, from its validation history, where a shorter patience would have
stopped it and whether the model kept would have been the same (the best epoch comes before the stop).
A patience changes nothing in the schedule (the cosine runs over the epochs asked), so the history of
one run answers every patience; a model that would differ is only flagged, its accuracy unknown.
Beside each default run, the same seed runs with `--epochs 40` (OTHER): what the schedule's length buys.

    python benchmarks/bench_photo_stops.py                 # ../shared/data/cats_dogs, seeds 0-4
    python benchmarks/bench_photo_stops.py --seeds 1 --other-epochs 0   # one default run: a light check
    python benchmarks/bench_photo_stops.py --quick         # generated photos, 1 seed: checks it runs

Each run is a fresh process with --threads 2; a run takes about a minute alone on 2 cores.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from bench_images_default import CATS_DOGS, quick_data  # noqa: E402
from common import table  # noqa: E402

PATIENCES = (5, 10, 15, 20, 30)
OTHER = 40  # the other schedule length measured beside the default's


def default_run(data: Path, seed: int, work: Path, epochs: int | None = None) -> dict:
    """A bare default photo run (or the same with `--epochs epochs`, the patience left as the default
    sets it); -> its history, chosen settings, test accuracy and wall time."""
    run = work / f"photos-{seed}-{epochs or 'default'}"
    argv = [sys.executable, "-m", "kindling", "train", "--data", f"folder:{data}", "--seed", str(seed)]
    argv += ["--epochs", str(epochs)] if epochs else []
    argv += ["--threads", "2", "--run-dir", str(run), "--data-dir", str(work / "cache"), "--baseline", "none"]
    t0 = time.perf_counter()
    done = subprocess.run(argv, capture_output=True, text=True, check=False)
    wall = time.perf_counter() - t0
    if done.returncode:
        raise RuntimeError(f"training failed: {done.stderr[-2000:]}")
    import yaml

    cfg = yaml.safe_load((run / "config.yaml").read_text())
    history = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines() if line]
    evaluated = subprocess.run(
        [sys.executable, "-m", "kindling", "evaluate", str(run), "--json"], capture_output=True, text=True
    )
    return {
        "history": history,
        "epochs": cfg["train"]["epochs"],
        "patience": cfg["train"]["patience"],
        "monitor": cfg["train"]["monitor"],
        "accuracy": json.loads(evaluated.stdout)["accuracy"],
        "wall": wall,
    }


def stop_at(values: list[float], patience: int, lower_is_better: bool) -> tuple[int, int]:
    """(the epoch early stopping with `patience` ends the run at, the best epoch up to it), 1-based;
    the run's own epochs when it never fires. Improvement as the trainer counts it (min_delta 0)."""
    best, best_epoch, idle = None, 0, 0
    for epoch, value in enumerate(values, 1):
        if best is None or (value < best if lower_is_better else value > best):
            best, best_epoch, idle = value, epoch, 0
        else:
            idle += 1
        if idle >= patience:
            return epoch, best_epoch
    return len(values), best_epoch


def _schedule_row(epochs: int, runs: list[dict]) -> list:
    """One schedule length's row: its test accuracy per seed, their median, the median wall time."""
    acc = [r["accuracy"] for r in runs]
    per_seed = " / ".join(f"{a:.3f}" for a in acc)
    return [
        epochs,
        per_seed,
        f"{statistics.median(acc):.3f}",
        f"{statistics.median(r['wall'] for r in runs):.0f}",
    ]


def main(quick: bool = False, data: Path | None = None, seeds: int = 5, other: int | None = OTHER) -> str:
    seeds = 1 if quick else seeds
    runs, others = [], []
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        data = data or (quick_data(work) if quick else CATS_DOGS)
        for seed in range(seeds):  # the default and the other schedule interleaved, seed by seed
            runs.append(default_run(data, seed, work))
            print(
                f"seed {seed}: {len(runs[-1]['history'])} epochs, test {runs[-1]['accuracy']:.3f}", flush=True
            )
            if other and not quick:
                others.append(default_run(data, seed, work, epochs=other))
                print(f"seed {seed}, --epochs {other}: test {others[-1]['accuracy']:.3f}", flush=True)
    first = runs[0]
    key, lower = first["monitor"], first["monitor"] in ("val_loss", "val_mae", "val_rmse")
    rows = []
    for seed, r in enumerate(runs):
        values = [h[key] for h in r["history"]]
        ran, best = len(values), stop_at(values, 10**9, lower)[1]
        row = [
            seed,
            f"{ran}/{r['epochs']}",
            "yes" if ran < r["epochs"] else "no",
            best,
            f"{r['accuracy']:.3f}",
        ]
        for p in PATIENCES:
            stop, kept = stop_at(values, p, lower)
            if p > r["patience"] and stop == ran < r["epochs"]:  # the run's own patience ended it first
                row.append(f"> {ran}")
                continue
            row.append(f"{stop}" + ("" if kept == best else f" (best {kept})"))
        rows.append(row + [f"{r['wall']:.0f}"])
    stopped = sum(1 for r in runs if len(r["history"]) < r["epochs"])
    header = ["seed", "epochs run", "early stop fired", "best epoch", "test acc"]
    header += [f"patience {p}: stops at" for p in PATIENCES] + ["wall s"]
    section = (
        f"## How often early stopping ends a default photo run (issue 24)\n\n"
        f"`kindling train --data folder:{data.name}` with nothing else ({seeds} seed(s), --threads 2, "
        f"--baseline none): up to {first['epochs']} epochs, cosine schedule, patience {first['patience']} on "
        f"{key}. Early stopping ended {stopped} of {seeds} run(s). The patience columns replay each run's "
        f"{key} history: the epoch a shorter patience would have stopped at, and the best epoch it would "
        "have kept when that is not the run's own (a different model, accuracy not measured); '> N': a "
        "patience longer than the run's own, which ended the run at N first. Median wall "
        f"time per run {statistics.median(r['wall'] for r in runs):.0f} s (a fresh process, on the machine "
        "as it was).\n\n" + table(header, rows) + "\n"
    )
    if others:
        section += (
            f"\nThe same seeds with `--epochs {other}` (the cosine schedule over {other} epochs, the rest as the "
            "default sets it), to show what the schedule's length buys:\n\n"
            + table(
                ["epochs", "test acc per seed", "median test acc", "median wall s"],
                [_schedule_row(first["epochs"], runs), _schedule_row(other, others)],
            )
            + "\n"
        )
    print(section)
    return section


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--data", type=Path)
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--other-epochs", type=int, default=OTHER, help="0: the default alone")
    args = parser.parse_args()
    main(quick=args.quick, data=args.data, seeds=args.seeds, other=args.other_epochs)
