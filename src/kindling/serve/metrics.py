"""/metrics in Prometheus's text format, by prometheus_client, counting every worker process.

`kindling serve` runs 2 worker processes by default, and a scrape reaches one of them: counts kept in
each process's memory would answer for that process only. So the serving parent makes a folder and
names it in PROMETHEUS_MULTIPROC_DIR before the workers start (`multiprocess_dir`); prometheus_client
then keeps every worker's values in files there, and /metrics adds them up (MultiProcessCollector).
Without that variable (an app built in-process, as tests do) the counts are this process's own.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Iterator

LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
BATCH_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256)
MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"


@contextlib.contextmanager
def multiprocess_dir() -> Iterator[str]:
    """A fresh folder for the workers' metric files, named in the environment the workers inherit, and
    removed at exit. Must run before prometheus_client is imported in this process: it reads the
    variable once, at import. A folder the user named already is used as it is and kept."""
    if os.environ.get(MULTIPROC_ENV):
        yield os.environ[MULTIPROC_ENV]
        return
    path = tempfile.mkdtemp(prefix="kindling-metrics-")
    os.environ[MULTIPROC_ENV] = path
    try:
        yield path
    finally:
        os.environ.pop(MULTIPROC_ENV, None)
        shutil.rmtree(path, ignore_errors=True)


class ServeMetrics:
    """Request counts by path and status, request latency, batch sizes and model compute time."""

    def __init__(self):
        from prometheus_client import CollectorRegistry, Counter, Histogram  # lazy: prometheus_client

        # a registry of its own: several apps in one process (tests) must not collide in the global one
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "kindling_requests",
            "HTTP requests answered, by method, path and status.",
            ["method", "path", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "kindling_request_duration_seconds",
            "Time from request to response, by path.",
            ["path"],
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.batch_size = Histogram(
            "kindling_batch_size",
            "Samples per forward pass (micro-batching).",
            buckets=BATCH_BUCKETS,
            registry=self.registry,
        )
        self.batch_seconds = Histogram(
            "kindling_batch_seconds",
            "Model compute time per forward pass.",
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )

    def observe_request(self, method: str, path: str, status: int, seconds: float) -> None:
        self.requests.labels(method, path, str(status)).inc()
        self.latency.labels(path).observe(seconds)

    def observe_batch(self, size: int, seconds: float) -> None:
        self.batch_size.observe(size)
        self.batch_seconds.observe(seconds)

    def render(self) -> tuple[bytes, str]:
        """(the exposition, its content type): every worker's counts where the workers share a folder."""
        from prometheus_client import (  # lazy: prometheus_client
            CONTENT_TYPE_LATEST,
            CollectorRegistry,
            generate_latest,
        )

        folder = os.environ.get(MULTIPROC_ENV)
        if not folder:
            return generate_latest(self.registry), CONTENT_TYPE_LATEST
        from prometheus_client.multiprocess import MultiProcessCollector  # lazy: prometheus_client

        combined = CollectorRegistry()
        MultiProcessCollector(combined, path=folder)
        return generate_latest(combined), CONTENT_TYPE_LATEST
