"""Bad imbalance settings (issue 25): a class-weights FILE naming an unknown class, holding a negative or
non-numeric weight, all zeros, or not a mapping; a file that is not there; a threshold outside [0, 1] or
for more than two classes, `auto` without a validation split; weights or a sampler for a regression.
Each is refused in one line before any file of the run is written."""

from __future__ import annotations

from pathlib import Path

from badinput.harness import Case
from badinput.trainargs import train, write

# a table of two classes, ham and spam, one in ten spam
TABLE = "a,b,y\n" + "".join(f"{i},{i % 7},{'spam' if i % 10 == 0 else 'ham'}\n" for i in range(80))
NUMBERS = "a,b,y\n" + "".join(f"{i},{i % 7},{i * 0.5}\n" for i in range(80))

# (name, weights file name, its content or None, extra args, fragment of the line)
CASES_TABLE = [
    ("weights-unknown-class", "w.json", '{"spma": 4}', [], "class 'spma' is not one of the data's classes"),
    ("weights-negative", "w.json", '{"spam": -2, "ham": 1}', [], "the weight of class 'spam' is -2"),
    ("weights-word", "w.yaml", "spam: lots\n", [], "a weight must be a finite number >= 0"),
    ("weights-infinite", "w.yaml", "spam: .inf\n", [], "the weight of class 'spam' is inf"),
    ("weights-all-zero", "w.csv", "spam,0\nham,0\n", [], "every class weighs 0"),
    ("weights-csv-three-fields", "w.csv", "spam,4,1\n", [], "w.csv:1: 3 fields"),
    ("weights-twice", "w.csv", "spam,4\nspam,2\n", [], "class 'spam' is given twice"),
    ("weights-a-list", "w.json", "[4, 1]", [], "not a mapping of class names to weights"),
    ("weights-empty", "w.yaml", "", [], "names no class"),
    ("weights-binary", "w.json", b"\x00\x01\x02" * 50, [], "w.json"),
    ("weights-missing-file", "nosuch.json", None, [], "is neither a choice nor an existing file"),
    ("weights-typo", None, None, ["--class-weights", "atuo"], "(did you mean 'auto'?)"),
    ("threshold-above-1", None, None, ["--threshold", "1.5"], "train.threshold = 1.5 is out of range"),
    (
        "threshold-negative",
        None,
        None,
        ["--threshold=-0.1"],
        "it must be none | auto or a finite number in [0, 1]",
    ),
    ("threshold-nan", None, None, ["--threshold", "nan"], "train.threshold = nan is out of range"),
    ("threshold-word", None, None, ["--threshold", "best"], "train.threshold = 'best' is not a valid choice"),
    (
        "threshold-auto-without-val",
        None,
        None,
        ["--threshold", "auto", "--set", "data.val_fraction=0"],
        "--threshold auto is chosen on the validation split, and this data has none",
    ),
    ("sampler-typo", None, None, ["--sampler", "balance"], "(did you mean 'balanced'?)"),
]


def _table_case(name: str, file: str | None, content, args: list[str], expect: str) -> Case:
    def build(folder: Path) -> list[str]:
        data = write(folder / "t.csv", TABLE)
        weights = ["--class-weights", str(folder / file)] if file else []
        if file and content is not None:
            write(folder / file, content)
        return train(folder, "--data", f"csv:{data}", "--target", "y", "--model", "mlp", *weights, *args)

    return Case(name, build, expect)


def _threshold_for_ten_classes(folder: Path) -> list[str]:
    return train(folder, "--data", "digits", "--threshold", "0.3")


def _weights_for_regression(folder: Path) -> list[str]:
    data = write(folder / "n.csv", NUMBERS)
    return train(
        folder, "--data", f"csv:{data}", "--target", "y", "--model", "mlp", "--class-weights", "auto"
    )


def _sampler_for_regression(folder: Path) -> list[str]:
    return train(folder, "--data", "diabetes", "--model", "mlp", "--sampler", "balanced")


CASES = [
    *(_table_case(*case) for case in CASES_TABLE),
    Case(
        "threshold-ten-classes",
        _threshold_for_ten_classes,
        "applies to two-class problems, and this data has 10",
    ),
    Case(
        "weights-regression",
        _weights_for_regression,
        "applies to classification, and this data is a regression",
    ),
    Case(
        "sampler-regression", _sampler_for_regression, "train.sampler = 'balanced' applies to classification"
    ),
]
