"""The classical baseline: fitted on the run's own train split, scored on the split evaluate reports."""

from __future__ import annotations

import contextlib
import io
import json
import shutil

import numpy as np
import pytest
import torch

from kindling import data
from kindling.config.schema import DataConfig
from kindling.data import DataModule
from kindling.data.memory import Split
from kindling.evaluate.baseline import BaselineSkipped, compare_line, fit_baseline
from kindling.evaluate.baseline_run import budget_for
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


def test_images_also_try_a_linear_probe_on_the_networks_features():
    from kindling.evaluate.baseline import NETWORK_FEATURES, _arrays, _probe_arrays
    from kindling.models import registry

    digits = build("digits")
    network = registry.build("photo-cnn", digits.signature, {"width": 4}).eval()  # averages two views
    result = fit_baseline(digits, network=network)
    assert set(result["tried_on_val"]) == {"logistic regression on pixels", NETWORK_FEATURES}
    assert result["model"] in result["tried_on_val"] and result["accuracy"] > 0.8
    arrays = _arrays(digits, digits.signature, 10**6)
    probe = _probe_arrays(network, digits.signature, arrays, deadline=float("inf"))
    width = network.classifier[-1].in_features  # the input of the last linear layer
    assert probe.x_train.shape == (len(digits.train), width) and probe.x_eval.shape[1] == width
    assert _probe_arrays(network, digits.signature, arrays, deadline=0.0) is None  # no time left: skipped
    without = fit_baseline(digits, network=network, budget_s=0.0)  # the pixels are fitted first, always
    assert list(without["tried_on_val"]) == ["logistic regression on pixels"]


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
    probe = {"model": "logistic regression on the network's features", "split": "test", "accuracy": 0.9}
    assert "its last layer lags" in compare_line({"accuracy": 0.8}, probe)
    # within the evaluation split's noise (one standard error: 0.0030 for 0.996 on 450) it is no win
    close = {"model": "gradient boosting", "split": "test", "accuracy": 0.998}
    assert "wins" not in compare_line({"accuracy": 0.996, "n": 450}, close)
    assert "the baseline wins" in compare_line({"accuracy": 0.990, "n": 450}, close)
    reg = {"model": "ridge regression", "split": "test", "mae": 4.0}
    assert "the baseline wins" in compare_line({"mae": 5.0}, reg)
    assert "--model linear" in compare_line({"mae": 5.0}, reg)  # advice the user can follow in kindling
    assert "baseline itself" not in compare_line({"mae": 5.0}, {**reg, "model": "gradient boosting"})


def test_a_regression_baseline_wins_only_beyond_the_noise_of_the_networks_errors():
    """Issue 26: 4.12 against 4.14 degrees on 87 test days is no win. One standard error of the mean
    absolute error is the spread of |error| over sqrt(n): sqrt(RMSE^2 - MAE^2) / sqrt(n)."""
    rng = np.random.default_rng(0)
    errors = rng.normal(0.0, 5.0, size=87)  # a network's errors on 87 days: MAE near 4
    net = {"mae": float(np.abs(errors).mean()), "rmse": float(np.sqrt((errors**2).mean())), "n": 87}
    se = float(np.abs(errors).std() / np.sqrt(87))
    boosting = {"model": "gradient boosting", "split": "test"}
    assert "wins" not in compare_line(net, {**boosting, "mae": net["mae"] - 0.02})
    assert "wins" not in compare_line(net, {**boosting, "mae": net["mae"] - 0.9 * se})
    line = compare_line(net, {**boosting, "mae": net["mae"] - 1.1 * se})
    assert "the baseline wins" in line and "--set model.options.hidden" in line
    assert "wins" not in compare_line(net, {**boosting, "mae": net["mae"] + 0.5})


# ---------------------------------------------------------------- wired into a run


def _train(run_dir, *args: str) -> tuple[int, list[str]]:
    """The real CLI in-process; -> (exit code, the lines it printed on stdout)."""
    from kindling.cli.main import main

    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        rc = main(["train", "--run-dir", str(run_dir), "--threads", "1", "--epochs", "1", *args])
    return rc, [line for line in out.getvalue().splitlines() if line.strip()]


def _cli(*args: str) -> tuple[int, str]:
    from kindling.cli.main import main

    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        rc = main(list(args))
    return rc, out.getvalue()


@pytest.fixture(scope="module")
def wine_run(tmp_path_factory):
    run = tmp_path_factory.mktemp("baseline") / "wine"
    rc, lines = _train(run, "--data", "wine")
    assert rc == 0
    return run, lines


