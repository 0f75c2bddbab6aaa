"""Multi-label classification end to end, on real data: scikit-learn's digits with three labels each
("even", "ge5": five or more, "loop": 0, 6, 8 or 9 have a closed loop), through the CLI from a CSV of
image paths (written here as PNG files) and from a table of 0/1 label columns, and through
kindling.fit(data=(X, Y)). The network is checked against a one-vs-rest scikit-learn model on the same
split; then evaluate, predict, serve (one real request), export (onnxruntime equals PyTorch) and the report."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import requests
from PIL import Image
from sklearn.datasets import load_digits
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import f1_score
from sklearn.multiclass import OneVsRestClassifier

from kindling.cli.main import main
from kindling_testing import train_run

LABELS = ["even", "ge5", "loop"]
LOOPS = {0, 6, 8, 9}


def digit_labels(y: np.ndarray) -> np.ndarray:
    """(N,) digits -> (N, 3) 0/1: even, five or more, has a loop."""
    return np.stack([y % 2 == 0, y >= 5, np.isin(y, list(LOOPS))], 1).astype(np.int64)


def write_image_csv(folder: Path) -> Path:
    """digits as 8x8 PNG files under folder/img/, and folder/labels.csv: path,tags (tags as a|b)."""
    digits = load_digits()
    (folder / "img").mkdir(parents=True)
    rows = []
    for i, (pixels, target) in enumerate(zip(digits.images, digits.target)):
        name = f"img/{i:04d}.png"
        Image.fromarray((pixels * 255 / 16).round().astype(np.uint8), "L").save(folder / name)
        tags = [n for n, v in zip(LABELS, digit_labels(np.array([target]))[0]) if v]
        rows.append({"path": name, "tags": "|".join(tags)})
    pd.DataFrame(rows).to_csv(folder / "labels.csv", index=False)
    return folder / "labels.csv"


def one_vs_rest_f1(train, test) -> float:
    """scikit-learn's one-vs-rest logistic regression on the same split's pixels: micro-F1 on test."""
    flat = [s.x.float().reshape(len(s), -1).numpy() / 255.0 for s in (train, test)]
    model = OneVsRestClassifier(LogisticRegression(max_iter=2000)).fit(flat[0], train.y.numpy())
    return float(f1_score(test.y.numpy(), model.predict(flat[1]), average="micro"))


def evaluate_json(run: Path, capsys) -> dict:
    capsys.readouterr()
    assert main(["evaluate", str(run), "--json"]) == 0
    return json.loads(capsys.readouterr().out)


@pytest.fixture(scope="module")
def image_run(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("multilabel")
    csv = write_image_csv(folder / "data")
    return train_run(
        folder / "run", "--data", f"csv:{csv}", "--target", "tags", "--epochs", "12", "--lr", "3e-3",
        "--batch-size", "64", "--seed", "0",
    )  # fmt: skip


def test_a_csv_of_image_paths_with_label_sets_trains_a_multilabel_image_model(image_run, capsys):
    bundle = json.loads((image_run / "best" / "bundle.json").read_text())
    sig = bundle["signature"]
    assert (
        sig["task"] == "multilabel" and sig["input_kind"] == "image" and sig["class_names"] == sorted(LABELS)
    )
    thresholds = bundle["metrics"]["thresholds"]
    assert len(thresholds) == 3 and all(0.05 <= t <= 0.95 for t in thresholds)
    result = evaluate_json(image_run, capsys)
    assert set(result["per_label"]) == set(LABELS)
    assert [result["per_label"][n]["threshold"] for n in sig["class_names"]] == thresholds
    for key in ("micro_f1", "macro_f1", "mAP", "subset_accuracy"):
        assert 0.0 <= result[key] <= 1.0
    assert result["micro_f1"] >= 0.9 and result["mAP"] >= 0.9  # three easy labels of clean digits


def test_the_network_is_comparable_to_one_vs_rest_logistic_regression_on_the_same_split(image_run, capsys):
    from kindling import data
    from kindling.bundle.rundir import load_saved_config

    dm = data.build(load_saved_config(image_run).data, quiet=True)
    baseline = one_vs_rest_f1(dm.train, dm.test)
    network = evaluate_json(image_run, capsys)["micro_f1"]
    assert network >= baseline - 0.03, (network, baseline)
    saved = json.loads((image_run / "baseline.json").read_text())  # the run's own baseline, one-vs-rest
    assert "one-vs-rest logistic regression on pixels" in saved["tried_on_val"]
    assert saved["split"] == "test" and 0.5 < saved["micro_f1"] <= 1.0


def test_predict_returns_every_label_over_its_threshold(image_run, tmp_path, capsys):
    folder = image_run.parent / "data"
    images = [str(folder / "img" / f"{i:04d}.png") for i in (0, 6, 7)]  # digits 0, 6, 7
    capsys.readouterr()
    assert main(["predict", str(image_run), *images, "--json", "--top-k", "2"]) == 0
    results = json.loads(capsys.readouterr().out)["predictions"]
    assert [sorted(r["labels"]) for r in results] == [["even", "loop"], ["even", "ge5", "loop"], ["ge5"]]
    for r in results:
        assert len(r["top_k"]) == 2
        assert all(p["probability"] > p["threshold"] for p in r["predictions"])
        assert [p["label_name"] for p in r["predictions"]] == r["labels"]
    out = tmp_path / "preds.csv"
    assert main(["predict", str(image_run), *images, "--output", str(out)]) == 0
    table = pd.read_csv(out)
    assert table["labels"].tolist()[2] == "ge5" and set(table["labels"][0].split("|")) == {"even", "loop"}


def test_serve_answers_the_seed_shape_with_the_labels_over_their_thresholds(image_run):
    from serve.serve_helpers import start_server, stop_server

    server = start_server(image_run)
    try:
        png = (image_run.parent / "data" / "img" / "0006.png").read_bytes()  # a 6
        r = requests.post(server.url + "/predict", files={"image": ("six.png", png, "image/png")})
        body = r.json()
        assert r.status_code == 200 and body["success"] is True
        assert sorted(body["labels"]) == ["even", "ge5", "loop"]
        assert [p["label_name"] for p in body["predictions"]] == body["labels"]  # the seed client's loop
        assert all(p["probability"] > p["threshold"] for p in body["predictions"])
        two = requests.post(server.url + "/predict?top_k=2", files={"image": ("six.png", png)}).json()
        assert two["top_k"] == 2 and len(two["top_labels"]) == 2 and two["labels"] == body["labels"]
        meta = requests.get(server.url + "/metadata").json()
        assert meta["task"] == "multilabel" and len(meta["metrics"]["thresholds"]) == 3
    finally:
        stop_server(server)


@pytest.mark.browser
def test_the_web_page_shows_every_label_over_its_threshold(image_run, browser, tmp_path):
    from serve.serve_helpers import start_server, stop_server

    server = start_server(image_run)
    try:
        page = browser.new_page()
        page.goto(server.url + "/")
        page.wait_for_selector("#image-input:not([hidden])")
        page.set_input_files("#file", str(image_run.parent / "data" / "img" / "0006.png"))  # a 6
        page.wait_for_selector("#result:not([hidden]) #bars li")
        assert sorted(page.text_content("#top-label").split(", ")) == ["even", "ge5", "loop"]
        assert len(page.query_selector_all("#bars li")) == 3  # the top 3 labels, as bars
        assert "3 labels" in page.text_content("#model-info")
        page.screenshot(path=str(tmp_path / "multilabel_page.png"), full_page=True)
    finally:
        stop_server(server)


def test_export_carries_the_thresholds_and_onnxruntime_equals_pytorch(image_run, tmp_path, capsys):
    out = tmp_path / "ml.onnx"
    capsys.readouterr()
    assert main(["export", str(image_run), "--format", "onnx", "--output", str(out), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["check"]["max_abs_diff"] < 1e-4 and "test split" in report["check"]["inputs"]
    described = json.loads((tmp_path / "ml.onnx.json").read_text())
    thresholds = json.loads((image_run / "best" / "bundle.json").read_text())["metrics"]["thresholds"]
    assert described["task"] == "multilabel"
    assert described["postprocess"]["to_probabilities"] == "sigmoid"
    assert list(described["postprocess"]["thresholds"].values()) == thresholds
    import onnx

    props = {p.key: p.value for p in onnx.load(str(out)).metadata_props}
    assert json.loads(props["kindling.thresholds"]) == dict(zip(sorted(LABELS), thresholds))


def test_the_report_shows_the_per_label_table_and_a_grid_of_label_sets(image_run, tmp_path):
    from kindling.report.html import write_report

    page = write_report(image_run, tmp_path / "report.html").read_text()
    assert 'id="per-label"' in page and 'data-label="loop"' in page and "micro_f1" in page
    index = json.loads((image_run / "plots" / "index.json").read_text())
    names = {p["name"]: p for p in index}
    assert {"per_label", "prediction_grid", "top_losses", "learning_curves"} <= set(names)
    sample = names["prediction_grid"]["data"]["samples"][0]
    assert set(sample) == {"true", "predicted", "correct"}


def test_a_csv_of_image_paths_with_one_class_each_trains_and_predicts(tmp_path, capsys):
    digits = load_digits()
    paths = []
    (tmp_path / "img").mkdir()
    for i in range(400):
        paths.append(f"img/{i}.png")
        Image.fromarray((digits.images[i] * 255 / 16).round().astype(np.uint8), "L").save(
            tmp_path / paths[-1]
        )
    pd.DataFrame({"file": paths, "digit": digits.target[:400]}).to_csv(tmp_path / "d.csv", index=False)
    run = train_run(
        tmp_path / "run", "--data", f"csv:{tmp_path / 'd.csv'}", "--target", "digit", "--epochs", "6"
    )
    sig = json.loads((run / "best" / "bundle.json").read_text())["signature"]
    assert (sig["task"], sig["input_kind"]) == ("classification", "image")
    capsys.readouterr()
    assert main(["predict", str(run), str(tmp_path / "img" / "0.png"), "--json"]) == 0
    (answer,) = json.loads(capsys.readouterr().out)["predictions"]
    assert answer["label_name"] == "0" and "labels" not in answer


def test_a_table_of_01_label_columns_through_the_cli(tmp_path, capsys):
    digits = load_digits()
    frame = pd.DataFrame(digits.data, columns=[f"p{i}" for i in range(64)])
    frame[LABELS] = digit_labels(digits.target)
    frame.to_csv(tmp_path / "table.csv", index=False)
    run = train_run(
        tmp_path / "run", "--data", f"csv:{tmp_path / 'table.csv'}", "--target", ",".join(LABELS),
        "--epochs", "30", "--seed", "0",
    )  # fmt: skip
    sig = json.loads((run / "best" / "bundle.json").read_text())["signature"]
    assert sig["task"] == "multilabel" and sig["input_kind"] == "tabular" and sig["class_names"] == LABELS
    result = evaluate_json(run, capsys)
    assert result["micro_f1"] >= 0.85
    rows = tmp_path / "rows.csv"
    frame.head(4).to_csv(rows, index=False)  # the label columns are there too: ignored
    out = tmp_path / "preds.csv"
    assert main(["predict", str(run), str(rows), "--output", str(out)]) == 0
    predicted = pd.read_csv(out, keep_default_na=False)
    truth = ["|".join(n for n, v in zip(LABELS, row) if v) for row in digit_labels(digits.target[:4])]
    assert (predicted["prediction"] == truth).mean() >= 0.75


def test_fit_takes_x_and_a_01_matrix(tmp_path):
    import kindling

    digits = load_digits()
    Y = pd.DataFrame(digit_labels(digits.target), columns=LABELS)
    run = kindling.fit(
        data=(digits.data.astype(np.float32), Y), epochs=30, run_dir=str(tmp_path / "run"), threads=1
    )
    result = run.evaluate("test")
    assert result["micro_f1"] >= 0.85 and set(result["per_label"]) == set(LABELS)
    model = kindling.load(run.dir)
    assert model.classes == LABELS and model.signature.task == "multilabel"
    answers = model.predict(digits.data[:3].astype(np.float32))
    assert [sorted(a["labels"]) for a in answers] == [["even", "loop"], [], ["even"]]  # 0, 1, 2
    assert run.report().is_file()


def test_a_multilabel_run_resumes_exactly_and_tunes_its_thresholds_again(tmp_path):
    import torch

    digits = load_digits()
    frame = pd.DataFrame(digits.data, columns=[f"p{i}" for i in range(64)])
    frame[LABELS] = digit_labels(digits.target)
    frame.to_csv(tmp_path / "t.csv", index=False)
    args = ["--data", f"csv:{tmp_path / 't.csv'}", "--target", ",".join(LABELS), "--deterministic"]
    args += ["--baseline", "none", "--logger", "none"]
    train_run(tmp_path / "cut", *args, "--epochs", "2")
    assert main(["train", "--resume", str(tmp_path / "cut"), "--epochs", "4"]) == 0
    train_run(tmp_path / "whole", *args, "--epochs", "4")
    cut, whole = (
        torch.load(tmp_path / n / "checkpoints" / "last.pt", weights_only=True) for n in ("cut", "whole")
    )
    assert all(torch.equal(cut["model"][k], whole["model"][k]) for k in whole["model"])
    metrics = [
        json.loads((tmp_path / n / "best" / "bundle.json").read_text())["metrics"] for n in ("cut", "whole")
    ]
    assert metrics[0]["thresholds"] == metrics[1]["thresholds"]
