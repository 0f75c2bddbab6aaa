"""The server's speed-ups keep its answers: the /predict fast path answers as the FastAPI route does, the
bytes.find multipart split agrees with python-multipart, the measured model layout keeps the predictions,
the micro-batcher batches what queued while the model was busy, and `--workers` defaults sensibly."""

from __future__ import annotations

import asyncio
import io
import threading
import time

import numpy as np
import pytest
import requests
from PIL import Image
from python_multipart.multipart import parse_options_header
from serve_helpers import png_bytes, start_server, stop_server

from kindling.serve.fastpath import PredictFastPath
from kindling.serve.limits import ApiError
from kindling.serve.multipart import parse_parts, split_parts


def encoded(files, data=None) -> tuple[bytes, bytes]:
    """A body as `requests` encodes it, and its boundary."""
    prepared = requests.Request("POST", "http://x/", files=files, data=data).prepare()
    return prepared.body, parse_options_header(prepared.headers["Content-Type"])[1][b"boundary"]


def as_tuples(parts) -> list[tuple]:
    return [(p.name, p.filename, bytes(p.data)) for p in parts]


@pytest.mark.parametrize(
    "files, data",
    [
        ({"image": ("x.png", b"\x89PNG\r\n--not-the-boundary\r\n\r\nbytes")}, None),
        ({"file": ('odd "name".png', b"")}, None),
        ({"image": (None, "a text field")}, None),
        ([(f"p{i}", (f"{i}.png", b"x" * i)) for i in range(5)], None),
        ({"image": ("x.png", b"data")}, {"note": "v"}),
    ],
)
def test_the_fast_multipart_split_agrees_with_python_multipart(files, data):
    body, boundary = encoded(files, data)
    fast = split_parts(body, boundary)
    assert fast is not None and as_tuples(fast) == as_tuples(parse_parts(body, boundary))


@pytest.mark.parametrize(
    "body",
    [
        b"preamble\r\n--xyz\r\nContent-Disposition: form-data; name=image; filename=a\r\n\r\nabc\r\n--xyz--\r\n",
        b"--xyz\r\nContent-Disposition: form-data; name=image; filename=a\r\n\r\nabc",  # no close delimiter
        b"--xyz\r\n folded: header\r\n\r\nabc\r\n--xyz--\r\n",
        b"--xyz\r\nContent-Disposition: form-data; name=image\r\n--xyz\r\nA: b\r\n\r\nabc\r\n--xyz--\r\n",
    ],
)
def test_unusual_multipart_bodies_go_to_the_full_parser(body):
    assert split_parts(body, b"xyz") is None


def test_the_fast_split_keeps_the_part_limit():
    body, boundary = encoded([(f"p{i}", (f"{i}.png", b"x")) for i in range(40)])
    with pytest.raises(ApiError, match="too many parts"):
        split_parts(body, boundary)


@pytest.mark.parametrize(
    "query, top_k",
    [(b"", 3), (b"top_k=5", 5), (b"top_k=1000", 1000), (b"top_k=0", None), (b"top_k=1001", None),
     (b"top_k=-1", None), (b"top_k=5&x=1", None), (b"k=5", None), (b"top_k=", None)],
)  # fmt: skip
def test_the_fast_path_takes_only_requests_it_answers_like_the_route(query, top_k):
    fast = PredictFastPath(app=None, answer=None, default_top_k=3)
    scope = {
        "type": "http",
        "path": "/predict",
        "method": "POST",
        "query_string": query,
        "headers": [(b"content-type", b"multipart/form-data; boundary=x")],
    }
    assert fast._plain(scope) == top_k
    assert fast._plain({**scope, "headers": [(b"content-type", b"application/json")]}) is None
    assert fast._plain({**scope, "method": "GET"}) is None


def test_fast_path_and_route_give_the_same_answer(server, digit_image):
    files = {"image": ("x.png", digit_image[0])}
    fast = requests.post(server.url + "/predict?top_k=4", files=files)  # the fast path
    routed = requests.post(server.url + "/predict?top_k=4&via=route", files=files)  # unknown query: the route
    assert fast.status_code == routed.status_code == 200
    a, b = fast.json(), routed.json()
    assert a.pop("latency_ms") > 0 and b.pop("latency_ms") > 0
    assert a == b and len(a["predictions"]) == 4
    for path in ("/predict", "/predict?via=route"):  # errors are the same JSON on both paths
        r = requests.post(server.url + path, files={"photo": ("x.png", b"abc")})
        assert r.status_code == 400 and r.json()["success"] is False and "image" in r.json()["error"]


