"""Sweeps (issue 27): what 20 pruned trials cost against one run of the recipe, and what they find.

digits: `kindling train recipes/digits.yaml` once, then `kindling sweep recipes/digits.yaml` over the
learning rate, the weight decay, the width and the augmentation, 20 trials with the pruner named. Both
timings are the whole command, process start to exit, measured once each. Targets: the sweep takes at
most 6x the run, and its best trial is at least as good as the recipe (the recipe's monitored val_loss;
the test accuracy of each is shown beside it).

diabetes: the recipe has no validation split, which a sweep needs to score its trials, so both sides get
the same `--set data.val_fraction=0.15 --set train.monitor=val_mae`. Target: the best trial's test MAE is
at most the recipe's.

    python benchmarks/bench_sweep.py                  # digits and diabetes, median pruner
    python benchmarks/bench_sweep.py --pruner hyperband
    python benchmarks/bench_sweep.py --quick          # 3 trials of 2 epochs: a check that it runs
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, os.path.dirname(__file__))

import yaml  # noqa: E402
from common import machine, table  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
KINDLING = [sys.executable, "-m", "kindling"]
CASES = {
    "digits": {
        "recipe": "recipes/digits.yaml",
        "sets": [],
        "params": [
            "optim.lr=loguniform:3e-4:1e-2",
            "optim.weight_decay=loguniform:1e-6:1e-2",
            "model.options.width=int:16:96",
            "data.augment=choice:none,shift",
        ],
        "metric": "accuracy",
    },
    "diabetes": {
        "recipe": "recipes/diabetes-mlp.yaml",
        "sets": ["data.val_fraction=0.15", "train.monitor=val_mae"],
        "params": [
            "optim.lr=loguniform:3e-4:3e-2",
            "optim.weight_decay=loguniform:1e-3:3",
            "data.batch_size=choice:16,32,64",
        ],
        "metric": "mae",
    },
}


def timed(argv: list[str], cwd: Path) -> float:
    t0 = time.perf_counter()
    subprocess.run(argv, cwd=cwd, check=True, capture_output=True)
    return time.perf_counter() - t0


def test_metric(run: Path, cwd: Path, metric: str) -> float:
    out = subprocess.run(
        [*KINDLING, "evaluate", str(run), "--json"], cwd=cwd, check=True, capture_output=True, text=True
    )
    return json.loads(out.stdout)[metric]


def best_val(run: Path, key: str, mode: str) -> float:
    records = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines() if line]
    values = [r[key] for r in records if key in r]
    return max(values) if mode == "max" else min(values)


def study_counts(sweep_dir: Path) -> tuple[dict, float, str]:
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.load_study(study_name=sweep_dir.name, storage=f"sqlite:///{sweep_dir / 'sweep.db'}")
    states: dict[str, int] = {}
    for t in study.get_trials(deepcopy=False):
        states[t.state.name.lower()] = states.get(t.state.name.lower(), 0) + 1
    epochs = sum(len(t.intermediate_values) for t in study.get_trials(deepcopy=False))
    return states, epochs, study.direction.name


def one_case(name: str, spec: dict, trials: int, pruner: str, quick: bool, tmp: Path) -> list:
    sets = [*spec["sets"], *(["train.epochs=2"] if quick else [])]
    set_args = [w for s in sets for w in ("--set", s)]
    recipe = str(ROOT / spec["recipe"])
    run = tmp / f"{name}-recipe"
    t_run = timed([*KINDLING, "train", recipe, "--run-dir", str(run), *set_args], tmp)
    sweep_args = [w for p in spec["params"] for w in ("--param", p)]
    argv = [
        *KINDLING,
        "sweep",
        recipe,
        *sweep_args,
        *set_args,
        "--trials",
        str(trials),
        "--pruner",
        pruner,
        "--name",
        f"{name}-sweep",
    ]
    t_sweep = timed(argv, tmp)
    sweep_dir = tmp / "runs" / f"{name}-sweep"
    states, epochs, direction = study_counts(sweep_dir)
    saved = yaml.safe_load((run / "config.yaml").read_text())
    key = saved["train"]["monitor"]
    mode = "max" if direction == "MAXIMIZE" else "min"
    recipe_val = best_val(run, key, mode)
    sweep_val = best_val((sweep_dir / "best").resolve().parent, key, mode)
    recipe_test, sweep_test = (
        test_metric(run, tmp, spec["metric"]),
        test_metric(sweep_dir, tmp, spec["metric"]),
    )
    ratio = t_sweep / t_run
    better_val = sweep_val >= recipe_val if mode == "max" else sweep_val <= recipe_val
    better_test = sweep_test >= recipe_test if spec["metric"] == "accuracy" else sweep_test <= recipe_test
    return [
        name,
        f"{t_run:.1f}",
        f"{t_sweep:.1f} ({ratio:.2f}x)",
        ", ".join(f"{v} {k}" for k, v in sorted(states.items())),
        f"{epochs} / {trials * saved['train']['epochs']}",
        f"{recipe_val:.4f} / {sweep_val:.4f} ({'ok' if better_val else 'WORSE'})",
        f"{recipe_test:.4f} / {sweep_test:.4f} ({'ok' if better_test else 'worse'})",
    ]


def cli(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=20)
    parser.add_argument("--pruner", default="median")
    parser.add_argument("--quick", action="store_true", help="3 trials of 2 epochs: check that it runs")
    parser.add_argument("--only", default="", help="digits or diabetes")
    args = parser.parse_args(argv)
    trials = 3 if args.quick else args.trials
    rows = []
    with tempfile.TemporaryDirectory(prefix="bench-sweep-") as tmp:
        for name, spec in CASES.items():
            if not args.only or name == args.only:
                rows.append(one_case(name, spec, trials, args.pruner, args.quick, Path(tmp)))
    print(f"{trials} trials, --pruner {args.pruner}; each command timed once, whole process; {machine()}")
    header = ["data", "recipe run (s)", "sweep (s)", "trials", "epochs trained / without pruning"]
    header += ["best val monitored: recipe / sweep", "test accuracy or MAE: recipe / sweep"]
    print(table(header, rows))
    return 0


def main(quick: bool = False) -> str:
    """run_all's entry: the table as markdown (`--quick`: 3 short trials, to check the script runs)."""
    import contextlib
    import io

    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        cli(["--quick"] if quick else [])
    return "## Sweeps: 20 pruned trials against one run of the recipe (issue 27)\n\n" + out.getvalue()


if __name__ == "__main__":
    sys.exit(cli())
