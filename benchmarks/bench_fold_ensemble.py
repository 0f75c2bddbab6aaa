"""One network or the fold ensemble: which comes closer to linear models and gradient boosting? (issue 26 §4)

For each small real table of the tables suite, and each from 1,000 rows (benchmarks/bench_tables_suite.py:
the same files, targets and rivals), on the same seeded split (25% test, kindling's own): the bare
default, one network (kindling.runner.train on the bare config, without the fold ensemble `kindling.fit`
now chooses for 100 to 19,999 training rows), beside the fold ensemble of the same defaults
(`kindling.cv(..., folds=5, ensemble=True)`: train and val pooled, 5 networks each validated on its
held-out fifth, their probabilities or values averaged) and beside linear / logistic regression and
histogram gradient boosting fitted on the run's train + validation rows. Test accuracy (higher is better)
or MAE (lower), medians over the seeds; seconds: the whole fit or cv, in-process.

    python benchmarks/bench_fold_ensemble.py            # 13 tables of 21 to 20,190 rows, seeds 0, 1, 2
    python benchmarks/bench_fold_ensemble.py --quick    # 3 tables, seed 0
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_tables_suite import TABLES, _headline, _quiet, _rivals, _run_split, kindling_load  # noqa: E402

SMALL = ("stackloss", "spector", "iris", "wine", "star98", "diabetes", "breast_cancer", "anes96")
LARGER = ("titanic", "seattle_weather", "fair", "adult", "randhie")  # from 1,000 rows
QUICK = ("spector", "wine", "diabetes")
FOLDS = 5


def _one_network(path: Path, target: str, seed: int, run_dir: Path) -> dict:
    """The bare default as one network: the runner without the fold ensemble that `kindling.fit` trains
    instead for 100 to 19,999 training rows (kindling.config.defaults.ENSEMBLE_ROWS); every other choice is the
    default's."""
    import kindling
    from kindling.config.load import load_config
    from kindling.runner import train

    flags = {"data.name": f"csv:{path}", "data.target": target, "train.seed": seed}
    cfg = load_config(None, {**flags, "train.baseline": "none", "run_dir": str(run_dir)})
    with _quiet():
        t0 = time.perf_counter()
        train(cfg, overwrite=True, echo=lambda *a, **k: None)  # instead=None: one network
        took = time.perf_counter() - t0
        run = kindling.Run(run_dir)
        result = run.evaluate("test")
    return {"score": _headline(result), "seconds": took, "run": run}


def _ensemble(path: Path, target: str, seed: int, run_dir: Path) -> dict:
    import kindling

    with _quiet():
        t0 = time.perf_counter()
        result = kindling.cv(data=f"csv:{path}", target=target, seed=seed, folds=FOLDS, ensemble=True,
                             baseline="none", logger="none", run_dir=str(run_dir), overwrite=True)  # fmt: skip
        took = time.perf_counter() - t0
        evaluation = result.evaluate("test")
    return {"score": _headline(evaluation), "seconds": took}


def bench_table(name: str, folder: Path, seeds: list[int]) -> list:
    write, target, origin, _ = TABLES[name]
    path = write(folder)
    rows = len(pd.read_csv(path)) if path.suffix == ".csv" else 0
    single, ensemble, rivals = [], [], []
    for seed in seeds:
        found = _one_network(path, target, seed, folder / f"run-{seed}")
        task = kindling_load(found["run"].dir).sig.task
        single.append(found)
        ensemble.append(_ensemble(path, target, seed, folder / f"cv-{seed}"))
        rivals.append(_rivals(task, seed, *_run_split(found["run"], path, target)))
    higher = task == "classification"
    med = lambda runs, key: statistics.median(r[key] for r in runs)  # noqa: E731
    net, ens = med(single, "score"), med(ensemble, "score")
    best = (max if higher else min)(med(rivals, "linear"), med(rivals, "boosting"))
    fmt = "{:.4f}" if higher else "{:.3f}"

    def reaches(score: float) -> str:
        ok = score >= best if higher else score <= best
        return "yes" if ok else f"no ({fmt.format(abs(score - best))} behind)"

    return [
        name,
        f"{rows:,}",
        "accuracy" if higher else "MAE",
        fmt.format(net),
        fmt.format(ens),
        fmt.format(med(rivals, "linear")),
        fmt.format(med(rivals, "boosting")),
        reaches(net),
        reaches(ens),
        f"{med(single, 'seconds'):.1f} / {med(ensemble, 'seconds'):.1f}",
    ]


def main(quick: bool = False) -> str:
    import torch
    from common import table

    threads = torch.get_num_threads()
    seeds = [0] if quick else [0, 1, 2]
    rows = []
    try:
        for name in QUICK if quick else SMALL + LARGER:
            with tempfile.TemporaryDirectory() as tmp:
                rows.append(bench_table(name, Path(tmp), seeds))
                print(rows[-1], flush=True)
    finally:
        torch.set_num_threads(threads)
    header = ["table", "rows", "metric", "one network", f"{FOLDS}-fold ensemble", "linear / logistic",
              "gradient boosting", "network reaches the better", "ensemble reaches the better",
              "seconds (network / ensemble)"]  # fmt: skip
    section = (
        "## One network or the fold ensemble (issue 26 §4)\n\n"
        f"The bare table default as one network (the runner on the bare config, without the fold ensemble that "
        "`kindling train --data csv:FILE --target COLUMN` now chooses for 100 to 19,999 training rows) and as "
        f"the {FOLDS}-fold ensemble of the same defaults (`kindling cv ... --folds {FOLDS} --ensemble`), "
        f"seeds {seeds}, beside logistic regression or ridge and histogram gradient boosting fitted on the "
        "run's train + validation rows (as in the tables suite); test accuracy or MAE on the same split, "
        "medians over the seeds.\n\n" + table(header, rows) + "\n"
    )
    print(section)
    return section


if __name__ == "__main__":
    main(quick="--quick" in sys.argv)
