"""`/metadata` speaks evaluate's names and carries the run's test metrics; answers never claim more
classes than the model has (issue 24 §5)."""

from __future__ import annotations

import json

import requests


def test_metadata_names_metrics_as_evaluate_does_and_holds_the_test_metrics(wine_server, wine_run):
    meta = requests.get(wine_server.url + "/metadata").json()
    val, test = meta["metrics"]["val"], meta["metrics"]["test"]
    assert "accuracy" in val and "acc" not in val  # `kindling evaluate` says accuracy
    saved = json.loads((wine_run / "plots" / "report.json").read_text())["evaluation"]
    assert saved["split"] == "test"
    assert test["accuracy"] == saved["accuracy"] and test["macro_f1"] == saved["macro_f1"]


def test_metadata_prefers_what_kindling_evaluate_wrote(wine_server, wine_run, tmp_path):
    from kindling.cli.main import main

    assert main(["evaluate", str(wine_run)]) == 0  # writes RUN/metrics_test.json
    written = json.loads((wine_run / "metrics_test.json").read_text())
    meta = requests.get(wine_server.url + "/metadata").json()
    assert meta["metrics"]["test"]["accuracy"] == written["accuracy"]


def test_answers_cap_top_k_at_the_number_of_classes(wine_server):
    columns = requests.get(wine_server.url + "/metadata").json()["columns"]
    row = {column["name"]: 1.0 for column in columns}
    r = requests.post(wine_server.url + "/predict?top_k=5", json={"rows": [row]})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["top_k"] == 3 and len(body["results"][0]["predictions"]) == 3  # wine has 3 classes
