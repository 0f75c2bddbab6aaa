"""Bad tables: each is one line on stderr, exit 2, and no run directory is written."""

from __future__ import annotations

import numpy as np
import pytest

from kindling.cli.main import main
from kindling.config.schema import DataConfig
from kindling.data import build
from kindling.data.tables import read_table
from kindling.data.tables.synth import temps_frame
from kindling.errors import UserError


def train_fails(tmp_path, capsys, path, *extra: str) -> str:
    run = tmp_path / "runs" / "bad"
    rc = main(
        ["train", "--data", f"csv:{path}", "--model", "mlp", "--epochs", "1", "--run-dir", str(run), *extra]
    )
    err = capsys.readouterr().err.strip()
    assert rc == 2, err
    assert len(err.splitlines()) == 1 and err.startswith("kindling: ") and "Traceback" not in err
    assert not run.exists() and not (tmp_path / "runs").exists()
    return err


def write(tmp_path, text: str, name: str = "t.csv", encoding: str = "utf-8"):
    path = tmp_path / name
    path.write_bytes(text.encode(encoding))
    return path


def small_csv(tmp_path, **changes):
    frame = temps_frame(days=30, seed=0)
    for column, values in changes.items():
        frame[column] = values
    path = tmp_path / "t.csv"
    frame.to_csv(path, index=False)
    return path


def test_target_missing_names_the_near_miss_first_and_where_the_columns_are_listed(tmp_path, capsys):
    """One short line (issue 24): the did-you-mean, then `kindling data SPEC` for every column."""
    err = train_fails(tmp_path, capsys, small_csv(tmp_path), "--target", "actuall")
    assert "'actuall'" in err and "did you mean 'actual'" in err and len(err.strip()) < 300
    assert err.index("did you mean") < err.index("`kindling data csv:")
    err = train_fails(tmp_path, capsys, small_csv(tmp_path), "--target", "zzz")  # no near miss: a few columns
    assert "temp_1" in err and "lists them all" in err and len(err.strip()) < 300


def test_no_target_given_lists_the_columns(tmp_path, capsys):
    err = train_fails(tmp_path, capsys, small_csv(tmp_path))
    assert "--target" in err and "temp_2" in err


def test_non_numeric_target_for_regression(tmp_path, capsys):
    err = train_fails(
        tmp_path, capsys, small_csv(tmp_path), "--target", "week", "--set", "data.task=regression"
    )
    assert "'week' is not numeric" in err and "data.task=classification" in err


def test_an_empty_column_is_left_out_and_refused_only_when_kept(tmp_path, capsys):
    path = small_csv(tmp_path, friend=np.nan)
    dm = build(DataConfig(name=f"csv:{path}", target="actual"))
    assert "friend" not in dm.signature.extras["columns"]
    (row,) = [line.split() for line in capsys.readouterr().err.splitlines() if "friend" in line]
    assert row == ["friend", "-", "dropped:", "empty", "30"]
    err = train_fails(tmp_path, capsys, path, "--target", "actual", "--keep", "friend")
    assert "'friend'" in err and "all missing" in err and "data.keep" in err


def test_infinite_values(tmp_path, capsys):
    values = np.arange(30, dtype=float)
    values[7] = np.inf
    err = train_fails(tmp_path, capsys, small_csv(tmp_path, temp_2=values), "--target", "actual")
    assert "'temp_2'" in err and "infinite" in err and "row 8" in err


def test_empty_file(tmp_path, capsys):
    err = train_fails(tmp_path, capsys, write(tmp_path, ""), "--target", "actual")
    assert "is empty" in err


def test_header_only(tmp_path, capsys):
    err = train_fails(tmp_path, capsys, write(tmp_path, "year,month,day,actual\n"), "--target", "actual")
    assert "header but no rows" in err


def test_a_stray_word_among_numbers_is_read_as_missing(tmp_path, capsys):
    values = [str(v) for v in range(30)]
    values[4] = "warm"
    path = small_csv(tmp_path, temp_1=values)
    dm = build(DataConfig(name=f"csv:{path}", target="actual", val_fraction=0.0, test_fraction=0.0))
    err = capsys.readouterr().err
    assert "1 cell(s) not a number ('warm') read as missing" in err
    names = dm.signature.extras["feature_names"]
    assert "temp_1.missing" in names
    with pytest.raises(UserError, match=r"temp_1 \(1\).*data.missing"):
        build(DataConfig(name=f"csv:{path}", target="actual", missing="refuse"))


def test_missing_file(tmp_path, capsys):
    err = train_fails(tmp_path, capsys, tmp_path / "nope.csv", "--target", "actual")
    assert "does not exist" in err