def test_a_run_ends_with_the_baseline_beside_the_network(wine_run):
    run, lines = wine_run
    saved = json.loads((run / "baseline.json").read_text())
    assert saved["split"] == "test" and saved["model"] in ("gradient boosting", "logistic regression")
    network = json.loads((run / "plots" / "report.json").read_text())["evaluation"]
    assert lines[-1] == compare_line(network, saved)  # the run's last line, against the same evaluation
    assert lines[-1].startswith(f"baseline ({saved['model']}) accuracy {saved['accuracy']:.4f} vs")


def test_evaluate_shows_the_baseline_in_its_table_and_json(wine_run):
    run, _ = wine_run
    saved = json.loads((run / "baseline.json").read_text())
    rc, out = _cli("evaluate", str(run), "--json")
    result = json.loads(out)
    assert rc == 0 and result["baseline"] == saved
    rc, out = _cli("evaluate", str(run))
    assert rc == 0 and out.splitlines()[-1] == compare_line(result, saved)
    rc, out = _cli("evaluate", str(run), "--split", "val", "--json")  # scored on test: not shown for val
    assert rc == 0 and "baseline" not in json.loads(out)


def test_the_baseline_command_fits_it_for_an_existing_run(wine_run, tmp_path):
    run = tmp_path / "wine"
    shutil.copytree(wine_run[0], run)
    (run / "baseline.json").unlink()
    rc, out = _cli("baseline", str(run), "--json")
    found = json.loads(out)
    assert rc == 0 and found["baseline"] == json.loads((run / "baseline.json").read_text())
    assert found["network"]["split"] == "test" and found["line"].startswith("baseline (")
    rc, out = _cli("baseline", str(run), "--budget", "0")
    assert rc == 2


def test_the_report_shows_the_network_and_the_baseline_side_by_side(wine_run, tmp_path):
    from kindling.report.html import write_report

    run = tmp_path / "wine"
    shutil.copytree(wine_run[0], run)
    saved = json.loads((run / "baseline.json").read_text())
    html = write_report(run).read_text()
    row = html.split('data-row="baseline"')[1].split("</tr>")[0]
    assert saved["model"] in row and f'data-key="baseline_accuracy" data-value="{saved["accuracy"]!r}"' in row
    assert 'data-row="network"' in html and "vs the network" in html


def test_baseline_none_skips_it(tmp_path):
    rc, lines = _train(tmp_path / "run", "--data", "wine", "--baseline", "none")
    assert rc == 0 and not (tmp_path / "run" / "baseline.json").exists()
    assert not any(line.startswith(("baseline", "note: no baseline")) for line in lines)


def test_a_single_class_in_train_is_one_line_and_the_run_goes_on(tmp_path, capsys):
    import numpy as np

    import kindling

    x = np.random.default_rng(0).normal(size=(40, 3)).astype("float32")
    run = kindling.fit(
        data=(x, np.zeros(40, dtype="int64")),
        val=(x, np.arange(40) % 2),
        epochs=1,
        threads=1,
        run_dir=str(tmp_path / "one"),
    )
    lines = capsys.readouterr().out.splitlines()
    assert lines[-1] == "note: no baseline: the train split holds a single class"
    assert (tmp_path / "one" / "best" / "model.safetensors").is_file()
    assert run.dir == (tmp_path / "one").resolve() and [r["epoch"] for r in run.history] == [1]
    assert not (tmp_path / "one" / "baseline.json").exists()
    rc, _ = _cli("baseline", str(tmp_path / "one"))  # objects of another process: cannot be rebuilt
    assert rc == 2
    assert "cannot be rebuilt" in capsys.readouterr().err


def test_a_text_matrix_over_the_memory_budget_is_skipped(tmp_path):
    path = write_sentiment_tsv(tmp_path / "s.tsv", rows=80)
    rc, lines = _train(tmp_path / "run", "--data", f"text:{path}", "--set", "data.memory_budget_mb=0")
    assert rc == 0 and (tmp_path / "run" / "best" / "model.safetensors").is_file()
    assert lines[-1].startswith("note: no baseline: its TF-IDF matrix over")
    assert "data.memory_budget_mb=0" in lines[-1]


def test_the_time_budget_follows_the_training_time():
    assert budget_for(1.0) == 5.0 and budget_for(30.0) == 15.0 and budget_for(3600.0) == 60.0
