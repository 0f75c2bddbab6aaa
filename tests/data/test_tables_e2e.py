"""End to end on a small CSV: train in-process (2 epochs), evaluate, plots, predictions as a table."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from kindling.cli.main import main
from kindling.data.tables.synth import temps_frame
from kindling_testing import train_run

RECIPE = Path(__file__).resolve().parents[2] / "recipes" / "temps-mlp.yaml"


@pytest.fixture(scope="module")
def temps_run(tmp_path_factory):
    folder = tmp_path_factory.mktemp("tables_e2e")
    csv = folder / "temps.csv"
    temps_frame(days=200, seed=11).to_csv(csv, index=False)
    run = folder / "runs" / "temps"
    rc = main(
        [
            "train",
            str(RECIPE),
            "--data",
            f"csv:{csv}",
            "--epochs",
            "2",
            "--threads",
            "1",
            "--run-dir",
            str(run),
        ]
    )
    assert rc == 0
    return run, csv


def test_training_writes_a_bundle_and_the_regression_plots(temps_run):
    run, _ = temps_run
    meta = json.loads((run / "best" / "bundle.json").read_text())
    sig = meta["signature"]
    assert sig["input_kind"] == "tabular" and sig["task"] == "regression"
    assert sig["extras"]["encoders"] and sig["extras"]["target"] == "actual"
    assert meta["model"]["options"]["activation"] == "sigmoid"
    for name in ("actual_vs_predicted.png", "residuals.png"):
        data = (run / "plots" / name).read_bytes()
        assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 5000


def test_evaluate_reports_regression_metrics_in_degrees(temps_run, capsys):
    run, _ = temps_run
    assert main(["evaluate", str(run), "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["n"] == 50 and {"mae", "rmse", "r2", "loss"} <= set(result)
    assert 0 < result["mae"] < 30  # degrees F, not standardised units


def test_predictions_from_a_new_csv_match_the_bundle(temps_run, tmp_path):
    from kindling.data.tables import predict_frame, read_table
    from kindling.predict.predictor import Predictor

    run, _ = temps_run
    new = tmp_path / "new.csv"
    temps_frame(days=15, seed=12).drop(columns=["actual"]).to_csv(new, sep=";", index=False)
    predictor = Predictor.load(run)
    out = predict_frame(predictor, read_table(new))
    assert len(out) == 15 and "prediction" in out.columns and "temp_1" in out.columns
    assert out["prediction"].between(0, 130).all()


def test_classification_run_predicts_class_probabilities(tmp_path):
    from sklearn.datasets import load_wine

    from kindling.data.tables import predict_frame
    from kindling.predict.predictor import Predictor

    run = tmp_path / "runs" / "wine"
    train_run(run, "--data", "wine", "--model", "linear", "--epochs", "2")
    assert not (run / "plots" / "residuals.png").exists()  # regression plots only
    frame = load_wine(as_frame=True).frame.drop(columns="target").head(6)
    out = predict_frame(Predictor.load(run), frame)
    probs = out[["prob_class_0", "prob_class_1", "prob_class_2"]].to_numpy()
    np.testing.assert_allclose(probs.sum(1), 1.0, rtol=1e-5)
    assert set(out["prediction"]) <= {"class_0", "class_1", "class_2"}
    assert isinstance(out, pd.DataFrame) and list(out.columns[:13]) == list(frame.columns)
