"""Helpers for the serving tests: real servers on free loopback ports, and real digit images.

`start_server` runs `kindling serve` as a subprocess (the user's path). `ThreadServer` runs an app
under uvicorn on a thread of the test process, for tests that must control the app (a model that is
still loading, a table model); it answers real HTTP all the same.
"""

from __future__ import annotations

import io
import os
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import requests


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Server:
    url: str
    proc: subprocess.Popen | None = None

    @property
    def pid(self) -> int:
        return self.proc.pid


def wait_ready(url: str, proc: subprocess.Popen | None = None, timeout: float = 90.0) -> None:
    deadline = time.time() + timeout
    while time.time() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode}: {proc.stderr.read().decode()[-2000:]}")
        try:
            if requests.get(url + "/health", timeout=2).status_code == 200:
                return
        except (requests.ConnectionError, requests.Timeout):  # with several workers, none accepts until
            pass  # its model is loaded: the connection waits in the listening socket's queue
        time.sleep(0.2)
    raise RuntimeError(f"server at {url} not ready after {timeout}s")


def start_server(run: Path, *args: str, env: dict | None = None) -> Server:
    """`python -m kindling serve RUN --port P ...` on a free port; returns once /health says 200."""
    port = free_port()
    cmd = [sys.executable, "-m", "kindling", "serve", str(run), "--port", str(port), *args]
    proc = subprocess.Popen(
        cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env={**os.environ, **(env or {})}
    )
    server = Server(f"http://127.0.0.1:{port}", proc)
    try:
        wait_ready(server.url, proc)
    except BaseException:
        stop_server(server)
        raise
    return server


def stop_server(server: Server) -> None:
    server.proc.terminate()
    try:
        server.proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        server.proc.kill()
        server.proc.wait()


class ThreadServer:
    """An app under uvicorn on a thread of this process, on a free loopback port."""

    def __init__(self, app):
        import uvicorn

        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.server = uvicorn.Server(
            uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning")
        )
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self) -> ThreadServer:
        self.thread.start()
        deadline = time.time() + 30
        while not self.server.started:
            if time.time() > deadline or not self.thread.is_alive():
                raise RuntimeError("in-process server did not start")
            time.sleep(0.05)
        return self

    def __exit__(self, *exc) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=15)


def png_bytes(img) -> bytes:
    buf = io.BytesIO()
    img.save(buf, "PNG")
    return buf.getvalue()


def digit_png(run: Path, label: int = 7, size: int = 64) -> tuple[bytes, int]:
    """A test-split digit of the run's data, upscaled to size x size, as PNG bytes; and its class."""
    from PIL import Image

    from kindling import data
    from kindling.bundle.rundir import load_saved_config

    test = data.build(load_saved_config(run).data).test
    index = int((test.y == label).nonzero()[0][0])
    img = Image.fromarray(test.x[index, 0].numpy()).resize((size, size), Image.NEAREST)
    return png_bytes(img), label


def train(run_dir: Path, *args: str) -> Path:
    from kindling_testing import train_run

    return train_run(run_dir, *args)


def sentiment_tsv(path: Path, n: int = 200, seed: int = 0) -> Path:
    """A headerless label<TAB>text file of two learnable classes (pos / neg words in filler)."""
    import random

    rng = random.Random(seed)
    pos, neg = ["great", "lovely", "excellent", "happy", "good"], ["awful", "terrible", "bad", "sad", "poor"]
    lines = []
    for i in range(n):
        label = "pos" if i % 2 else "neg"
        words = rng.choices(pos if i % 2 else neg, k=4) + rng.choices(
            ["the", "film", "was", "very", "a"], k=3
        )
        rng.shuffle(words)
        lines.append(f"{label}\t{' '.join(words)}")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path
