"""Imbalanced classes end to end, on real data (digits' pixels as a table: "is it a nine?", the nines kept
at 40%, 4% of the rows): `--class-weights auto --sampler balanced --threshold auto` through the CLI and
`kindling.fit`; the threshold chosen on val kept in the Bundle and used by `kindling evaluate`,
`kindling predict`, `kindling serve` (one real request), `kindling.load(...).predict`, the report, the
data doctor, and the exported ONNX file."""

from __future__ import annotations

import contextlib
import io
import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import requests
from sklearn import metrics as skm

import kindling
from kindling.cli.main import main
from kindling.errors import UserError

FLAGS = ["--class-weights", "auto", "--sampler", "balanced", "--threshold", "auto"]


def _nines(keep: float = 0.4, seed: int = 0):
    """(pixels, "yes"/"no"): digits, with only `keep` of the nines (seeded)."""
    from sklearn.datasets import load_digits

    x, y = load_digits(return_X_y=True)
    kept = (y != 9) | (np.random.default_rng(seed).random(len(y)) < keep)
    return x[kept], np.where(y[kept] == 9, "yes", "no")


def _csv(path: Path, x, labels) -> Path:
    header = ",".join([f"p{i}" for i in range(x.shape[1])] + ["nine"])
    rows = [",".join([*map(str, map(int, row)), label]) for row, label in zip(x, labels)]
    path.write_text(header + "\n" + "\n".join(rows) + "\n")
    return path


