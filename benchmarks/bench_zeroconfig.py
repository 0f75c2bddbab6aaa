"""Zero-config benchmark: bare `kindling train --data SPEC` against the tuned recipe, on the same test split.

For digits, wine, diabetes (regression: test MAE) and SMS spam, each recipe (recipes/digits.yaml,
recipes/wine-mlp.yaml, recipes/diabetes-mlp.yaml, recipes/sms-spam.yaml) against the bare command: only
`--data` (and `--target` where a table needs one; the built-in ones know theirs), `--run-dir` and `--seed`,
so kindling.config.defaults chooses model, loss, monitor, batch size, epochs and early stopping. Both use the
default seeded 25% test split (split_seed 0), so they are scored on the same rows. Each trains with three
seeds (`--seed`, which changes weights and shuffling, not the split); the test metric comes from
`kindling evaluate RUN --json`, wall seconds are of `kindling train` as a process (torch's import
included). Figures are medians over the seeds. The goal: bare within 1 accuracy point, or 5% MAE, of
the recipe.

SMS spam needs the real SMS Spam Collection (../shared/data/sms_spam/; the row is skipped with a note
when it is absent); it is copied into a temporary working folder as ./SMSSpamCollection, where the
recipe looks for it.

    python benchmarks/bench_zeroconfig.py            # full: 3 seeds
    python benchmarks/bench_zeroconfig.py --quick    # one seed, to check that it runs
"""

from __future__ import annotations

import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RECIPES = ROOT / "recipes"
SMS = ROOT.parent / "shared" / "data" / "sms_spam" / "smsspamcollection" / "SMSSpamCollection"
KINDLING = [sys.executable, "-m", "kindling"]

# name, recipe, bare arguments, metric (accuracy: higher is better; mae: lower)
CASES = [
    ("digits", "digits.yaml", ["--data", "digits"], "accuracy"),
    ("wine", "wine-mlp.yaml", ["--data", "wine"], "accuracy"),
    ("diabetes", "diabetes-mlp.yaml", ["--data", "diabetes"], "mae"),
    ("SMS spam", "sms-spam.yaml", ["--data", "text:SMSSpamCollection"], "accuracy"),
]


def _run(args: list[str], cwd: Path) -> str:
    done = subprocess.run(KINDLING + args, cwd=cwd, capture_output=True, text=True)
    if done.returncode:
        raise RuntimeError(f"kindling {' '.join(args)} failed:\n{done.stderr[-2000:]}")
    return done.stdout


def _chosen_line(stdout: str) -> str:
    return next((ln for ln in stdout.splitlines() if ln.startswith("kindling chose")), "")


def train_and_score(args: list[str], run_dir: Path, seed: int, metric: str, cwd: Path) -> dict:
    t0 = time.perf_counter()
    out = _run(["train", *args, "--run-dir", str(run_dir), "--seed", str(seed), "--threads", "1"], cwd)
    seconds = time.perf_counter() - t0
    scores = json.loads(_run(["evaluate", str(run_dir), "--json"], cwd))
    return {"score": scores[metric], "seconds": seconds, "chose": _chosen_line(out)}


def bench_case(name: str, recipe: str, bare: list[str], metric: str, seeds: list[int], work: Path) -> dict:
    both = {"recipe": [str(RECIPES / recipe)], "bare": bare}
    out: dict = {"name": name, "metric": metric}
    for kind, args in both.items():
        runs = [train_and_score(args, work / f"{name}-{kind}-{s}", s, metric, work) for s in seeds]
        out[kind] = statistics.median(r["score"] for r in runs)
        out[f"{kind}_all"] = [r["score"] for r in runs]
        out[f"{kind}_s"] = statistics.median(r["seconds"] for r in runs)
        if kind == "bare":
            out["chose"] = runs[0]["chose"]
    return out


def _verdict(r: dict) -> tuple[str, bool]:
    if r["metric"] == "accuracy":
        gap = 100 * (r["bare"] - r["recipe"])
        return f"{gap:+.1f} points", gap >= -1.0
    rel = 100 * (r["bare"] - r["recipe"]) / r["recipe"]
    return f"{rel:+.1f}% MAE", rel <= 5.0


def _fmt(r: dict, kind: str) -> str:
    each = ", ".join(f"{v:.3f}" if r["metric"] == "accuracy" else f"{v:.1f}" for v in r[f"{kind}_all"])
    median = f"{r[kind]:.3f}" if r["metric"] == "accuracy" else f"{r[kind]:.1f}"
    return f"{median} ({each})"


def _markdown(results: list[dict], skipped: list[str], seeds: list[int], quick: bool) -> str:
    rows = []
    for r in results:
        gap, ok = _verdict(r)
        rows.append(
            [
                r["name"],
                r["metric"],
                _fmt(r, "recipe"),
                _fmt(r, "bare"),
                gap,
                "yes" if ok else "**no**",
                f"{r['recipe_s']:.0f}",
                f"{r['bare_s']:.0f}",
            ]
        )
    from common import table

    head = [
        "data",
        "test metric",
        "recipe",
        "bare --data",
        "gap",
        "within 1 pt / 5% MAE",
        "recipe s",
        "bare s",
    ]
    lines = [
        "## Zero-config: bare `kindling train --data SPEC` vs the tuned recipe"
        + (" (--quick)" if quick else ""),
        "",
        f"Same seeded 25% test split for both; seeds {seeds} (`--seed`), `--threads 1`; medians, each seed's "
        "figure in brackets. Seconds: `kindling train` as a process, torch's import included.",
        "",
        table(head, rows),
        "",
        "What bare `--data` chose:",
        "",
        *(f"- {r['name']}: {r['chose'] or '(no line)'}" for r in results),
    ]
    lines += [f"- {s}" for s in skipped]
    return "\n".join(lines)


def main(quick: bool = False) -> str:
    seeds = [0] if quick else [0, 1, 2]
    results, skipped = [], []
    with tempfile.TemporaryDirectory(prefix="kindling-bench-zeroconfig-") as tmp:
        work = Path(tmp)
        for name, recipe, bare, metric in CASES:
            if name == "SMS spam":
                if not SMS.exists():
                    skipped.append(f"SMS spam skipped: {SMS} is absent")
                    continue
                shutil.copy(SMS, work / "SMSSpamCollection")
            print(f"-- {name}", flush=True)
            results.append(bench_case(name, recipe, bare, metric, seeds, work))
    text = _markdown(results, skipped, seeds, quick)
    print(text)
    return text


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    main(quick="--quick" in sys.argv[1:])
