"""/metrics counts the requests of every worker process (prometheus_client's multiprocess mode)."""

from __future__ import annotations

import time

import requests
from serve_helpers import start_server, stop_server


def answered(server) -> float:
    """kindling_requests_total of /predict with status 200, as /metrics tells it."""
    text = requests.get(server.url + "/metrics").text
    assert "# TYPE kindling_requests_total counter" in text
    return sum(
        float(line.split()[-1])
        for line in text.splitlines()
        if line.startswith("kindling_requests_total{")
        and 'path="/predict"' in line
        and 'status="200"' in line
    )


def predict(server, image: bytes) -> int:
    return requests.post(server.url + "/predict", files={"image": ("x.png", image)}).status_code


def wait_all_workers_loaded(server, image: bytes, timeout: float = 120.0) -> None:
    """/health answers from the first worker up; a second may still be loading its model (503)."""
    deadline, in_a_row = time.time() + timeout, 0
    while in_a_row < 8 and time.time() < deadline:
        in_a_row = in_a_row + 1 if predict(server, image) == 200 else 0
        time.sleep(0.05 if in_a_row else 0.5)
    assert in_a_row >= 8, "the workers did not all load their model"


def test_two_workers_count_every_request_and_leave_no_files(tmp_path, digits_run, digit_image):
    server = start_server(digits_run, "--workers", "2", "--threads", "1", env={"TMPDIR": str(tmp_path)})
    try:
        [folder] = list(tmp_path.glob("kindling-metrics-*"))  # made by the parent, before the workers
        wait_all_workers_loaded(server, digit_image[0])
        before, n = answered(server), 24
        for _ in range(n):  # a new connection each: the kernel hands them to either worker
            assert predict(server, digit_image[0]) == 200
        assert answered(server) - before == n  # whichever worker answers the scrape
        assert len({f.name.split("_")[-1] for f in folder.glob("*.db")}) == 2  # one file set per worker
    finally:
        stop_server(server)
    assert server.proc.returncode == 0  # SIGTERM: a clean stop
    assert not list(tmp_path.glob("kindling-metrics-*"))  # removed at exit


def test_one_worker_stopped_by_sigterm_exits_0_and_leaves_no_files(tmp_path, digits_run):
    """With one worker uvicorn runs in the serving process itself and re-raises the SIGTERM it stopped on;
    the command still ends with exit 0 and removes its metrics folder."""
    server = start_server(digits_run, "--workers", "1", "--threads", "1", env={"TMPDIR": str(tmp_path)})
    try:
        [folder] = list(tmp_path.glob("kindling-metrics-*"))
        assert requests.get(server.url + "/metrics").status_code == 200
        assert list(folder.glob("*.db"))  # the worker's counts live there
    finally:
        stop_server(server)
    assert server.proc.returncode == 0, server.proc.stderr.read().decode()[-2000:]
    assert not list(tmp_path.glob("kindling-metrics-*"))