def _cli(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        rc = main([str(a) for a in argv])
    return rc, out.getvalue(), err.getvalue()


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """One CLI run with every imbalance flag; (run dir, the data CSV, what training printed)."""
    folder = tmp_path_factory.mktemp("imbalance")
    data = _csv(folder / "nines.csv", *_nines())
    argv = [
        "train",
        "--run-dir",
        folder / "run",
        "--data",
        f"csv:{data}",
        "--target",
        "nine",
        "--model",
        "mlp",
    ]
    rc, out, err = _cli(
        *argv, "--epochs", "4", "--threads", "1", "--logger", "csv", "--baseline", "none", *FLAGS
    )
    assert rc == 0, err
    return folder / "run", data, out


def _probabilities(run: Path, rows: list[dict]) -> np.ndarray:
    """p(yes) of each row from the Bundle's model, whatever its decision (top_k holds both classes)."""
    results = kindling.load(run).predict(rows, top_k=2)
    return np.array([next(t["probability"] for t in r["top_k"] if t["label_name"] == "yes") for r in results])


def _split_rows(run: Path, split: str) -> tuple[list[dict], np.ndarray]:
    """The raw rows of one split of the run's data, as the table source split them, and their labels."""
    from kindling.bundle.rundir import load_saved_config
    from kindling.data.tables.source import load_frames

    frame = load_frames(load_saved_config(run).data).part(split)
    return frame.drop(columns="nine").to_dict("records"), (frame["nine"].to_numpy() == "yes").astype(int)


def test_training_weighs_samples_chooses_a_threshold_on_val_and_says_so(trained):
    run, _, out = trained
    assert "class weights (auto: inverse square-root frequency): no 0.857, yes 3.69" in out  # 1092 and 58
    assert "chosen on val: balanced accuracy" in out and "kept in the Bundle" in out
    assert (
        "note: the smallest class (yes, 58 train samples) has under a tenth of the largest's (no, 1,092)"
        in out
    )
    assert "at argmax," in out and "at the threshold" in out
    assert "trained with --class-weights auto --sampler balanced --threshold auto" in out
    meta = json.loads((run / "best" / "bundle.json").read_text())
    assert meta["imbalance"]["sampler"] == "balanced" and meta["imbalance"]["class_weights"]["yes"] > 2
    assert "balanced_accuracy" in meta["metrics"]["val"] and "macro_f1" in meta["metrics"]["val"]
    # the threshold is the one that maximises balanced accuracy on the run's own val split
    rows, truth = _split_rows(run, "val")
    from kindling.task.threshold import choose_threshold

    threshold, score = choose_threshold(_probabilities(run, rows), truth)
    assert meta["decision"]["threshold"] == pytest.approx(threshold, abs=1e-6)
    assert meta["decision"]["positive"] == "yes" and meta["decision"][
        "val_balanced_accuracy"
    ] == pytest.approx(score)


def test_evaluate_reports_the_imbalance_metrics_at_the_bundles_threshold(trained):
    run, _, _ = trained
    rc, out, err = _cli("evaluate", run, "--json")
    assert rc == 0, err
    result = json.loads(out)
    rows, truth = _split_rows(run, "test")
    p_yes = _probabilities(run, rows)
    pred = (p_yes >= result["threshold"]).astype(int)
    assert result["balanced_accuracy"] == pytest.approx(skm.balanced_accuracy_score(truth, pred))
    assert result["macro_f1"] == pytest.approx(skm.f1_score(truth, pred, average="macro"))
    assert result["roc_auc"] == pytest.approx(skm.roc_auc_score(truth, p_yes), abs=1e-6)
    assert result["pr_auc"] == pytest.approx(skm.average_precision_score(truth, p_yes), abs=1e-6)
    assert result["report"]["yes"]["recall"] == pytest.approx(skm.recall_score(truth, pred))
    rc, table, _ = _cli("evaluate", run)
    assert "balanced-accuracy=" in table and "yes (positive) vs no: ROC-AUC" in table
    assert "decision: yes when its probability >=" in table


@pytest.fixture(scope="module")
def moved(trained, tmp_path_factory):
    """A copy of the run whose Bundle decides at the median p(yes) of the test rows, so that the threshold,
    not argmax, visibly decides about half of them; (run, the test rows, p(yes), the expected labels)."""
    from kindling.bundle.files import read_meta, update_meta

    run, _, _ = trained
    copy = tmp_path_factory.mktemp("moved") / "run"
    shutil.copytree(run, copy)
    rows, _ = _split_rows(run, "test")
    p_yes = _probabilities(run, rows)
    threshold = float(np.median(p_yes))
    decision = {**read_meta(copy / "best")["decision"], "threshold": threshold}
    update_meta(copy / "best", decision=decision)
    expected = np.where(p_yes >= threshold, "yes", "no")
    assert (expected != np.where(p_yes > 0.5, "yes", "no")).sum() > 10  # argmax would say otherwise
    return copy, rows, p_yes, expected


def test_predict_decides_with_the_bundles_threshold(moved, tmp_path):
    import pandas as pd

    run, rows, _, expected = moved
    table = tmp_path / "rows.csv"
    pd.DataFrame(rows).to_csv(table, index=False)
    rc, out, err = _cli("predict", run, table, "--json")
    assert rc == 0, err
    assert [r["label_name"] for r in json.loads(out)["predictions"]] == expected.tolist()
    rc, _, err = _cli("predict", run, table, "--output", tmp_path / "preds.csv")
    assert rc == 0, err
    assert pd.read_csv(tmp_path / "preds.csv")["prediction"].tolist() == expected.tolist()
    loaded = kindling.load(run).predict(rows[:20])
    assert [r["label_name"] for r in loaded] == expected[:20].tolist()


def test_serve_answers_with_the_bundles_threshold(moved):
    from serve.serve_helpers import start_server, stop_server

    run, rows, _, expected = moved
    server = start_server(run, "--workers", "1")
    try:
        answer = requests.post(server.url + "/predict", json={"rows": rows[:12]}, timeout=30).json()
        meta = requests.get(server.url + "/metadata", timeout=30).json()
    finally:
        stop_server(server)
    assert answer["success"] and [r["label_name"] for r in answer["results"]] == expected[:12].tolist()
    assert meta["decision"]["positive"] == "yes" and 0 < meta["decision"]["threshold"] < 1


def test_export_carries_the_threshold(moved, tmp_path):
    onnx = pytest.importorskip("onnx")
    run, _, _, _ = moved
    output = tmp_path / "model.onnx"
    rc, _, err = _cli("export", run, "--format", "onnx", "--output", output)
    assert rc == 0, err
    threshold = json.loads((run / "best" / "bundle.json").read_text())["decision"]["threshold"]
    props = {p.key: p.value for p in onnx.load(output).metadata_props}
    assert float(props["kindling.threshold"]) == threshold and props["kindling.positive_class"] == "yes"
    described = json.loads(output.with_name("model.onnx.json").read_text())["postprocess"]
    assert described["threshold"] == threshold and described["decision"].startswith("yes when")


def test_the_report_shows_the_metrics_and_the_decision(trained):
    run, _, _ = trained
    rc, _, err = _cli("report", run)
    assert rc == 0, err
    page = (run / "report.html").read_text()
    for key in ("balanced_accuracy", "roc_auc", "pr_auc"):
        assert f'data-key="test_{key}"' in page
    assert "Decision: <b>yes</b> when its probability is at least" in page
    assert "--class-weights auto or --sampler balanced and --threshold auto" in page  # the doctor's note


def test_the_data_doctor_names_the_flags(trained):
    _, data, _ = trained
    rc, out, _ = _cli("data", f"csv:{data}", "--set", "data.target=nine", "--json")
    assert rc == 0
    warning = next(w for w in json.loads(out)["warnings"] if "imbalanced" in w)
    assert "balanced accuracy and macro-F1" in warning
    assert "try --class-weights auto or --sampler balanced and --threshold auto" in warning


def test_kindling_fit_takes_the_same_keywords(tmp_path):
    x, labels = _nines()
    y = (labels == "yes").astype(np.int64)
    cut = int(len(y) * 0.7)
    run = kindling.fit(
        data=(x[:cut].astype(np.float32), y[:cut]),
        val=(x[cut:].astype(np.float32), y[cut:]),
        model="mlp",
        epochs=3,
        threads=1,
        logger="none",
        baseline="none",
        run_dir=str(tmp_path / "fit"),
        class_weights="auto",
        sampler="balanced",
        threshold="auto",
    )
    threshold = json.loads((run.dir / "best" / "bundle.json").read_text())["decision"]["threshold"]
    assert run.evaluate("val")["threshold"] == threshold
    results = kindling.load(run.dir).predict(x[cut:].astype(np.float32), top_k=2)
    p_one = np.array([next(t["probability"] for t in r["top_k"] if t["label"] == 1) for r in results])
    assert [r["label"] for r in results] == (p_one >= threshold).astype(int).tolist()
    with pytest.raises(UserError, match="applies to two-class problems, and this data has 3 classes"):
        kindling.fit(data=(x[:60].astype(np.float32), np.arange(60) % 3), threshold=0.4, epochs=1)
    with pytest.raises(UserError, match=r"train.threshold = 1.5 is out of range: it must be none \| auto or"):
        kindling.fit(data=(x[:60].astype(np.float32), y[:60]), threshold=1.5, epochs=1)
