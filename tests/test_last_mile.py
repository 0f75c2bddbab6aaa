"""The last mile, as a new user walks it (issue 24): a CSV of their own and a DataFrame with a model of
their own, through the real command line and the Python API as a user calls them.

- the best epoch of a user's own model is chosen as kindling's own would be, and the line says by what;
- `run.predict` / `kindling.load(...).predict` take what a Python user holds; a wrong kind is one line;
- a run trained on in-memory data names, from the shell, every way of giving it its data again;
- every answer leads with the point: refusals before the column schema, one short line for a wrong
  --target, a finished run resumed says so, the start line says where its values came from, compare
  prints its table, a misspelt run folder gets a did-you-mean, a small validation split is warned about.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
import yaml
from torch import nn

import kindling
from kindling.cli.main import main
from kindling.errors import MAX_MESSAGE
from kindling.task.problems import SMALL_VAL


class CancerNet(nn.Module):
    """The user's own model, as a tutorial writes one."""

    def __init__(self, in_features: int = 30, num_classes: int = 2):
        super().__init__()
        self.net = nn.Sequential(nn.Linear(in_features, 32), nn.ReLU(), nn.Linear(32, num_classes))

    def forward(self, x):
        return self.net(x)


def _cancer() -> pd.DataFrame:
    """scikit-learn's breast-cancer table with string labels, as a user's own CSV holds it."""
    from sklearn.datasets import load_breast_cancer

    frame = load_breast_cancer(as_frame=True).frame
    return frame.assign(target=frame["target"].map({0: "malignant", 1: "benign"})).rename(
        columns={"target": "diagnosis"}
    )


