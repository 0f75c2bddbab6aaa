"""Ready means ready (issue 21): with several workers, once /health has answered 200 every later request is
answered by a loaded model, never 503 "the model is still loading".

Before the fix a worker listened while it loaded, and the kernel handed connections to it as to the loaded
one: 2 of 6 starts answered /health 200, then 503 on /predict. A real `kindling serve` with 2 workers on
loopback is started 4 times; right after its first /health 200, 50 `/predict` requests, each on a new
connection (so the kernel may hand any of them to either worker), must all be 200. `--threads 1` skips
the start-up timing of thread counts, which only lengthens the load: without the fix this test still saw
72 of 500 answers 503 (and 105 of 500 with the timing).
"""

from __future__ import annotations

import time
from collections import Counter

import pytest
import requests
from serve_helpers import start_server, stop_server

STARTS, REQUESTS = 4, 50


@pytest.mark.slow  # 4 starts of a 2-worker server: each imports torch three times
def test_after_the_first_health_200_no_request_meets_a_loading_worker(digits_run, digit_image):
    codes: Counter = Counter()
    started = time.perf_counter()
    for _ in range(STARTS):
        server = start_server(digits_run, "--workers", "2", "--threads", "1")  # at the first /health 200
        try:
            for _ in range(REQUESTS):
                files = {"image": ("x.png", digit_image[0])}
                codes[requests.post(server.url + "/predict", files=files, timeout=60).status_code] += 1
        finally:
            stop_server(server)
    assert codes == {200: STARTS * REQUESTS}, f"{dict(codes)} over {time.perf_counter() - started:.0f} s"
