"""How this worker runs its model: intra-op threads and the memory layout of conv weights, measured.

On a small machine serving a small CNN, two settings decide most of the model's time per request:
  * intra-op threads: one thread per worker is often several times faster than all cores (no
    fork/join per tiny op, no fight with the event loop and the other workers for the cores);
  * channels_last conv weights: oneDNN's direct convolutions for NHWC ran seed 000's LeNet about 2x
    faster per sample on batches of 4 and more than the default NCHW layout on the 2-core benchmark box.
Neither wins everywhere (big models want all cores; some models gain nothing from NHWC), so the worker
times each combination on a full batch before it says it is ready, and keeps the fastest. A layout is
only a candidate if its outputs match the default layout's (to 1e-4) on a random batch.
"""

from __future__ import annotations

import time

from kindling.envinfo import usable_cores

SLOW_BATCH_S = 1.0  # a batch this slow: a big model; all cores, default layout, no more timing


def tune(predictor, requested: int, max_batch: int, workers: int = 1) -> tuple[int, str]:
    """Set torch's threads (and the model's layout) for this worker -> (threads, how it was chosen)."""
    import torch

    share = max(
        1, usable_cores() // max(1, workers)
    )  # the cores this worker may use without crowding the others
    # under load one of them runs the event loop (HTTP, decoding): the model is offered the rest. Timing
    # a batch alone cannot see that contention; on 2 cores, 2 intra-op threads won the isolated timing
    # of LeNet yet lost under 16 clients (lower req/s, twice the p99), so they are not offered there.
    threads = [requested] if requested > 0 else sorted({1, max(1, share - 1)})
    layouts = _layouts(predictor)
    if len(threads) == 1 and len(layouts) == 1:
        torch.set_num_threads(threads[0])
        return threads[
            0
        ], "set by --threads" if requested else f"{threads[0]} ({share} core(s) for this worker)"
    try:
        times = _time_all(predictor, threads, layouts, max_batch)
    except _TooSlow as slow:
        torch.set_num_threads(share)
        _set_layout(predictor, "default")
        return share, f"{share} (a batch of {max_batch} takes {slow.seconds:.2f}s)"
    except Exception as exc:  # an unusual model input: fall back to the safe choice
        torch.set_num_threads(threads[0])
        _set_layout(predictor, "default")
        return threads[0], f"{threads[0]} ({exc.__class__.__name__} while timing)"
    (n, layout), best = min(times.items(), key=lambda kv: kv[1])
    torch.set_num_threads(n)
    _set_layout(predictor, layout)
    tried = ", ".join(f"{t} thread(s) {lay} {s * 1e3:.1f} ms" for (t, lay), s in sorted(times.items()))
    return n, f"{layout} layout; measured on a batch of {max_batch}: {tried}"


class _TooSlow(Exception):
    def __init__(self, seconds: float):
        super().__init__(f"{seconds:.2f}s")
        self.seconds = seconds


def _time_all(predictor, threads: list[int], layouts: list[str], max_batch: int) -> dict:
    """Interleaved repeats and the minimum of each: a busy neighbour does not decide the result."""
    import torch

    dummy, lengths = _dummy(predictor.sig, max_batch)
    times: dict[tuple[int, str], float] = {}
    for _ in range(3):
        for layout in layouts:
            _set_layout(predictor, layout)
            for n in threads:
                torch.set_num_threads(n)
                start = time.perf_counter()
                predictor.predict_batch(dummy, 1, lengths)
                seconds = time.perf_counter() - start
                if seconds > SLOW_BATCH_S:
                    raise _TooSlow(seconds)
                times[(n, layout)] = min(times.get((n, layout), seconds), seconds)
    return times


def _dummy(sig, max_batch: int):
    import numpy as np

    if sig.input_kind == "text":
        return np.ones((max_batch, sig.input_shape[0]), np.int64), np.full(max_batch, sig.input_shape[0])
    dtype = np.uint8 if sig.input_kind == "image" else np.float32
    return np.zeros((max_batch, *sig.input_shape), dtype), None


def _layouts(predictor) -> list[str]:
    """'default' always; 'channels_last' for image models whose outputs do not change with it."""
    import numpy as np
    import torch

    sig = predictor.sig
    if sig.input_kind != "image" or len(sig.input_shape) != 3:
        return ["default"]
    model = predictor.bundle.model
    if not any(p.dim() == 4 for p in model.parameters()):
        return ["default"]  # no conv weights: nothing to lay out
    x = np.random.default_rng(0).integers(0, 256, (4, *sig.input_shape), dtype=np.uint8)
    try:
        with torch.no_grad():
            ref = model(predictor.preprocess(torch.from_numpy(x)))
            _set_layout(predictor, "channels_last")
            out = model(predictor.preprocess(torch.from_numpy(x)))
        same = bool(torch.allclose(ref, out, atol=1e-4, rtol=1e-4))
    except Exception:  # a layer that cannot take NHWC weights: keep the default
        same = False
    _set_layout(predictor, "default")
    return ["default", "channels_last"] if same else ["default"]


def _set_layout(predictor, layout: str) -> None:
    import torch

    fmt = torch.channels_last if layout == "channels_last" else torch.contiguous_format
    predictor.bundle.model.to(memory_format=fmt)
