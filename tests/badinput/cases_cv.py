"""Bad cross-validation and test-time augmentation input (issue 25 parts 3 and 4): a fold count under 2,
more folds than the smallest class has samples (or than a regression table has rows), --resume on what is
not a cross-validation or whose state is damaged, and --tta on a model that has no views (a table, or
images trained without flips or shifts). One line each, exit 2, nothing left behind."""

from __future__ import annotations

from pathlib import Path

from badinput import runs
from badinput.harness import Case
from badinput.trainargs import QUIET, train, write

# 40 rows of three classes, one of them 3 rows: 3 folds hold it, 5 do not
RARE = "a,b,y\n" + "".join(f"{i},{i * 0.5},{'rare' if i < 3 else 'pq'[i % 2]}\n" for i in range(40))
NUMBERS = "a,y\n" + "".join(f"{i % 4 * 0.5},{i * 0.37:.2f}\n" for i in range(30))


def cv(folder: Path, *args) -> list[str]:
    """`kindling cv --run-dir FOLDER/run ...`: the run directory must not be left behind."""
    return ["cv", "--run-dir", str(folder / "run"), *QUIET, *map(str, args)]


def _table_run(folder: Path) -> Path:
    """A tiny table run (a dry run of wine), trained here for the --tta cases."""
    from kindling_testing import train_run

    return train_run(folder / "table", "--data", "wine", *QUIET, "--baseline", "none")


def _not_cv(folder: Path) -> Path:
    write(folder / "plain" / "config.yaml", "name: plain\n")
    return folder / "plain"


def _a_cv(folder: Path, state: str = '{"folds": 3, "ensemble": false, "done": {}}') -> Path:
    write(folder / "cv" / "config.yaml", "name: cv\n")
    write(folder / "cv" / "cv.json", state + "\n")
    return folder / "cv"


CASES = [
    Case("cv-one-fold", lambda f: cv(f, "--data", "wine", "--folds", "1"), "at least 2 folds"),
    Case("cv-zero-folds", lambda f: cv(f, "--data", "wine", "--folds", "0"), "at least 2 folds"),
    Case("cv-negative-folds", lambda f: cv(f, "--data", "wine", "--folds", "-3"), "at least 2 folds"),
    Case("cv-no-fold-count", lambda f: cv(f, "--data", "wine"), "--folds"),
    Case(
        "cv-more-folds-than-the-smallest-class",
        lambda f: cv(f, "--data", f"csv:{write(f / 't.csv', RARE)}", "--target", "y", "--folds", "5"),
        "smallest class",
    ),
    Case("cv-more-folds-than-a-class-of-wine", lambda f: cv(f, "--data", "wine", "--folds", "60"), "class"),
    Case(
        "cv-more-folds-than-rows",
        lambda f: cv(
            f,
            "--data",
            f"csv:{write(f / 't.csv', NUMBERS)}",
            "--target",
            "y",
            "--task",
            "regression",
            "--folds",
            "40",
        ),
        "samples",
    ),
    Case(
        "train-a-fold-past-the-count",
        lambda f: train(f, "--data", "wine", "--set", "data.folds=3", "--set", "data.fold=3"),
        "not one of the 3 folds",
    ),
    Case("train-one-fold", lambda f: train(f, "--data", "wine", "--set", "data.folds=1"), "data.folds = 1"),
    Case("cv-resume-not-a-cv", lambda f: ["cv", "--resume", _not_cv(f)], "not a cross-validation"),
    Case("cv-resume-missing", lambda f: ["cv", "--resume", f / "nope"], "nope"),
    Case("cv-resume-a-damaged-state", lambda f: ["cv", "--resume", _a_cv(f, '{"folds": 1}')], "damaged"),
    Case("train-resume-a-damaged-cv", lambda f: ["train", "--resume", _a_cv(f, "[1, 2")], "cv.json"),
    Case("cv-resume-other-fold-count", lambda f: ["cv", "--resume", _a_cv(f), "--folds", "4"], "3 folds"),
    Case("tta-evaluate-a-table", lambda f: ["evaluate", _table_run(f), "--tta"], "--tta"),
    Case("tta-predict-a-table", lambda f: ["predict", _table_run(f), "--tta", "--json"], "--tta"),
    Case(
        "tta-images-trained-without-flips-or-shifts",
        lambda f: ["evaluate", runs.copy_run(f), "--tta"],
        "data.augment=none",
    ),
]
