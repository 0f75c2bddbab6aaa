"""evaluate on other data than the run's: the model's own fitted encoders are applied, never refitted."""

from __future__ import annotations

import numpy as np
import pandas as pd

import kindling
from kindling.evaluate.evaluation import evaluate
from kindling_testing import train_run


def test_evaluate_on_another_table_uses_the_models_encoders(tmp_path):
    rng = np.random.default_rng(0)
    n = 240
    frame = pd.DataFrame(
        {
            "size": rng.normal(10, 3, n),
            "colour": rng.choice(["red", "green", "blue"], n),
            "weight": rng.normal(5, 1, n),
        }
    )
    frame["kind"] = np.where(frame["size"] + (frame["colour"] == "red") * 4 > 11, "big", "small")
    frame.to_csv(tmp_path / "train.csv", index=False)
    # new data where one category is missing: refitting a one-hot encoder here would give fewer features
    other = frame[frame["colour"] != "blue"].sample(frac=1.0, random_state=1)
    other.to_csv(tmp_path / "other.csv", index=False)
    run = train_run(
        tmp_path / "run",
        "--data",
        f"csv:{tmp_path / 'train.csv'}",
        "--target",
        "kind",
        "--model",
        "mlp",
        "--epochs",
        "2",
        "--set",
        "train.logger=none",
    )
    own = evaluate(run, "test")
    assert own["n"] > 0
    spec = f"csv:{tmp_path / 'other.csv'}"
    moved = {split: evaluate(run, split, spec) for split in ("train", "val", "test")}
    assert set(moved["test"]["per_class_accuracy"]) == {"big", "small"}
    # the three splits of the other file hold each of its rows once; their correct answers are the
    # model's own predictions for those rows, encoded by the Bundle's encoders (kindling.load)
    assert sum(m["n"] for m in moved.values()) == len(other)
    correct = sum(round(m["accuracy"] * m["n"]) for m in moved.values())
    rows = other.drop(columns="kind").to_dict("records")
    predicted = [p["label_name"] for p in kindling.load(run).predict(rows)]
    assert correct == sum(p == k for p, k in zip(predicted, other["kind"]))
