"""The HTTP API as a client sees it: the seed's Flask contract, metadata, metrics, the page, tokens,
tables, and a model that is still loading. The digits server is `kindling serve` in a subprocess."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests
from serve_helpers import ThreadServer, start_server, stop_server


def test_predict_answers_the_seed_flask_contract(server, digit_image, digits_run):
    from kindling.predict.predictor import Predictor

    png, label = digit_image
    r = requests.post(server.url + "/predict", files={"image": ("seven.png", png, "image/png")})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["success"] is True
    assert len(body["predictions"]) == 3  # top-3 by default, as the seed's server
    assert all({"label", "label_name", "probability"} <= set(p) for p in body["predictions"])
    probs = [p["probability"] for p in body["predictions"]]
    assert probs == sorted(probs, reverse=True) and 0 < sum(probs) <= 1 + 1e-6
    assert body["label_name"] == str(label) and body["model"] == "digits-cnn"
    assert body["top_k"] == 3 and body["latency_ms"] > 0
    local = Predictor.load(digits_run).predict_files([_write(digits_run.parent / "seven.png", png)])[0]
    assert body["label"] == local["label"]
    assert body["probability"] == pytest.approx(local["probability"], abs=1e-5)


def _write(path, data):
    path.write_bytes(data)
    return path


def test_file_field_and_top_k_query(server, digit_image):
    r = requests.post(server.url + "/predict?top_k=5", files={"file": ("x.png", digit_image[0])})
    assert r.status_code == 200 and len(r.json()["predictions"]) == 5 and r.json()["top_k"] == 5
    r = requests.post(server.url + "/predict?top_k=0", files={"image": ("x.png", digit_image[0])})
    assert r.status_code == 422 and "top_k" in r.json()["error"]


def test_a_request_without_an_image_is_400_with_success_false(server):
    r = requests.post(server.url + "/predict", files={"photo": ("x.png", b"abc")})
    assert r.status_code == 400
    assert r.json()["success"] is False and "image" in r.json()["error"]


def test_health_and_metadata(server):
    assert requests.get(server.url + "/health").json() == {
        "success": True,
        "status": "ok",
        "model": "digits-cnn",
    }
    meta = requests.get(server.url + "/metadata").json()
    assert meta["task"] == "classification" and meta["input_kind"] == "image"
    assert meta["input_shape"] == [1, 8, 8] and meta["class_names"] == [str(i) for i in range(10)]
    assert "val" in meta["metrics"] and {"kindling", "torch", "python"} <= set(meta["versions"])
    assert meta["limits"]["max_upload_mb"] == 2 and meta["batching"]["max_batch"] == 32


def test_concurrent_requests_share_forward_passes(server, digit_image):
    def metric(text: str, name: str) -> float:
        return float(next(line.split()[-1] for line in text.splitlines() if line.startswith(name + " ")))

    before = requests.get(server.url + "/metrics").text
    barrier = threading.Barrier(16)

    def one(_):
        barrier.wait()
        return requests.post(server.url + "/predict", files={"image": ("x.png", digit_image[0])}).status_code

    with ThreadPoolExecutor(16) as pool:
        assert list(pool.map(one, range(16))) == [200] * 16
    after = requests.get(server.url + "/metrics").text
    samples = metric(after, "kindling_batch_size_sum") - metric(before, "kindling_batch_size_sum")
    passes = metric(after, "kindling_batch_size_count") - metric(before, "kindling_batch_size_count")
    # every request went through the batcher exactly once; that queued requests share one forward pass is
    # shown without timing in tests/serve/test_fastpath.py (how often they do under load: bench_serve)
    assert samples == 16 and 1 <= passes <= 16


def test_metrics_are_prometheus_text(server, digit_image):
    requests.post(server.url + "/predict", files={"image": ("x.png", digit_image[0])})
    r = requests.get(server.url + "/metrics")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/plain")
    text = r.text
    assert "# TYPE kindling_requests_total counter" in text
    assert 'kindling_requests_total{method="POST",path="/predict",status="200"}' in text
    buckets = [
        line for line in text.splitlines() if line.startswith("kindling_request_duration_seconds_bucket{")
    ]
    assert any('path="/predict"' in line and 'le="+Inf"' in line for line in buckets)  # labels in any order
    assert "# TYPE kindling_batch_size histogram" in text


def test_page_and_static_files_are_served(server):
    page = requests.get(server.url + "/")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert '<input id="file" type="file"' in page.text and "/static/app.js" in page.text
    assert "http://" not in page.text and "https://" not in page.text  # no external network
    js = requests.get(server.url + "/static/app.js")
    assert js.status_code == 200 and "fetch(`/predict" in js.text
    assert requests.get(server.url + "/static/../app.py").status_code == 404


def test_unknown_paths_and_methods_answer_json(server):
    r = requests.get(server.url + "/nope")
    assert r.status_code == 404 and r.json()["success"] is False
    r = requests.get(server.url + "/predict")
    assert r.status_code == 405 and r.json()["success"] is False


def test_bearer_token(digits_run, digit_image):
    srv = start_server(digits_run, "--token", "s3cret", "--max-batch", "1", "--workers", "1")
    try:
        files = {"image": ("x.png", digit_image[0])}
        r = requests.post(srv.url + "/predict", files=files)
        assert r.status_code == 401 and r.json()["success"] is False
        assert r.headers["www-authenticate"] == "Bearer"
        wrong = requests.post(srv.url + "/predict", files=files, headers={"Authorization": "Bearer nope"})
        assert wrong.status_code == 401
        ok = requests.post(srv.url + "/predict", files=files, headers={"Authorization": "Bearer s3cret"})
        assert ok.status_code == 200 and ok.json()["success"] is True
        assert requests.get(srv.url + "/metadata").status_code == 401
        assert requests.get(srv.url + "/metrics").status_code == 401
        assert requests.get(srv.url + "/health").status_code == 200  # probes need no token
        assert requests.get(srv.url + "/").status_code == 200  # the page asks for the token itself
    finally:
        stop_server(srv)


def test_table_rows_as_json(wine_server):
    from sklearn.datasets import load_wine

    frame = load_wine(as_frame=True).frame
    rows = frame.drop(columns="target").head(3).to_dict("records")
    r = requests.post(wine_server.url + "/predict?top_k=2", json={"rows": rows})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["success"] is True and len(body["results"]) == 3
    assert all(len(res["predictions"]) == 2 for res in body["results"])
    assert {res["label_name"] for res in body["results"]} <= {"class_0", "class_1", "class_2"}
    meta = requests.get(wine_server.url + "/metadata").json()
    assert meta["input_kind"] == "tabular" and [c["name"] for c in meta["columns"]] == list(
        frame.columns[:-1]
    )


def test_a_request_while_the_model_loads_is_503_json(digits_run, digit_image):
    from kindling.predict.predictor import Predictor
    from kindling.serve.app import create_app

    gate = threading.Event()

    def slow_loader():
        gate.wait(30)
        return Predictor.load(digits_run)

    with ThreadServer(create_app(digits_run, loader=slow_loader, threads=1)) as srv:
        files = {"image": ("x.png", digit_image[0])}
        health = requests.get(srv.url + "/health")
        assert health.status_code == 503 and health.json()["status"] == "loading"
        busy = requests.post(srv.url + "/predict", files=files)
        assert (
            busy.status_code == 503 and busy.json()["success"] is False and "loading" in busy.json()["error"]
        )
        assert busy.headers["retry-after"] == "1"
        gate.set()
        for _ in range(100):
            if requests.get(srv.url + "/health").status_code == 200:
                break
            threading.Event().wait(0.1)
        assert requests.post(srv.url + "/predict", files=files).status_code == 200


def test_a_model_that_fails_to_load_is_reported(digits_run):
    from kindling.errors import UserError
    from kindling.serve.app import create_app

    def broken():
        raise UserError("weights are damaged")

    with ThreadServer(create_app(digits_run, loader=broken, threads=1)) as srv:
        for _ in range(50):
            health = requests.get(srv.url + "/health")
            if health.json()["status"] != "loading":
                break
            threading.Event().wait(0.1)
        assert health.status_code == 503 and "damaged" in health.json()["error"]
        r = requests.post(srv.url + "/predict", json={"rows": []})
        assert r.status_code == 503 and "damaged" in r.json()["error"]


def test_texts_as_json(text_server):
    r = requests.post(
        text_server.url + "/predict?top_k=1", json={"texts": ["a great happy film", "awful sad"]}
    )
    assert r.status_code == 200, r.text
    results = r.json()["results"]
    assert len(results) == 2 and all(len(res["predictions"]) == 1 for res in results)
    assert {res["label_name"] for res in results} <= {"pos", "neg"}
    meta = requests.get(text_server.url + "/metadata").json()
    assert meta["input_kind"] == "text" and sorted(meta["class_names"]) == ["neg", "pos"]