def test_an_image_too_big_to_decode_inline_is_decoded_on_a_thread(server, digits_run, digit_image):
    from kindling.predict.predictor import Predictor

    small = Image.open(io.BytesIO(digit_image[0]))
    big = png_bytes(small.resize((400, 400), Image.NEAREST))  # 160k pixels: over the inline limit
    r = requests.post(server.url + "/predict", files={"image": ("big.png", big)})
    assert r.status_code == 200, r.text
    local = Predictor.load(digits_run)
    expected = local.predict_samples([local.load_image_bytes(big, "big.png")], 3)[0]
    assert r.json()["label"] == expected["label"]


def test_the_measured_layout_keeps_the_predictions(tmp_path):
    import torch

    from kindling.bundle.files import load_bundle, save_bundle
    from kindling.data.signature import Signature
    from kindling.models import build
    from kindling.predict.predictor import Predictor
    from kindling.serve.tuning import tune

    torch.manual_seed(0)
    sig = Signature("classification", "image", [3, 32, 32], list("abcdefghij"), [0.5] * 3, [0.25] * 3)
    save_bundle(
        tmp_path / "best", build("lenet", sig, {}).eval(), {"name": "lenet", "options": {}}, sig, {}, {}
    )
    predictor = Predictor(load_bundle(tmp_path))
    images = np.random.default_rng(0).integers(0, 256, (8, 3, 32, 32), dtype=np.uint8)
    before = predictor.predict_batch(images, 3)
    threads, how = tune(predictor, 0, 8, workers=2)
    after = predictor.predict_batch(images, 3)
    assert threads == 1 and "layout" in how
    assert [r["label"] for r in after] == [r["label"] for r in before]
    assert np.allclose([r["probability"] for r in after], [r["probability"] for r in before], atol=1e-5)


def test_requests_that_queue_while_the_model_runs_share_the_next_batch():
    from kindling.serve.batching import MicroBatcher

    gate, sizes = threading.Event(), []

    def predict(samples, top_k):
        sizes.append(len(samples))
        if len(sizes) == 1:
            gate.wait(10)  # the first batch holds the model while more requests arrive
        return [{"value": s} for s in samples]

    async def scenario():
        batcher = MicroBatcher(predict, max_batch=32, max_wait_ms=0)
        batcher.start()
        first = asyncio.ensure_future(batcher.submit([0]))
        while not sizes:
            await asyncio.sleep(0.001)
        rest = [asyncio.ensure_future(batcher.submit([i])) for i in range(1, 6)]
        for _ in range(10_000):  # until all five queued behind the busy model: no time window
            if batcher.queue.qsize() == 5:
                break
            await asyncio.sleep(0.001)
        gate.set()
        results = await asyncio.gather(first, *rest)
        await batcher.stop()
        return results

    results = asyncio.run(scenario())
    assert sizes == [1, 5]  # a lone request ran at once; the five that queued ran as one batch
    assert [r[0]["value"] for r in results] == [0, 1, 2, 3, 4, 5]


def test_workers_default_to_two_on_a_multicore_machine_for_a_small_model(digits_run, digit_image):
    from kindling.util.envinfo import usable_cores

    srv = start_server(digits_run)
    try:
        deadline = time.time() + 60
        while True:  # /health answered by one worker; the other may still be loading (503, by design)
            r = requests.post(srv.url + "/predict", files={"image": ("x.png", digit_image[0])})
            if r.status_code != 503 or time.time() > deadline:
                break
            time.sleep(0.2)
        assert r.status_code == 200 and r.json()["success"] is True
        meta = requests.get(srv.url + "/metadata")
        while meta.status_code == 503 and time.time() < deadline:  # it reached the worker still loading
            time.sleep(0.2)
            meta = requests.get(srv.url + "/metadata")
        meta = meta.json()
        assert meta["batching"]["workers"] == (2 if usable_cores() >= 2 else 1)
        assert meta["batching"]["threads"] == 1  # one core each: the model does not crowd the event loop
    finally:
        stop_server(srv)
