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


def _strict_json(path):
    """The file parsed as strict JSON: NaN or Infinity in it fails the test."""
    import json

    def refuse(constant):
        raise AssertionError(f"{path.name} holds {constant}, which is not JSON")

    return json.loads(path.read_text(encoding="utf-8"), parse_constant=refuse)


def test_the_cli_and_the_api_write_the_same_metrics_file(digits_run, tmp_path, capsys):
    """metrics_<split>.json has one writer (kindling.evaluate.evaluation.write_metrics): `kindling evaluate`
    and `kindling.load(...)`'s Run.evaluate write the same bytes for the same run."""
    import shutil

    from kindling.cli.main import main

    run = shutil.copytree(digits_run, tmp_path / "run")  # the shared run stays as it is
    written = run / "metrics_test.json"
    assert main(["evaluate", str(run), "--json"]) == 0
    by_cli = written.read_bytes()
    written.unlink()
    result = kindling.Run(run).evaluate()
    assert written.read_bytes() == by_cli
    assert _strict_json(written) == result and "accuracy" in result


def test_a_nan_metric_is_written_as_null_by_both(digits_run, tmp_path, monkeypatch, capsys):
    import json
    import shutil

    import kindling.evaluate.evaluation as evaluation
    from kindling.cli.main import main

    run = shutil.copytree(digits_run, tmp_path / "run")
    real = evaluation.evaluate

    def overflowing(*args, **kwargs):
        return {**real(*args, **kwargs), "loss": float("nan")}

    monkeypatch.setattr(evaluation, "evaluate", overflowing)
    written = run / "metrics_val.json"
    assert main(["evaluate", str(run), "--split", "val", "--json"]) == 0
    printed = json.loads(capsys.readouterr().out)
    by_cli = written.read_bytes()
    saved = _strict_json(written)
    assert saved["loss"] is None and "not finite" in saved["error"]
    assert printed["loss"] is None and printed["error"] == saved["error"]
    written.unlink()
    kindling.Run(run).evaluate(split="val")
    assert written.read_bytes() == by_cli


def test_write_metrics_nulls_every_non_finite_value(tmp_path):
    from kindling.evaluate.evaluation import write_metrics

    metrics = {"split": "test", "loss": float("inf"), "per_class": [{"f1": float("nan")}, {"f1": 0.5}]}
    returned = write_metrics(tmp_path, "test", metrics, tta=True)
    saved = _strict_json(tmp_path / "metrics_test_tta.json")
    assert saved == returned
    assert saved["loss"] is None and saved["per_class"] == [{"f1": None}, {"f1": 0.5}]
    assert "error" in saved and metrics["loss"] == float("inf")  # the caller's dict is left as it was
    assert not list(tmp_path.glob(".*.tmp"))  # written atomically: no temporary file left behind
