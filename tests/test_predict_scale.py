"""`kindling predict` at scale: folders, globs, batches, preds.csv / .jsonl, --sort-into with an
uncertain/ folder, tables from a CSV and texts; a bad input stops the run before anything is written."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from kindling.cli.main import main
from kindling_testing import train_run, write_sentiment_tsv


@pytest.fixture(scope="module")
def digit_folder(digits_run, tmp_path_factory) -> tuple[Path, dict[str, int]]:
    """30 test-split digits as PNGs in nested folders (a/ and a/b/), with their true classes."""
    from PIL import Image

    from kindling import data
    from kindling.bundle.rundir import load_saved_config

    test = data.build(load_saved_config(digits_run).data).test
    root = tmp_path_factory.mktemp("digit_pngs")
    truth = {}
    for i in range(30):
        folder = root / "a" / ("b" if i % 2 else "")
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"img{i:02d}.png"
        Image.fromarray(test.x[i, 0].numpy()).resize((32, 32), Image.NEAREST).save(path)
        truth[str(path)] = int(test.y[i])
    return root, truth


def read_csv(path: Path) -> list[dict]:
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def test_a_folder_in_batches_to_csv(digits_run, digit_folder, tmp_path):
    from kindling.predict.predictor import Predictor

    root, truth = digit_folder
    out = tmp_path / "preds.csv"
    assert main(["predict", str(digits_run), str(root), "--batch-size", "7", "--output", str(out)]) == 0
    rows = read_csv(out)
    assert sorted(r["input"] for r in rows) == sorted(truth)  # found recursively, each once
    assert set(rows[0]) == {"input", "label", "label_name", "probability", "top_k"}
    one = Predictor.load(digits_run).predict_files([rows[0]["input"]])[0]
    assert int(rows[0]["label"]) == one["label"] and float(rows[0]["probability"]) == pytest.approx(
        one["probability"], abs=1e-5
    )
    accuracy = sum(int(r["label"]) == truth[r["input"]] for r in rows) / len(rows)
    assert accuracy > 0.6  # a 2-epoch model on real digits


def test_a_glob_to_jsonl(digits_run, digit_folder, tmp_path):
    root, _ = digit_folder
    out = tmp_path / "preds.jsonl"
    assert (
        main(
            [
                "predict",
                str(digits_run),
                str(root / "a" / "b" / "*.png"),
                "--top-k",
                "2",
                "--output",
                str(out),
            ]
        )
        == 0
    )
    lines = [json.loads(line) for line in out.read_text().splitlines()]
    assert len(lines) == 15 and all(len(x["top_k"]) == 2 for x in lines)


def test_sort_into_class_folders_and_uncertain(digits_run, digit_folder, tmp_path, capsys):
    root, truth = digit_folder
    sorted_dir = tmp_path / "sorted"
    assert (
        main(
            [
                "predict",
                str(digits_run),
                str(root),
                "--sort-into",
                str(sorted_dir),
                "--min-confidence",
                "0",
                "--json",
            ]
        )
        == 0
    )
    results = json.loads(capsys.readouterr().out)["predictions"]
    for r in results:
        assert (sorted_dir / r["label_name"] / Path(r["input"]).name).read_bytes() == Path(
            r["input"]
        ).read_bytes()
    assert not (sorted_dir / "uncertain").exists()
    unsure = tmp_path / "unsure"
    assert (
        main(["predict", str(digits_run), str(root), "--sort-into", str(unsure), "--min-confidence", "1"])
        == 0
    )
    assert len(list((unsure / "uncertain").iterdir())) == len(truth)  # no prediction is 100% sure


def test_a_bad_file_stops_before_anything_is_written(digits_run, digit_folder, tmp_path, capsys):
    import shutil

    root, _ = digit_folder
    mixed = tmp_path / "mixed"
    shutil.copytree(root, mixed)
    (mixed / "a" / "broken.png").write_text("not an image")
    out, sorted_dir = tmp_path / "preds.csv", tmp_path / "sorted"
    assert (
        main(["predict", str(digits_run), str(mixed), "--output", str(out), "--sort-into", str(sorted_dir)])
        == 2
    )
    assert "broken.png" in capsys.readouterr().err
    assert not out.exists() and not sorted_dir.exists()


@pytest.mark.parametrize(
    "args, words",
    [
        (["no/such/file.png"], "does not exist"),
        (["nothing-*.png"], "matches no files"),
        (["--output", "preds.txt", "x.png"], ".csv or .jsonl"),
        (["--min-confidence", "2", "x.png"], "between 0 and 1"),
        (["--text", "hello"], "takes image input"),
        ([], "predict needs inputs"),
    ],
)
def test_user_mistakes(digits_run, tmp_path, monkeypatch, capsys, args, words):
    monkeypatch.chdir(tmp_path)
    assert main(["predict", str(digits_run), *args]) == 2
    assert words in capsys.readouterr().err


def test_a_table_csv_gets_prediction_columns(tmp_path):
    from sklearn.datasets import load_wine

    run = tmp_path / "wine"
    train_run(run, "--data", "wine", "--model", "mlp", "--epochs", "2")
    frame = load_wine(as_frame=True).frame.head(20)  # includes the target column: ignored
    frame.to_csv(tmp_path / "new.csv", index=False)
    out = tmp_path / "preds.csv"
    assert (
        main(["predict", str(run), str(tmp_path / "new.csv"), "--batch-size", "8", "--output", str(out)]) == 0
    )
    rows = read_csv(out)
    assert len(rows) == 20 and {"prediction", "probability", "prob_class_0", "alcohol"} <= set(rows[0])
    assert {r["prediction"] for r in rows} <= {"class_0", "class_1", "class_2"}


def test_texts_from_flags_and_a_file(tmp_path, capsys):
    write_sentiment_tsv(tmp_path / "t.tsv")
    run = tmp_path / "text"
    args = [
        "train",
        "--data",
        f"text:{tmp_path / 't.tsv'}",
        "--model",
        "bow",
        "--epochs",
        "2",
        "--threads",
        "1",
    ]
    assert main([*args, "--run-dir", str(run)]) == 0
    capsys.readouterr()  # training's own output
    (tmp_path / "new.txt").write_text("great good\n\nawful bad\n", encoding="utf-8")
    assert main(["predict", str(run), str(tmp_path / "new.txt"), "--text", "good film", "--json"]) == 0
    results = json.loads(capsys.readouterr().out)["predictions"]
    assert [r["input"] for r in results] == ["good film", "great good", "awful bad"]  # blank lines skipped
    assert all(r["label_name"] in {"pos", "neg"} for r in results)
    (tmp_path / "latin1.txt").write_bytes("caf\xe9 bad\n".encode("latin-1"))
    assert main(["predict", str(run), str(tmp_path / "latin1.txt")]) == 2
    assert "not valid utf-8" in capsys.readouterr().err
