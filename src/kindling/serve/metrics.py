"""Prometheus text exposition for /metrics, by hand (three metric families do not need a library).

Counts are per worker process: with `--workers N` each process answers for itself.
"""

from __future__ import annotations

import threading
from collections import defaultdict

LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
BATCH_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256)


class Histogram:
    def __init__(self, buckets: tuple):
        self.buckets = buckets
        self.counts = [0] * len(buckets)
        self.total = 0.0
        self.n = 0

    def observe(self, value: float) -> None:
        for i, edge in enumerate(self.buckets):
            if value <= edge:
                self.counts[i] += 1
        self.total += value
        self.n += 1

    def lines(self, name: str, labels: str = "") -> list[str]:
        sep = "," if labels else ""
        out = [
            f'{name}_bucket{{{labels}{sep}le="{edge:g}"}} {c}' for edge, c in zip(self.buckets, self.counts)
        ]
        out.append(f'{name}_bucket{{{labels}{sep}le="+Inf"}} {self.n}')
        tail = f"{{{labels}}}" if labels else ""
        out += [f"{name}_sum{tail} {self.total:.6f}", f"{name}_count{tail} {self.n}"]
        return out


class ServeMetrics:
    """Request counts by path and status, request latency, batch sizes and model compute time."""

    def __init__(self):
        self.lock = threading.Lock()
        self.requests: dict[tuple[str, str, int], int] = defaultdict(int)
        self.latency: dict[str, Histogram] = {}
        self.batch_size = Histogram(BATCH_BUCKETS)
        self.batch_seconds = Histogram(LATENCY_BUCKETS)

    def observe_request(self, method: str, path: str, status: int, seconds: float) -> None:
        with self.lock:
            self.requests[(method, path, status)] += 1
            self.latency.setdefault(path, Histogram(LATENCY_BUCKETS)).observe(seconds)

    def observe_batch(self, size: int, seconds: float) -> None:
        with self.lock:
            self.batch_size.observe(size)
            self.batch_seconds.observe(seconds)

    def render(self) -> str:
        with self.lock:
            lines = [
                "# HELP kindling_requests_total HTTP requests answered, by method, path and status.",
                "# TYPE kindling_requests_total counter",
            ]
            for (method, path, status), n in sorted(self.requests.items()):
                lines.append(
                    f'kindling_requests_total{{method="{method}",path="{path}",status="{status}"}} {n}'
                )
            lines += [
                "# HELP kindling_request_duration_seconds Time from request to response, by path.",
                "# TYPE kindling_request_duration_seconds histogram",
            ]
            for path, hist in sorted(self.latency.items()):
                lines += hist.lines("kindling_request_duration_seconds", f'path="{path}"')
            lines += [
                "# HELP kindling_batch_size Samples per forward pass (micro-batching).",
                "# TYPE kindling_batch_size histogram",
            ]
            lines += self.batch_size.lines("kindling_batch_size")
            lines += [
                "# HELP kindling_batch_seconds Model compute time per forward pass.",
                "# TYPE kindling_batch_seconds histogram",
            ]
            lines += self.batch_seconds.lines("kindling_batch_seconds")
        return "\n".join(lines) + "\n"
