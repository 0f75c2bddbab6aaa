"""Imbalanced classes (issue 25): the plain loss against `--class-weights auto` and `--sampler balanced`,
by test balanced accuracy and macro-F1, on three real data sets:

- sms_spam: the SMS Spam Collection (../shared/data/sms_spam), 13% spam, split by kindling's text source
  (split_seed 0: 25% test, 10% of the rest for validation); two classes, so also the plain loss with
  `--threshold auto` (the threshold that maximises balanced accuracy on val);
- tnews: CLUE's TNEWS titles (../shared/data/tnews), 15 classes, news_stock 0.5% of train; train.jsonl
  (10% of it for validation) and dev.jsonl as the test split, as CLUE scores it;
- digits, imbalanced: scikit-learn's digits (8x8 images) split once (seed 0, stratified: 60% train, 15%
  val, 25% test), then the nines of train and val kept at 5% (seeded by the run's seed): a rare class in
  training, a test split with every class at its natural share, so balanced accuracy there measures how
  well each class is told apart (as long-tailed benchmarks such as CIFAR-LT keep their test sets balanced).

Each variant is kindling's default model and training settings for the data (`kindling.config.defaults`), on 2
threads, 3 seeds (weights, shuffling, sampling and the digits' subsampling; the text splits stay fixed);
medians, with each seed's balanced accuracy in the last column. A data set that is absent is skipped with
a note (the benchmark never downloads data).

    python benchmarks/bench_imbalance.py            # full: 3 seeds, the epochs kindling chooses
    python benchmarks/bench_imbalance.py --quick    # 1 seed, 2 epochs: checks that it runs
"""

from __future__ import annotations

import contextlib
import io
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "data"
SMS = SHARED / "sms_spam" / "smsspamcollection" / "SMSSpamCollection"
TNEWS = SHARED / "tnews"
sys.path.insert(0, str(Path(__file__).resolve().parent))
THREADS = 2
VARIANTS = {
    "none": {},
    "weights": {"train.class_weights": "auto"},
    "sampler": {"train.sampler": "balanced"},
}
TWO_CLASS_EXTRA = {"none + threshold auto": {"train.threshold": "auto"}}
RARE_KEPT = 0.05  # the share of the nines kept in the imbalanced digits' train and val


@contextlib.contextmanager
def _quiet():
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        yield


def _sources() -> dict[str, dict | None]:
    """corpus -> the data keys that read it (None: absent)."""
    sms = {"data.name": f"text:{SMS}"} if SMS.is_file() else None
    tnews = None
    if (TNEWS / "train.jsonl").is_file() and (TNEWS / "dev.jsonl").is_file():
        tnews = {
            "data.name": f"text:{TNEWS / 'train.jsonl'}",
            "data.test": str(TNEWS / "dev.jsonl"),
            "data.text_col": "sentence",
            "data.label_col": "label_desc",
        }
    return {"sms_spam": sms, "tnews": tnews, "digits (nines at 5%)": {}}


def _digits(seed: int):
    """The imbalanced digits as arrays: train / val with the nines kept at RARE_KEPT, test untouched."""
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    x, y = load_digits(return_X_y=True)
    x = (x.reshape(-1, 1, 8, 8) / 16.0).astype(np.float32)
    rest_x, test_x, rest_y, test_y = train_test_split(x, y, test_size=0.25, stratify=y, random_state=0)
    train_x, val_x, train_y, val_y = train_test_split(
        rest_x, rest_y, test_size=0.2, stratify=rest_y, random_state=0
    )
    rng = np.random.default_rng(seed)

    def thin(xs, ys):
        keep = (ys != 9) | (rng.random(len(ys)) < RARE_KEPT)
        return xs[keep], ys[keep].astype(np.int64)

    return thin(train_x, train_y), thin(val_x, val_y), (test_x, test_y.astype(np.int64))


