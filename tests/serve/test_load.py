"""Bounded load on loopback: 16 concurrent clients, a fixed number of requests each, against `kindling
serve`. Zero errors, and the server's resident memory grows less than 10% over the run. How fast it
answers is measured in benchmarks/bench_serve.py, not here."""

from __future__ import annotations

import threading
from pathlib import Path

import requests

CLIENTS = 16
REQUESTS = 100  # per client, after 10 each to warm up


def rss_bytes(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise RuntimeError("no VmRSS")


def hammer(url: str, good: bytes, requests_each: int) -> tuple[int, list[str]]:
    """CLIENTS threads, each with its own session; every 10th request sends a broken file (expects 400)."""
    done, errors, lock = [0], [], threading.Lock()

    def client(n: int) -> None:
        session = requests.Session()
        for i in range(1, requests_each + 1):
            bad = (i + n) % 10 == 0
            data = b"not an image" if bad else good
            try:
                r = session.post(url + "/predict", files={"image": ("x.png", data)}, timeout=30)
                ok = r.status_code == (400 if bad else 200) and r.json()["success"] is not bad
                problem = None if ok else f"{r.status_code} {r.text[:100]}"
            except Exception as exc:  # a connection error is a failure of the test, not of the client
                problem = repr(exc)
            with lock:
                done[0] += 1
                if problem:
                    errors.append(problem)

    threads = [threading.Thread(target=client, args=(n,)) for n in range(CLIENTS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return done[0], errors


def test_sixteen_clients_hundreds_of_requests(server, digit_image):
    warm, warm_errors = hammer(server.url, digit_image[0], 10)  # allocator and caches settle first
    assert warm == CLIENTS * 10 and not warm_errors
    before = rss_bytes(server.pid)
    n, errors = hammer(server.url, digit_image[0], REQUESTS)
    after = rss_bytes(server.pid)
    assert errors == [], errors[:5]
    assert n == CLIENTS * REQUESTS  # every request was answered
    assert after < before * 1.10, f"RSS grew from {before / 2**20:.1f} MB to {after / 2**20:.1f} MB"
    assert requests.get(server.url + "/health").status_code == 200
