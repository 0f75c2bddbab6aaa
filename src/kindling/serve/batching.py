"""Micro-batching: concurrent requests share one forward pass.

A request puts its samples on a queue and awaits a future. One collector task runs the model on a
single worker thread (so the event loop keeps accepting connections while the model computes, and the
one model copy is never used by two threads at once), and as soon as the model is free it takes every
request that queued up meanwhile, up to `max_batch` samples, as the next batch. Under load the batches
grow by themselves; a lone request on an idle server runs at once. With `max_wait_ms` > 0 a batch that
already holds more than one request also waits up to that long for more (worth it only where a forward
pass costs much more than the requests' own handling, e.g. a big model on a GPU; for a small model on a
small CPU server, waiting even a few milliseconds lowered the requests per second under many clients).
With `max_batch=1` every request runs alone:
the seed's one-forward-pass-per-request design.

    batcher = MicroBatcher(lambda samples, k: predictor.predict_samples(samples, k), 32, 0)
    results = await batcher.submit([image_array], top_k=3)
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass


@dataclass
class _Pending:
    samples: list
    top_k: int
    future: asyncio.Future


class MicroBatcher:
    """Gathers requests into batches of up to `max_batch` samples, waiting at most `max_wait_ms`."""

    def __init__(
        self,
        predict: Callable[[list, int], list],
        max_batch: int = 32,
        max_wait_ms: float = 0.0,
        on_batch: Callable[[int, float], None] | None = None,
    ):
        if max_batch < 1:
            raise ValueError(f"max_batch must be at least 1, got {max_batch}")
        if max_wait_ms < 0:
            raise ValueError(f"max_wait_ms must be >= 0, got {max_wait_ms}")
        self.predict, self.max_batch, self.max_wait = predict, max_batch, max_wait_ms / 1000.0
        self.on_batch = on_batch  # (samples in the batch, seconds of compute) -> None, for /metrics
        self.queue: asyncio.Queue[_Pending] | None = None
        self.executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="kindling-model")
        self.task: asyncio.Task | None = None

    def start(self) -> None:
        self.queue = asyncio.Queue()
        self.task = asyncio.get_running_loop().create_task(self._collect())

    async def stop(self) -> None:
        if self.task is not None:
            self.task.cancel()
            try:
                await self.task
            except asyncio.CancelledError:
                pass
        self.executor.shutdown(wait=False, cancel_futures=True)

    async def submit(self, samples: list, top_k: int = 3) -> list:
        """-> one result per sample, computed together with whatever else arrived meanwhile."""
        if self.task is None:
            self.start()
        future = asyncio.get_running_loop().create_future()
        await self.queue.put(_Pending(samples, top_k, future))
        return await future

    async def _collect(self) -> None:
        loop = asyncio.get_running_loop()
        carry: _Pending | None = None
        while True:
            first = carry or await self.queue.get()
            carry = None
            batch, size = [first], len(first.samples)
            deadline = loop.time() + self.max_wait
            while size < self.max_batch:
                # A lone request never waits: only when others are already queued (there is concurrent
                # traffic) does the batch wait up to max_wait_ms for more.
                timeout = deadline - loop.time() if len(batch) > 1 else 0
                try:
                    item = (
                        self.queue.get_nowait()
                        if timeout <= 0
                        else await asyncio.wait_for(self.queue.get(), timeout)
                    )
                except (asyncio.TimeoutError, asyncio.QueueEmpty):
                    break
                if size + len(item.samples) > self.max_batch:
                    carry = item  # starts the next batch; a batch never exceeds max_batch (unless one request does)
                    break
                batch.append(item)
                size += len(item.samples)
            await self._run(loop, batch, size)

    async def _run(self, loop, batch: list[_Pending], size: int) -> None:
        samples = [s for item in batch for s in item.samples]
        top_k = max(item.top_k for item in batch)
        start = time.perf_counter()
        try:
            results = await loop.run_in_executor(self.executor, self.predict, samples, top_k)
        except Exception as exc:  # one bad batch fails its requests, never the collector
            for item in batch:
                if not item.future.done():
                    item.future.set_exception(exc)
            return
        if self.on_batch is not None:
            self.on_batch(size, time.perf_counter() - start)
        at = 0
        for item in batch:
            part = results[at : at + len(item.samples)]
            at += len(item.samples)
            if not item.future.done():  # the client may have gone away
                item.future.set_result([_trim(r, item.top_k) for r in part])


def _trim(result: dict, top_k: int) -> dict:
    """Results were computed with the batch's largest top_k; cut each back to what its request asked."""
    if "top_k" in result and len(result["top_k"]) > top_k:
        return {**result, "top_k": result["top_k"][:top_k]}
    return result
