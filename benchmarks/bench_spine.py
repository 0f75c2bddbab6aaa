"""Issue 2's numbers: the digits demo's accuracy and wall time (start-up included), `kindling --help` time,
and scikit-learn's SVC(gamma=0.001) on the same split."""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(__file__))
from common import machine, table  # noqa: E402

KINDLING = [sys.executable, "-m", "kindling"]


def _wall(cmd: list[str]) -> float:
    t0 = time.perf_counter()
    subprocess.run(cmd, check=True, capture_output=True)
    return time.perf_counter() - t0


def verbs() -> list[str]:
    """The verbs `kindling --help` lists (its COMMAND block: four spaces, then the name)."""
    out = subprocess.run([*KINDLING, "--help"], check=True, capture_output=True, text=True).stdout
    block = out.split("COMMAND", 2)[-1].split("options:")[0]
    return [line.split()[0] for line in block.splitlines() if line.startswith("    ") and line[4] != " "]


def verb_helps(repeats: int = 3) -> dict[str, float]:
    """Median wall seconds of `kindling VERB --help` (interpreter start included) for every verb."""
    return {v: statistics.median(_wall([*KINDLING, v, "--help"]) for _ in range(repeats)) for v in verbs()}


def svc_on_kindling_split() -> float:
    import numpy as np
    from sklearn.svm import SVC

    from kindling.config.schema import DataConfig
    from kindling.data import build

    dm = build(DataConfig(name="digits"))
    train_x = np.concatenate([dm.train.x.numpy(), dm.val.x.numpy()]).reshape(-1, 64) / 255 * 16
    train_y = np.concatenate([dm.train.y.numpy(), dm.val.y.numpy()])
    clf = SVC(gamma=0.001).fit(train_x, train_y)
    return float((clf.predict(dm.test.x.numpy().reshape(-1, 64) / 255 * 16) == dm.test.y.numpy()).mean())


def main(quick: bool = False) -> str:
    runs = 2 if quick else 3
    helps = [_wall([*KINDLING, "--help"]) for _ in range(5)]
    per_verb = verb_helps()
    slowest = max(per_verb, key=per_verb.get)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for i in range(runs):
            run = f"{tmp}/digits{i}"
            seconds = _wall(
                [*KINDLING, "train", "recipes/digits.yaml", "--run-dir", run, "--set", "train.logger=none"]
            )
            t0 = time.perf_counter()
            out = subprocess.run(
                [*KINDLING, "evaluate", run, "--json"], check=True, capture_output=True, text=True
            )
            rows.append((seconds, json.loads(out.stdout)["accuracy"], time.perf_counter() - t0))
    svc = svc_on_kindling_split()
    walls, accs, evals = [r[0] for r in rows], [r[1] for r in rows], [r[2] for r in rows]
    text = (
        "## The spine: digits demo and start-up (issue 2)\n\n"
        f"Machine: {machine()}.\n\n"
        + table(
            ["measure", "median", "runs", "goal"],
            [
                [
                    "`kindling train recipes/digits.yaml` wall time, start-up included",
                    f"{statistics.median(walls):.1f} s",
                    runs,
                    "<= 20 s",
                ],
                [
                    "`kindling evaluate RUN --json` wall time, start-up included (no scikit-learn import)",
                    f"{statistics.median(evals):.1f} s",
                    runs,
                    "-",
                ],
                [
                    "digits test accuracy (450 images, seeded stratified 25% split)",
                    f"{statistics.median(accs):.4f}",
                    runs,
                    ">= 0.99",
                ],
                [
                    "scikit-learn SVC(gamma=0.001) on the same split (train+val -> test)",
                    f"{svc:.4f}",
                    1,
                    "reference",
                ],
                ["`kindling --help`", f"{statistics.median(helps) * 1000:.0f} ms", len(helps), "<= 500 ms"],
                [
                    f"`kindling VERB --help`, the slowest of {len(per_verb)} verbs (`{slowest}`)",
                    f"{per_verb[slowest] * 1000:.0f} ms",
                    3,
                    "<= 500 ms",
                ],
            ],
        )
        + "\n\nEach verb's `--help` (median of 3, ms): "
        + ", ".join(f"{v} {t * 1000:.0f}" for v, t in per_verb.items())
        + "."
        + f"\n\nPer run: walls {', '.join(f'{w:.1f}' for w in walls)} s; accuracies {', '.join(f'{a:.4f}' for a in accs)}."
    )
    print(text)
    return text


if __name__ == "__main__":
    main(quick="--quick" in sys.argv)