def test_ambiguous_delimiter_says_what_to_pass(tmp_path, capsys):
    path = write(tmp_path, "a,b;c\n1;2\n3,4\n")
    err = train_fails(tmp_path, capsys, path, "--target", "a")
    assert "data.delimiter" in err


def test_bad_split_column_and_drop_name(tmp_path, capsys):
    path = small_csv(tmp_path)
    err = train_fails(tmp_path, capsys, path, "--target", "actual", "--set", "data.split_by=when")
    assert "split_by" in err and "'when'" in err
    err = train_fails(tmp_path, capsys, path, "--target", "actual", "--set", "data.drop=freind")
    assert "did you mean 'friend'" in err


@pytest.mark.parametrize("sep,name", [(";", "t.csv"), ("\t", "t.tsv"), ("|", "t.csv")])
def test_other_delimiters_are_detected(tmp_path, sep, name):
    frame = temps_frame(days=12, seed=1)
    path = tmp_path / name
    frame.to_csv(path, sep=sep, index=False)
    back = read_table(path)
    assert list(back.columns) == list(frame.columns) and len(back) == 12
    assert back["temp_1"].tolist() == frame["temp_1"].tolist()


def test_parquet_by_extension(tmp_path):
    pytest.importorskip("pyarrow")
    frame = temps_frame(days=12, seed=1)
    path = tmp_path / "t.parquet"
    frame.to_parquet(path)
    assert read_table(path)["week"].tolist() == frame["week"].tolist()
    bad = write(tmp_path, "not parquet", "bad.parquet")
    with pytest.raises(UserError, match="not a readable Parquet"):
        read_table(bad)


def test_other_encodings_detected_or_named(tmp_path):
    rows = "城市,温度,天气\n" + "".join(
        f"{c},{t},{w}\n" for c, t, w in [("北京", 30, "晴朗"), ("上海", 28, "多云"), ("广州", 33, "下雨")] * 8
    )
    path = write(tmp_path, rows, encoding="gbk")
    try:
        frame = read_table(path)
    except UserError as exc:  # detection may give up on a small file: then the message names the setting
        assert "data.encoding" in str(exc)
    else:
        assert list(frame.columns) == ["城市", "温度", "天气"] and frame["城市"].iloc[0] == "北京"
    frame = read_table(path, encoding="gbk")
    assert frame["天气"].iloc[1] == "多云"
    with pytest.raises(UserError, match="not valid utf-8"):
        read_table(path, encoding="utf-8")
    bom = write(tmp_path, "\ufeffa,b\n1,x\n2,y\n", "bom.csv")
    assert list(read_table(bom).columns) == ["a", "b"]


def test_non_utf8_training_uses_data_encoding(tmp_path):
    frame = temps_frame(days=40, seed=2)
    frame["week"] = (
        frame["week"].map(
            {
                "Mon": "Montag",
                "Tue": "Dienstag",
                "Wed": "Mittwoch",
                "Thu": "Donnerstag",
                "Fri": "Freitag",
                "Sat": "Samstag",
                "Sun": "Sonntag",
            }
        )
        + "é"
    )
    path = tmp_path / "latin.csv"
    frame.to_csv(path, index=False, encoding="latin-1")
    dm = build(DataConfig(name=f"csv:{path}", target="actual", encoding="latin-1"))
    weeks = [n for n in dm.signature.extras["feature_names"] if n.startswith("week=")]
    assert weeks and all(n.endswith("é") for n in weeks)


def test_a_table_of_other_columns_is_refused_in_one_short_line(tmp_path, capsys):
    """Predicting on a table that lacks the model's 30 long-named columns: one line under 300
    characters, the count and the first few names, not every column twice (it was 609; issue 21)."""
    import pandas as pd

    rng = np.random.default_rng(0)
    names = [f"measurement_of_something_long_number_{i:02d}" for i in range(30)]
    frame = pd.DataFrame(rng.normal(size=(60, 30)), columns=names)
    frame["label"] = (frame[names[0]] > 0).map({True: "yes", False: "no"})
    frame.to_csv(tmp_path / "train.csv", index=False)
    run = tmp_path / "run"
    args = ["--target", "label", "--epochs", "1", "--threads", "1", "--run-dir", str(run)]
    assert main(["train", "--data", f"csv:{tmp_path / 'train.csv'}", *args]) == 0
    frame.rename(columns={n: n.upper() for n in names}).to_csv(tmp_path / "other.csv", index=False)
    capsys.readouterr()
    assert main(["predict", str(run), str(tmp_path / "other.csv"), "--json"]) == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and len(lines[0]) < 300, lines
    assert "lacks 30 of the 30 columns the model was trained on" in lines[0]
    assert f"'{names[0]}'" in lines[0] and "... and 27 more columns" in lines[0]
