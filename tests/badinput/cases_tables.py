"""Bad tables: CSV files that cannot train (empty, ragged, undecodable, a target that is not there or
holds one class), wrong options for them, and a table handed to an image model. Each refusal is one line,
and comes alone: the column typing table is shown only once the model fits the data."""

from __future__ import annotations

from badinput.harness import Case
from badinput.trainargs import train, write

GOOD = "a,b,city,y\n" + "".join(f"{i},{i * 0.5},{'xyz'[i % 3]},{i % 2}\n" for i in range(40))
DATES = "day,t,y\n" + "".join(f"2024-01-{i % 28 + 1:02d},{i},{i % 2}\n" for i in range(40))
WIDE = (
    ",".join(f"c{i}" for i in range(1000))
    + ",y\n"
    + "".join(",".join(str((r * 7 + i) % 10) for i in range(1000)) + f",{r % 2}\n" for r in range(30))
)
MISSING = "a,b,y\n" + "".join(f"{'' if i % 5 == 0 else i},{i * 0.5},{'pn'[i % 2]}\n" for i in range(40))

# (name, file name, content, extra args, fragment)
TABLES = [
    ("empty-file", "t.csv", "", ["--target", "y"], "t.csv"),
    ("header-only", "t.csv", "a,b,y\n", ["--target", "y"], "t.csv"),
    ("one-row", "t.csv", "a,b,y\n1,2,0\n", ["--target", "y"], "t.csv"),
    ("target-missing", "t.csv", GOOD, ["--target", "z"], "'z'"),
    ("target-typo", "t.csv", GOOD, ["--target", "Y"], "(did you mean 'y'?); `kindling data csv:"),
    ("wide-target-missing", "wide.csv", WIDE, ["--target", "z"], "'z'"),
    (
        "single-class",
        "t.csv",
        GOOD.replace(",0\n", ",1\n"),
        ["--target", "y", "--task", "classification"],
        "single class",
    ),
    ("target-all-empty", "t.csv", "a,y\n" + "".join(f"{i},\n" for i in range(40)), ["--target", "y"], "y"),
    (
        "regression-on-words",
        "t.csv",
        "a,y\n" + "".join(f"{i % 7},w{i % 3}\n" for i in range(40)),
        ["--target", "y", "--task", "regression"],
        "not numeric",
    ),
    ("ragged-rows", "t.csv", "a,b,y\n1,2,0\n1,2,3,4,5\n" + "1,2,1\n" * 30, ["--target", "y"], "t.csv"),
    ("random-bytes", "t.csv", bytes(range(256)) * 8, ["--target", "y"], "t.csv"),
    ("not-utf8", "t.csv", b"a,y\n" + b"\xff\xfe\xfa,1\n" * 40, ["--target", "y"], "t.csv"),
    ("bad-encoding-name", "t.csv", GOOD, ["--target", "y", "--encoding", "no-such-codec"], "no-such-codec"),
    ("drop-unknown", "t.csv", GOOD, ["--target", "y", "--drop", "nosuch"], "nosuch"),
    ("drop-the-target", "t.csv", GOOD, ["--target", "y", "--drop", "y"], "names the target 'y'"),
    ("drop-everything", "t.csv", GOOD, ["--target", "y", "--drop", "a,b,city"], "t.csv"),
    ("split-by-unknown", "t.csv", GOOD, ["--target", "y", "--split-by", "when"], "when"),
    ("split-by-not-a-date", "t.csv", GOOD, ["--target", "y", "--split-by", "city"], "city"),
    ("missing-refused", "t.csv", MISSING, ["--target", "y", "--missing", "refuse"], "missing"),
    ("image-model", "t.csv", GOOD, ["--target", "y", "--model", "lenet"], "image"),
    ("wide-image-model", "wide.csv", WIDE, ["--target", "y", "--model", "digits-cnn"], "image"),
    (
        "monitor-acc-on-regression",
        "t.csv",
        DATES,
        ["--target", "t", "--task", "regression", "--monitor", "val_acc"],
        "train.monitor = 'val_acc'",
    ),
    (
        "monitor-mae-on-classes",
        "t.csv",
        GOOD,
        ["--target", "y", "--task", "classification", "--monitor", "val_mae"],
        "train.monitor = 'val_mae'",
    ),
    (
        "all-fractions",
        "t.csv",
        GOOD,
        [
            "--target",
            "y",
            "--task",
            "classification",
            "--set",
            "data.val_fraction=0.99",
            "--set",
            "data.test_fraction=0.99",
        ],
        "fraction",
    ),
    ("parquet-garbage", "t.parquet", b"PAR1 not really parquet", ["--target", "y"], "t.parquet"),
    ("text-model", "t.csv", GOOD, ["--target", "y", "--model", "textcnn"], "text"),
]


def _case(name: str, file: str, content, extra: list[str], expect: str) -> Case:
    def build(folder):
        return train(folder, "--data", f"csv:{write(folder / file, content)}", "--model", "mlp", *extra)

    return Case(f"table-{name}", build, expect)


CASES = [
    *(_case(*c) for c in TABLES),
    Case(
        "table-file-missing", lambda folder: train(folder, "--data", f"csv:{folder / 'nope.csv'}"), "nope.csv"
    ),
    Case("table-a-folder", lambda folder: train(folder, "--data", f"csv:{folder}"), ""),
    Case(
        "table-no-target-given",
        lambda folder: train(folder, "--data", f"csv:{write(folder / 't.csv', GOOD)}"),
        "--target",
    ),
]