def _train_and_score(keys: dict, seed: int, run_dir: Path, epochs: int | None, arrays=None) -> dict:
    """Train one variant with `seed`; -> test accuracy, balanced accuracy, macro-F1, wall seconds and
    the minority class's share of train."""
    from kindling.evaluate.evaluation import evaluate

    settings = {
        **keys,
        "run_dir": str(run_dir),
        "train.seed": seed,
        "train.threads": THREADS,
        "train.baseline": "none",
        "train.logger": "none",
        **({"train.epochs": epochs} if epochs else {}),
    }
    with _quiet():
        t0 = time.perf_counter()
        if arrays is not None:
            import kindling

            train, val, test = arrays
            flat = {k.split(".", 1)[1]: v for k, v in settings.items() if k != "run_dir"}
            kindling.fit(data=train, val=val, test=test, run_dir=settings["run_dir"], overwrite=True, **flat)
        else:
            from kindling.config.load import load_config
            from kindling.runner import train

            train(load_config(None, settings), overwrite=True)
        took = time.perf_counter() - t0
        result = evaluate(run_dir)  # arrays: handed over in this process, found again by their spec
    support = [r["support"] for r in result["report"].values()]
    return {
        "acc": result["accuracy"],
        "balanced": result["balanced_accuracy"],
        "macro_f1": result["macro_f1"],
        "seconds": took,
        "classes": len(support),
    }


def _rows(corpus: str, keys: dict, seeds: list[int], epochs: int | None, tmp: Path) -> list[list]:
    """One row per variant (two-class data: also the threshold), each the medians over the seeds."""
    digits = not keys  # the imbalanced digits: arrays made per seed, handed to kindling.fit

    def runs_of(extra: dict) -> list[dict]:
        return [
            _train_and_score({**keys, **extra}, s, tmp / f"run-{s}", epochs, _digits(s) if digits else None)
            for s in seeds
        ]

    rows, classes = [], None
    for name, extra in VARIANTS.items():
        runs = runs_of(extra)
        classes = classes or runs[0]["classes"]
        rows.append(_row(corpus, name, runs))
    if classes == 2:
        rows += [_row(corpus, name, runs_of(extra)) for name, extra in TWO_CLASS_EXTRA.items()]
    if digits:
        rows[0][0] = f"{corpus}: {np.mean(_digits(seeds[0])[0][1] == 9):.1%} nines in train"
    return rows


def _row(corpus: str, variant: str, runs: list[dict]) -> list:
    med = {k: statistics.median(r[k] for r in runs) for k in ("balanced", "macro_f1", "acc", "seconds")}
    return [
        corpus,
        variant,
        f"{med['balanced']:.4f}",
        f"{med['macro_f1']:.4f}",
        f"{med['acc']:.4f}",
        f"{med['seconds']:.1f}",
        " / ".join(f"{r['balanced']:.4f}" for r in runs),
    ]


def main(quick: bool = False) -> str:
    import torch
    from common import table

    threads = torch.get_num_threads()
    seeds = [0] if quick else [0, 1, 2]
    epochs = 2 if quick else None
    rows, notes = [], []
    try:
        with tempfile.TemporaryDirectory() as tmp_name:
            for corpus, keys in _sources().items():
                if keys is None:
                    notes.append(
                        f"{corpus}: skipped, the data is absent (the benchmark never downloads data)."
                    )
                    continue
                rows += _rows(corpus, keys, seeds, epochs, Path(tmp_name) / corpus.split()[0])
    finally:
        torch.set_num_threads(threads)
    mode = "QUICK MODE (1 seed, 2 epochs): a check that the script runs, not results. " if quick else ""
    section = (
        "## Imbalanced classes: the plain loss, class weights, a balanced sampler (issue 25)\n\n"
        f"{mode}kindling's default model and settings for each data set, on {THREADS} threads, seeds "
        f"{seeds} (medians; each seed's balanced accuracy in the last column); `weights` is "
        "`--class-weights auto` (inverse square-root frequency), `sampler` is `--sampler balanced`; two-class "
        "data also gets the plain loss with `--threshold auto`. Test balanced accuracy (mean recall over the "
        "classes) and macro-F1 by `kindling evaluate`; seconds: wall-clock of training. sms_spam 13% spam; "
        "tnews 15 classes, news_stock 0.5% of train, scored on CLUE's dev set; digits with the nines of "
        "train and val kept at 5%, scored on an untouched test split.\n\n"
        + table(
            [
                "data",
                "variant",
                "balanced accuracy",
                "macro-F1",
                "accuracy",
                "wall s",
                "balanced accuracy per seed",
            ],
            rows,
        )
        + ("\n\n" + "\n".join(notes) if notes else "")
        + "\n"
    )
    print(section)
    return section


if __name__ == "__main__":
    main(quick="--quick" in sys.argv)
