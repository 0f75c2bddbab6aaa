"""The classical baseline: fitted on the run's own train split, scored on the split evaluate reports."""

from __future__ import annotations

import pytest
import torch

from kindling import data
from kindling.baseline import BaselineSkipped, compare_line, fit_baseline
from kindling.config import DataConfig
from kindling.data import DataModule
from kindling.data.memory import Split
from kindling_testing import write_sentiment_tsv


def build(spec: str, **options) -> DataModule:
    return data.build(DataConfig(name=spec, **options), quiet=True)


def test_a_table_gets_the_better_of_boosting_and_a_linear_model():
    result = fit_baseline(build("wine"))
    assert result["model"] in ("gradient boosting", "logistic regression")
    assert result["split"] == "test" and result["accuracy"] > 0.85


def test_regression_reports_evaluates_numbers():
    result = fit_baseline(build("diabetes"))
    assert {"mae", "rmse", "r2"} <= set(result) and 30 < result["mae"] < 70


def test_images_use_shrunk_pixels():
    result = fit_baseline(build("digits"))
    assert result["model"] == "logistic regression on pixels" and result["accuracy"] > 0.9


def test_text_uses_tfidf_over_the_runs_own_tokens(tmp_path):
    path = write_sentiment_tsv(tmp_path / "s.tsv", rows=120)
    result = fit_baseline(build(f"text:{path}"))
    assert result["model"].startswith("TF-IDF + linear SVM") and result["accuracy"] > 0.9


def test_a_single_class_in_train_is_skipped_with_the_reason():
    one = Split(torch.zeros(10, 3), torch.zeros(10, dtype=torch.long))
    dm = build("wine")
    dm = DataModule(dm.signature, one, one, one)
    with pytest.raises(BaselineSkipped, match="single class"):
        fit_baseline(dm)


def test_the_compare_line_says_when_the_baseline_wins():
    base = {"model": "gradient boosting", "split": "test", "accuracy": 0.9}
    assert "the baseline wins" in compare_line({"accuracy": 0.8}, base)
    assert "wins" not in compare_line({"accuracy": 0.95}, base)
    reg = {"model": "ridge regression", "split": "test", "mae": 4.0}
    assert "the baseline wins" in compare_line({"mae": 5.0}, reg)
