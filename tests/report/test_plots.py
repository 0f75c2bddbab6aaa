"""Plots are checked for content: the numbers drawn equal evaluate's and metrics.jsonl's."""

from __future__ import annotations

import io
import json

import numpy as np
import pytest
from PIL import Image

from kindling.report import plots as P


def _index(run) -> dict:
    return {p["name"]: p for p in json.loads((run / "plots" / "index.json").read_text())}


def _png_size(data: bytes) -> tuple[int, int]:
    with Image.open(io.BytesIO(data)) as img:
        img.load()
        return img.size


def test_training_leaves_the_plots_behind(digits_run):
    index = _index(digits_run)
    assert set(index) == {
        "learning_curves",
        "confusion_matrix",
        "per_class_accuracy",
        "prediction_grid",
        "top_losses",
    }
    for name in index:
        width, height = _png_size((digits_run / "plots" / f"{name}.png").read_bytes())
        assert width > 200 and height > 150


def test_confusion_and_per_class_equal_evaluate(digits_run):
    from kindling.evaluate.evaluation import evaluate

    result = evaluate(digits_run, "test")
    index = _index(digits_run)
    assert index["confusion_matrix"]["data"]["matrix"] == result["confusion_matrix"]
    assert index["confusion_matrix"]["data"]["mode"] == "matrix"
    drawn = index["per_class_accuracy"]["data"]["per_class_accuracy"]
    assert drawn == pytest.approx(result["per_class_accuracy"])


def test_learning_curves_draw_metrics_jsonl(digits_run):
    history = [json.loads(line) for line in (digits_run / "metrics.jsonl").read_text().splitlines()]
    data = _index(digits_run)["learning_curves"]["data"]
    assert data["epoch"] == [r["epoch"] for r in history]
    assert data["val_loss"] == [r["val_loss"] for r in history]
    assert data["lr"] == [r["lr"] for r in history]
    assert data["metric"] == "acc"


def test_grid_and_top_losses_agree_with_the_model(digits_run):
    from kindling.bundle.files import load_bundle
    from kindling.bundle.rundir import data_config_for
    from kindling.data import build
    from kindling.report.evidence import collect_and_evaluate, grid_indices

    bundle = load_bundle(digits_run)
    test = build(data_config_for(bundle)).test
    preds, _ = collect_and_evaluate(bundle.model, bundle.signature, test, "test")
    index = _index(digits_run)
    pick = grid_indices(len(preds.y))
    grid = index["prediction_grid"]["data"]["samples"]
    assert [s["correct"] for s in grid] == (preds.y[pick] == preds.pred[pick]).tolist()
    rows = index["top_losses"]["data"]["rows"]
    losses = [r["loss"] for r in rows]
    assert losses == sorted(losses, reverse=True)
    assert losses[0] == pytest.approx(float(preds.loss.max()), rel=1e-5)
    assert rows[0]["name"] == test.names[rows[0]["index"]]
    from kindling.evaluate.evaluation import evaluate

    assert float(preds.loss.mean()) == pytest.approx(evaluate(digits_run, "test")["loss"], rel=1e-4)


def test_many_classes_switch_to_confused_pairs():
    rng = np.random.default_rng(0)
    k = 40
    cm = np.diag(rng.integers(5, 20, k))
    cm[3, 7], cm[11, 2], cm[5, 5] = 9, 4, 0
    names = [f"class{i}" for i in range(k)]
    plot = P.confusion_plot(cm, names)
    assert plot.data["mode"] == "pairs"
    assert plot.data["pairs"][:2] == [
        {"true": "class3", "predicted": "class7", "count": 9},
        {"true": "class11", "predicted": "class2", "count": 4},
    ]
    assert _png_size(plot.png)[0] > 0


def test_regression_and_text_views():
    y = np.linspace(0, 10, 50)
    plot = P.regression_plot(y, y + 0.5)
    assert plot.data["mae"] == pytest.approx(0.5)
    cm = np.array([[5, 2], [0, 3]])
    texts = ["good film", "bad acting", "great plot", "dull", "nice", "fine", "so so", "ok", "meh", "wow"]
    y_true = np.array([0, 0, 0, 0, 0, 0, 0, 1, 1, 1])
    y_pred = np.array([0, 1, 0, 0, 1, 0, 0, 1, 1, 1])
    plot = P.text_confusions(cm, ["pos", "neg"], y_true, y_pred, texts)
    assert plot.data["pairs"] == [
        {"true": "pos", "predicted": "neg", "count": 2, "examples": ["bad acting", "nice"]}
    ]


def test_lr_find_suggests_a_rate_and_draws_it(tmp_path):
    from kindling.cli.lr_find import lr_find
    from kindling.config.load import load_config
    from kindling.errors import UserError

    cfg = load_config(None, {"data.name": "digits", "train.device": "cpu"})
    result = lr_find(cfg, steps=40, start_lr=1e-5, end_lr=1.0, output=tmp_path / "lr.png")
    assert result["steps"] >= 10
    assert result["suggested_lr"] is not None and 1e-5 <= result["suggested_lr"] <= 1.0
    assert _png_size((tmp_path / "lr.png").read_bytes())[0] > 0
    with pytest.raises(UserError, match="start < end"):
        lr_find(cfg, steps=40, start_lr=1.0, end_lr=0.1, output=tmp_path / "bad.png")
    assert not (tmp_path / "bad.png").exists()


def test_text_run_shows_confused_pairs_with_their_texts(tmp_path):
    from kindling_testing import train_run

    rng = np.random.default_rng(0)
    words = {"pos": ["great", "loved", "superb"], "neg": ["boring", "awful", "dull"]}
    for split, n in (("train", 60), ("dev", 20), ("test", 30)):
        lines = []
        for _ in range(n):
            label = str(rng.choice(["pos", "neg"]))
            other = "neg" if label == "pos" else "pos"
            text = f"{rng.choice(words[label])} film {rng.choice(words[other])} {rng.choice(words[other])}"
            lines.append(f"{text}\t{label}")
        (tmp_path / f"{split}.txt").write_text("\n".join(lines) + "\n")
    run = train_run(tmp_path / "run", "--data", f"text:{tmp_path}", "--model", "bow", "--epochs", "1")
    index = _index(run)
    assert "confused_pairs" in index and "prediction_grid" not in index
    pairs = index["confused_pairs"]["data"]["pairs"]
    for pair in pairs:
        for example in pair["examples"]:
            assert "film" in example and example.endswith(f"| {pair['true']}")  # the text, not FILE:LINE
    assert all("film" in row["name"] for row in index["top_losses"]["data"]["rows"])