@pytest.fixture(scope="module")
def work(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("lastmile")
    _cancer().to_csv(folder / "cancer.csv", index=False)
    (folder / "runs").mkdir()
    return folder


@pytest.fixture(scope="module")
def table_run(work) -> Path:
    """`kindling train --data csv:cancer.csv --target diagnosis --epochs 3` (43 validation rows)."""
    run = work / "runs" / "cancer_csv"
    csv = str(work / "cancer.csv")
    assert (
        main(
            ["train", "--data", f"csv:{csv}", "--target", "diagnosis", "--epochs", "3", "--run-dir", str(run)]
        )
        == 0
    )
    return run


@pytest.fixture(scope="module")
def own_run(work) -> tuple[Path, str]:
    """`kindling.fit(data=df, target=..., model=CancerNet())`: the walk's own-net2, and what it printed."""
    import contextlib
    import io

    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        run = kindling.fit(
            data=_cancer(), target="diagnosis", model=CancerNet(), epochs=3, run_dir=str(work / "runs" / "own-net2"),
            threads=1,
        )  # fmt: skip
    return run.dir, printed.getvalue()


def _kindling(*args: str, cwd: Path, env: dict | None = None) -> subprocess.CompletedProcess:
    """The real command in another process (nothing handed over in this one is there)."""
    return subprocess.run(
        [sys.executable, "-m", "kindling", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
    )


# ---------------------------------------------------------------- 1. the best epoch of one's own model


def test_a_users_own_model_gets_the_loss_on_a_small_split_and_the_line_says_so(own_run):
    run, printed = own_run
    saved = yaml.safe_load((run / "config.yaml").read_text())
    assert saved["train"]["monitor"] == "val_loss"  # 43 validation rows: accuracy ties there
    assert json.loads((run / "best" / "bundle.json").read_text())["metrics"]["monitor"] == "val_loss"
    chose = next(line for line in printed.splitlines() if line.startswith("kindling chose"))
    assert "the best epoch by val_loss (43 validation samples)" in chose
    assert "best val_loss" in printed and "on DataFrame (569 rows)" in printed


def test_on_a_large_split_the_monitor_is_the_tasks_own(work, capsys):
    from sklearn.datasets import make_classification

    X, y = make_classification(n_samples=4000, n_features=8, random_state=0)
    frame = pd.DataFrame(X, columns=[f"f{i}" for i in range(8)]).assign(label=np.where(y, "yes", "no"))
    run = kindling.fit(
        data=frame, target="label", model=CancerNet(8), epochs=1, run_dir=str(work / "runs" / "large"), threads=1,
        set={"data.val_fraction": 0.4, "train.baseline": "none"},
    )  # fmt: skip
    assert yaml.safe_load((run.dir / "config.yaml").read_text())["data"]["val_fraction"] == 0.4
    assert yaml.safe_load((run.dir / "config.yaml").read_text())["train"]["monitor"] == "val_acc"
    out = capsys.readouterr().out
    assert "1,200 validation samples" in out and SMALL_VAL <= 1200


def test_compare_names_each_runs_monitor_beside_its_value_and_prints_the_table(table_run, own_run, capsys):
    assert main(["compare", str(table_run), str(own_run[0])]) == 0
    out = capsys.readouterr().out
    header, *rows = out.splitlines()[:3]
    assert "best (monitor)" in header and "test accuracy" in header
    assert all("val_loss 0." in row for row in rows)  # never a bare number beside another run's accuracy
    assert "DataFrame (569 rows)" in out
    page = table_run.parent / "compare.html"  # next to the first run
    assert f"comparison written to {page}" in out and page.is_file()
    assert '<th class="num">monitor</th>' in page.read_text()


def test_compare_help_says_what_it_does(capsys):
    with pytest.raises(SystemExit):
        main(["compare", "--help"])
    assert "Compare runs: print their metrics side by side" in capsys.readouterr().out


# ---------------------------------------------------------------- 2. predicting from what one holds


def test_a_table_model_takes_every_form_of_rows(table_run, work):
    frame = _cancer().head(4)
    rows = frame.drop(columns="diagnosis")
    rows.to_csv(work / "new_rows.csv", index=False)
    forms = {
        "DataFrame": frame,
        "list of dicts": rows.to_dict("records"),
        "float64 array": rows.to_numpy(),
        "float32 tensor": torch.tensor(rows.to_numpy(), dtype=torch.float32),
        "CSV path": str(work / "new_rows.csv"),
    }
    run, model = kindling.Run(table_run), kindling.load(table_run)
    expected = [r["label_name"] for r in model.predict(rows)]
    for name, held in forms.items():
        for predict in (run.predict, model.predict):
            got = predict(held)
            assert [r["label_name"] for r in got] == expected, name
            assert got[0]["input"] == "row 0" and 0 < got[0]["probability"] <= 1, name
    one = model.predict(rows.iloc[0].to_dict())
    assert len(one) == 1 and one[0]["label_name"] == expected[0]
    ints = model.predict(rows.to_numpy().round().astype(np.int64))  # any int dtype
    assert len(ints) == 4


@pytest.mark.parametrize(
    "held, said",
    [
        (np.zeros((2, 5)), "does not fit this model's rows of 30 columns"),
        (["a", 3], "this model takes table rows: a DataFrame, a dict or a list of dicts"),
        ("dog.csv", "does not exist; this model takes table rows"),
    ],
)
def test_a_wrong_kind_for_a_table_model_is_one_line_naming_what_it_takes(table_run, held, said):
    for predict in (kindling.Run(table_run).predict, kindling.load(table_run).predict):
        with pytest.raises(kindling.UserError, match=said) as err:
            predict(held)
        assert "\n" not in str(err.value) and len(str(err.value)) < MAX_MESSAGE


def test_predict_from_the_shell_advises_a_csv_for_a_table_model(table_run, work, kindling_here):
    from PIL import Image

    Image.new("RGB", (8, 8)).save(work / "dog.jpg")
    done = kindling_here("predict", str(table_run), "dog.jpg", cwd=work)
    assert done.returncode == 2 and done.stdout == ""
    assert "takes table rows, not .jpg files; pass a CSV" in done.stderr and ".npy" not in done.stderr


def test_an_image_model_takes_pictures_arrays_tensors_and_paths(tmp_path):
    from PIL import Image

    sys.path.insert(0, str(Path(__file__).parent / "data"))
    from image_files import write_folder

    root = write_folder(tmp_path / "photos", per_class=8, size=20, channels=3, splits=())
    run = kindling.fit(
        data=f"folder:{root}", model="digits-cnn", image_size=16, epochs=1, run_dir=str(tmp_path / "run"), threads=1,
        set={"train.baseline": "none"},
    )  # fmt: skip
    file = sorted(root.rglob("*.png"))[0]
    picture = Image.open(file)
    model = kindling.load(run.dir)
    expected = model.predict(str(file))[0]
    for held in (picture, [picture], np.asarray(picture), torch.from_numpy(np.array(picture))):
        for predict in (run.predict, model.predict):
            got = predict(held)[0]
            assert got["label_name"] == expected["label_name"], type(held)
            assert got["probability"] == pytest.approx(expected["probability"], abs=1e-5)
    assert (
        len(model.predict(np.zeros((3, 3, 16, 16), np.uint8))) == 3
        and len(run.predict(torch.rand(2, 3, 16, 16))) == 2
    )
    assert len(run.predict(root)) == 16  # a folder, as `kindling predict` takes one
    with pytest.raises(kindling.UserError, match=r"this model takes images: PIL images, .*got DataFrame"):
        model.predict(pd.DataFrame({"a": [1]}))


def test_a_text_model_takes_strings_and_refuses_numbers(tmp_path):
    from kindling_testing import write_sentiment_tsv

    tsv = write_sentiment_tsv(tmp_path / "reviews.tsv")
    run = kindling.fit(data=f"text:{tsv}", model="bow", epochs=2, run_dir=str(tmp_path / "run"), threads=1)
    model = kindling.load(run.dir)
    texts = ["good great film", "bad awful plot"]
    assert [r["input"] for r in model.predict(texts)] == texts
    assert model.predict(texts[0])[0]["label_name"] == run.predict(texts)[0]["label_name"]
    with pytest.raises(kindling.UserError, match="this model takes text: a string, a list of strings"):
        run.predict(np.zeros(3))


# ---------------------------------------------------------------- 3. in-memory data, from the shell


def test_evaluate_a_run_trained_on_a_dataframe_names_every_form_that_works(own_run, work):
    run = own_run[0]
    done = _kindling("evaluate", str(run), cwd=work)
    assert done.returncode == 2
    line = done.stderr.strip()
    assert "\n" not in line and len(line) < MAX_MESSAGE
    assert "DataFrame (569 rows)" in line and "objects:" not in line
    assert "--data csv:FILE" in line and "--data py:FILE.py:FUNCTION" in line and "'diagnosis'" in line
    (work / "my_data.py").write_text(
        "import pandas as pd\n\n\ndef cancer():\n    return pd.read_csv('cancer.csv')\n"
    )
    accuracy = set()
    for spec in ("csv:cancer.csv", "py:my_data.py:cancer"):  # each form named works as named
        done = _kindling("evaluate", str(run), "--data", spec, "--json", cwd=work)
        assert done.returncode == 0, done.stderr
        accuracy.add(json.loads(done.stdout)["accuracy"])
    assert len(accuracy) == 1


# ---------------------------------------------------------------- 4. the point first


def test_a_taken_run_folder_is_refused_before_the_column_schema(table_run, work, kindling_here):
    done = kindling_here(
        "train", "--data", "csv:cancer.csv", "--target", "diagnosis", "--run-dir", str(table_run), cwd=work
    )
    assert done.returncode == 2
    assert done.stdout == "" and done.stderr.startswith(f"kindling: {table_run} already holds a run")
    assert "columns of" not in done.stderr


def test_the_schema_is_compact_in_a_narrow_terminal_and_in_the_report(
    table_run, work, kindling_here, monkeypatch
):
    monkeypatch.setenv("COLUMNS", "60")
    done = kindling_here(
        "train", "--data", "csv:cancer.csv", "--target", "diagnosis", "--epochs", "1", "--run-dir", "runs/narrow",
        "--threads", "1", "--baseline", "none", cwd=work,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    schema = done.stderr.split("columns of cancer.csv")[1].split("-> 30 features")[0]
    assert "standardised (30): mean radius, mean texture" in schema
    assert all(len(line) <= 60 for line in schema.splitlines())
    assert len(schema.splitlines()) < 15  # not a 35-line wall
    assert main(["report", str(table_run)]) == 0
    page = (table_run / "report.html").read_text()
    assert '<section id="columns">' in page and "<td>mean radius</td><td>numeric, standardised</td>" in page


def test_a_wrong_target_is_one_short_line_with_the_near_miss_first(work, kindling_here):
    done = kindling_here(
        "train", "--data", "csv:cancer.csv", "--target", "diagnoss", "--run-dir", "runs/t", cwd=work
    )
    line = done.stderr.strip()
    assert done.returncode == 2 and "\n" not in line and len(line) < MAX_MESSAGE
    assert line.index("did you mean 'diagnosis'?") < line.index("`kindling data csv:cancer.csv`")
    assert "mean radius" not in line  # the list is `kindling data`'s to show
    done = kindling_here(
        "train", "--data", "csv:cancer.csv", "--target", "nothing_like_it", "--run-dir", "runs/t", cwd=work
    )
    assert (
        len(done.stderr.strip()) < MAX_MESSAGE
        and "`kindling data csv:cancer.csv` lists them all" in done.stderr
    )


def test_resuming_a_finished_run_says_so_and_how_to_train_longer_and_does_no_work(table_run, capsys):
    before = (table_run / "metrics.jsonl").read_text()
    stamp = (table_run / "best" / "model.safetensors").stat().st_mtime_ns
    assert main(["train", "--resume", str(table_run)]) == 0
    out = capsys.readouterr().out.strip()
    assert out.startswith(f"{table_run} finished: its 3 epochs are done (best val_loss ")
    assert out.endswith(f"to train longer: kindling train --resume {table_run} --epochs N (N > 3)")
    assert "\n" not in out
    assert (table_run / "metrics.jsonl").read_text() == before
    assert (table_run / "best" / "model.safetensors").stat().st_mtime_ns == stamp


def test_an_early_stopped_run_resumed_names_the_patience(work, capsys):
    from kindling_testing import train_run

    run = train_run(
        work / "runs" / "stopped", "--data", f"csv:{work / 'cancer.csv'}", "--target", "diagnosis", "--epochs", "50",
        "--patience", "1", "--min-delta", "10", "--baseline", "none",
    )  # fmt: skip
    # --min-delta 10: no epoch after the first is better, so early stopping ends it at the second
    capsys.readouterr()
    assert main(["train", "--resume", str(run), "--epochs", "60"]) == 0
    out = capsys.readouterr().out.strip()
    assert "finished: early stopping ended it at epoch 2 of 60" in out
    assert out.endswith(f"to train longer: kindling train --resume {run} --patience P (P > 1)")
    assert len((run / "metrics.jsonl").read_text().splitlines()) == 2


def test_the_start_line_says_where_threads_came_from_and_the_split_sizes(work, capsys):
    csv = str(work / "cancer.csv")
    argv = ["train", "--data", f"csv:{csv}", "--target", "diagnosis", "--epochs", "1", "--baseline", "none"]
    assert main([*argv, "--run-dir", str(work / "runs" / "given"), "--threads", "1"]) == 0
    out = capsys.readouterr().out
    start = next(line for line in out.splitlines() if line.startswith("training "))
    assert "384 train / 43 val / 142 test samples" in start and "threads 1 (as given: train.threads)" in start
    assert "set by --threads" not in out
    warning = next(line for line in out.splitlines() if line.startswith("warning: the validation split"))
    assert (
        "43 samples" in warning and "--set data.val_fraction=0.25" in warning and len(warning) < MAX_MESSAGE
    )
    assert main([*argv, "--run-dir", str(work / "runs" / "measured")]) == 0
    said = capsys.readouterr()
    start = next(line for line in said.out.splitlines() if line.startswith("training "))
    assert "as given" not in start and "cancer.csv (classification, target" in said.err
    assert main(["train", "--resume", str(work / "runs" / "measured"), "--epochs", "2"]) == 0
    said = capsys.readouterr()
    start = next(line for line in said.out.splitlines() if line.startswith("training "))
    assert "(kept from the run's start)" in start
    assert "columns of" not in said.err  # the schema once per run: the resumed run said it when it started


def test_a_misspelt_run_folder_gets_a_did_you_mean(table_run, capsys):
    wrong = str(table_run).replace("cancer_csv", "cancer-csv")
    for argv in (["train", "--resume", wrong], ["evaluate", wrong], ["report", wrong]):
        assert main(argv) == 2
        assert f"does not exist (did you mean {table_run}?)" in capsys.readouterr().err
