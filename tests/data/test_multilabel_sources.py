"""The sources of several labels per sample (kindling.data.labelsets, kindling.data.tables.labelled,
annotation lines with several labels), csv: files of image paths or of texts (single-label too), the
thresholds tuned on validation, and the Bundle's check of them."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from PIL import Image
from sklearn.datasets import load_digits

from kindling import data as data_mod
from kindling.cli.main import main
from kindling.config.schema import DataConfig
from kindling.data.labelsets import LabelSets, check_matrix, indicator_matrix, split_cells, split_indices
from kindling.errors import UserError
from kindling.task.multilabel import GRID, label_metrics, tune_thresholds
from kindling_testing import train_run

WORDS = {
    "sport": ["match", "goal", "team", "score", "league"],
    "money": ["bank", "price", "market", "stock", "profit"],
    "tech": ["phone", "chip", "software", "robot", "code"],
}


def write_digit_pngs(folder: Path, n: int = 300) -> tuple[list[str], np.ndarray]:
    """The first n digits as PNG files under folder/img -> (relative paths, digits)."""
    digits = load_digits()
    (folder / "img").mkdir(parents=True, exist_ok=True)
    paths = []
    for i in range(n):
        paths.append(f"img/{i:04d}.png")
        pixels = (digits.images[i] * 255 / 16).round().astype(np.uint8)
        Image.fromarray(pixels, "L").save(folder / paths[-1])
    return paths, digits.target[:n]


def write_news(path: Path, rows: int = 240) -> Path:
    """A CSV of short texts about one or two topics, `text,topics` with topics as a|b."""
    rng = np.random.default_rng(0)
    names, lines = sorted(WORDS), []
    for i in range(rows):
        topics = [names[i % 3]] + ([names[(i + 1) % 3]] if i % 4 == 0 else [])
        words = [w for t in topics for w in rng.choice(WORDS[t], 3, replace=False)] + ["the", "news", "today"]
        lines.append({"text": " ".join(rng.permutation(words)), "topics": "|".join(topics)})
    pd.DataFrame(lines).to_csv(path, index=False)
    return path


# ---------------------------------------------------------------- label sets


def test_cells_split_into_label_sets():
    assert split_cells(["a|b", " b | a |", None, float("nan"), "", "c"], "|") == [
        ["a", "b"],
        ["b", "a"],
        [],
        [],
        [],
        ["c"],
    ]
    assert split_cells(["x y", "z"], " ") == [["x", "y"], ["z"]]
    with pytest.raises(UserError, match="label_sep"):
        split_cells(["a"], "")


def test_label_sets_encode_and_name_an_unknown_label():
    labels = LabelSets.fit([["b", "a"], [], ["c"]], "t.csv")
    assert labels.names == ["a", "b", "c"]
    assert labels.encode([["c", "a"], []]).tolist() == [[1, 0, 1], [0, 0, 0]]
    with pytest.raises(UserError, match="'d' is not one the model knows"):
        labels.encode([["d"]], "new.csv")
    with pytest.raises(UserError, match="empty label set on every row"):
        LabelSets.fit([[], []], "t.csv column 'tags'")


def test_indicator_columns_take_01_and_refuse_anything_else():
    frame = pd.DataFrame({"a": [1, 0, "yes"], "b": ["0", "true", None]})
    assert indicator_matrix(frame, ["a", "b"], "t.csv").tolist() == [[1, 0], [0, 1], [1, 0]]
    with pytest.raises(UserError, match=r"label column 'a' holds '2' \(row 2\)"):
        indicator_matrix(pd.DataFrame({"a": [0, 2]}), ["a"], "t.csv")
    with pytest.raises(UserError, match="empty label set on every row"):
        indicator_matrix(pd.DataFrame({"a": [0, 0], "b": [0, 0]}), ["a", "b"], "t.csv")


def test_a_matrix_from_python_is_checked():
    assert check_matrix(np.array([[True, False]]), "the arrays").dtype == np.float32
    with pytest.raises(UserError, match=r"Y\[1, 0\] is 3"):
        check_matrix(np.array([[1, 0], [3, 0]]), "the arrays")
    with pytest.raises(UserError, match="0 everywhere"):
        check_matrix(np.zeros((4, 2)), "the arrays")


def test_splits_are_seeded_and_stratified_on_label_combinations():
    y = digit_labels = np.stack([np.arange(400) % 2, np.arange(400) % 5 == 0], 1).astype(np.float32)
    first, again = split_indices(y, 0.1, 0.25, 0), split_indices(y, 0.1, 0.25, 0)
    assert all(np.array_equal(a, b) for a, b in zip(first, again))
    train, val, test = first
    assert sorted(np.concatenate(first).tolist()) == list(range(400))
    share = y[test].mean(0)  # each combination cut in the same proportion
    assert np.allclose(share, digit_labels.mean(0), atol=0.02)
    assert len(test) == pytest.approx(100, abs=4) and len(val) == pytest.approx(30, abs=4)


# ---------------------------------------------------------------- thresholds


def test_each_label_gets_the_threshold_of_its_best_f1():
    probs = np.array([[0.9, 0.30], [0.8, 0.25], [0.7, 0.10], [0.2, 0.05]])
    truth = np.array([[1, 1], [1, 1], [0, 0], [0, 0]])
    first, second = tune_thresholds(probs, truth)
    assert 0.7 <= first < 0.8  # 0.5 would call the third sample positive
    assert 0.10 <= second < 0.25 and first in GRID and second in GRID
    assert tune_thresholds(probs, np.zeros((4, 2))) == [0.5, 0.5]  # no positive: nothing to tune on
    tuned = label_metrics(probs, truth, [first, second], ["a", "b"])
    plain = label_metrics(probs, truth, [0.5, 0.5], ["a", "b"])
    assert tuned["micro_f1"] == 1.0 > plain["micro_f1"] and tuned["subset_accuracy"] == 1.0
    assert tuned["per_label"]["b"]["threshold"] == second and tuned["mAP"] == 1.0


def test_a_bundle_with_thresholds_that_do_not_fit_its_labels_is_refused(tmp_path):
    from kindling.bundle.check import check_meta

    meta = {
        "model": {"name": "mlp"},
        "signature": {
            "task": "multilabel",
            "input_kind": "vector",
            "input_shape": [4],
            "class_names": ["a", "b"],
        },
        "metrics": {"thresholds": [0.5, 0.4]},
    }
    check_meta(meta, tmp_path / "model.safetensors")
    for bad in ([0.5], [0.5, 1.5], ["x", 0.5]):
        meta["metrics"]["thresholds"] = bad
        with pytest.raises(UserError, match="'metrics.thresholds' must be 2 numbers in"):
            check_meta(meta, tmp_path / "model.safetensors")


# ---------------------------------------------------------------- csv: images and texts


def test_a_csv_of_image_paths_with_one_class_each_is_an_image_classification(tmp_path):
    paths, digits = write_digit_pngs(tmp_path)
    pd.DataFrame({"id": range(len(paths)), "file": paths, "digit": digits}).to_csv(
        tmp_path / "l.csv", index=False
    )
    dm = data_mod.build(DataConfig(name=f"csv:{tmp_path / 'l.csv'}", target="digit"), quiet=True)
    sig = dm.signature
    assert (sig.task, sig.input_kind, sig.input_shape) == ("classification", "image", [1, 8, 8])
    assert sig.class_names == [str(d) for d in range(10)]
    row = (
        int(dm.test.names[0].split(" row ")[1].split()[0]) - 2
    )  # "FILE row N (img/...)": N counts the header
    assert int(dm.test.y[0]) == digits[row]
    assert sum(len(s) for s in (dm.train, dm.val, dm.test)) == len(paths)


def test_a_missing_image_names_its_row_or_is_skipped(tmp_path):
    paths, digits = write_digit_pngs(tmp_path, 40)
    paths[5] = "img/nope.png"
    pd.DataFrame({"file": paths, "tags": ["a|b" if d % 2 else "a" for d in digits]}).to_csv(
        tmp_path / "l.csv", index=False
    )
    cfg = DataConfig(name=f"csv:{tmp_path / 'l.csv'}", target="tags")
    with pytest.raises(UserError, match=r"row 7: image 'img/nope.png' not found"):
        data_mod.build(cfg, quiet=True)
    cfg.skip_bad = True
    dm = data_mod.build(cfg, quiet=True)
    assert dm.signature.task == "multilabel" and sum(len(s) for s in (dm.train, dm.val, dm.test)) == 39


def test_a_csv_with_a_text_column_is_a_text_task_single_and_multilabel(tmp_path, capsys):
    news = write_news(tmp_path / "news.csv")
    frame = pd.read_csv(news)
    frame.assign(topic=frame.topics.str.split("|").str[0]).drop(columns="topics").to_csv(
        tmp_path / "one.csv", index=False
    )
    single = data_mod.build(DataConfig(name=f"csv:{tmp_path / 'one.csv'}", target="topic"), quiet=True)
    assert (single.signature.task, single.signature.input_kind) == ("classification", "text")
    assert single.signature.class_names == sorted(WORDS)
    run = train_run(tmp_path / "run", "--data", f"csv:{news}", "--target", "topics", "--epochs", "8")
    sig = json.loads((run / "best" / "bundle.json").read_text())["signature"]
    assert (sig["task"], sig["input_kind"], sig["class_names"]) == ("multilabel", "text", sorted(WORDS))
    capsys.readouterr()
    assert main(["predict", str(run), "--text", "goal team stock market", "--json"]) == 0
    (answer,) = json.loads(capsys.readouterr().out)["predictions"]
    assert set(answer["labels"]) == {"money", "sport"}


def test_annotation_lines_with_several_labels_are_multilabel(tmp_path):
    paths, digits = write_digit_pngs(tmp_path, 120)
    lines = [
        f"{p} {'even' if d % 2 == 0 else ''} {'big' if d >= 5 else ''}".rstrip()
        for p, d in zip(paths, digits)
    ]
    (tmp_path / "train.txt").write_text("# file labels\n" + "\n".join(lines) + "\n")
    dm = data_mod.build(DataConfig(name=f"annotations:{tmp_path / 'train.txt'}"), quiet=True)
    assert dm.signature.task == "multilabel" and dm.signature.class_names == ["big", "even"]
    y = torch.cat([dm.train.y, dm.val.y, dm.test.y])
    assert y.shape == (120, 2) and int(y.sum()) == sum(int(d % 2 == 0) + int(d >= 5) for d in digits)
    (tmp_path / "one.txt").write_text("\n".join(f"{p} {d}" for p, d in zip(paths, digits)) + "\n")
    single = data_mod.build(DataConfig(name=f"annotations:{tmp_path / 'one.txt'}"), quiet=True)
    assert single.signature.task == "classification"  # one label a line: as before


def test_a_dataframe_with_01_label_columns_is_a_multilabel_table():
    from kindling.data.objects import from_objects

    digits = load_digits()
    frame = pd.DataFrame(digits.data[:300], columns=[f"p{i}" for i in range(64)])
    frame["even"], frame["big"] = digits.target[:300] % 2 == 0, digits.target[:300] >= 5
    dm = from_objects(DataConfig(name="objects:df", target="even,big"), frame)
    assert (dm.signature.task, dm.signature.input_kind) == ("multilabel", "tabular")
    assert (
        dm.signature.class_names == ["even", "big"] and dm.signature.input_shape[0] < 64
    )  # constant pixels dropped
    assert dm.train.y.shape[1] == 2 and "even" not in dm.signature.extras["columns"]
