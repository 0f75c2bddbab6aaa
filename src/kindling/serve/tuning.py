"""How this worker runs its model: intra-op threads and the memory layout of conv weights, measured.

On a small machine serving a small CNN, two settings decide most of the model's time per request:
  * intra-op threads: one thread per worker is often several times faster than all cores (no
    fork/join per tiny op, no fight with the event loop and the other workers for the cores);
  * channels_last conv weights: oneDNN's direct convolutions for NHWC can run a small CNN markedly
    faster per sample on batches of a few images than the default NCHW layout.
Neither wins everywhere (big models want all cores; some models gain nothing from NHWC), so the worker
times each combination on a full batch before it says it is ready, and keeps the fastest, by the rules
the trainer follows too (kindling.util.measure). A layout is only a candidate if its outputs match the
default layout's (to 1e-4) on a random batch.
"""

from __future__ import annotations

from kindling.util.measure import (
    SLOW_BATCH_S,
    TooSlow,
    core_share,
    fastest,
    thread_candidates,
    time_alternatives,
)


def tune(predictor, requested: int, max_batch: int, workers: int = 1) -> tuple[int, str]:
    """Set torch's threads (and the model's layout) for this worker -> (threads, how it was chosen)."""
    import torch  # lazy: torch

    share = core_share(workers)  # the cores this worker may use without crowding the others
    threads = [requested] if requested > 0 else thread_candidates(share, event_loop=True)
    layouts = _layouts(predictor)
    if len(threads) == 1 and len(layouts) == 1:
        torch.set_num_threads(threads[0])
        how = "set by --threads" if requested else f"{threads[0]} ({share} core(s) for this worker)"
        return threads[0], how
    try:
        times = _time_all(predictor, threads, layouts, max_batch)
    except TooSlow as slow:
        torch.set_num_threads(share)
        _set_layout(predictor, "default")
        return share, f"{share} (a batch of {max_batch} takes {slow.seconds:.2f}s)"
    except Exception as exc:  # an unusual model input: fall back to the safe choice
        torch.set_num_threads(threads[0])
        _set_layout(predictor, "default")
        return threads[0], f"{threads[0]} ({exc.__class__.__name__} while timing)"
    n, layout = fastest(times, default=(threads[0], "default"))
    torch.set_num_threads(n)
    _set_layout(predictor, layout)
    tried = ", ".join(f"{t} thread(s) {lay} {s * 1e3:.1f} ms" for (t, lay), s in sorted(times.items()))
    return n, f"{layout} layout; measured on a batch of {max_batch}: {tried}"


def _time_all(predictor, threads: list[int], layouts: list[str], max_batch: int) -> dict:
    """Seconds per full batch of every (threads, layout) pair, timed by kindling.util.measure's rules."""
    import torch  # lazy: torch

    dummy, lengths = predictor.task.inputs.blank_batch(max_batch)

    def setup(pair: tuple[int, str]) -> None:
        _set_layout(predictor, pair[1])
        torch.set_num_threads(pair[0])

    def run() -> None:
        predictor.predict_batch(dummy, 1, lengths)

    pairs = dict.fromkeys(((n, layout) for layout in layouts for n in threads), run)
    return time_alternatives(pairs, warm=False, too_slow=SLOW_BATCH_S, setup=setup)


def _layouts(predictor) -> list[str]:
    """'default' always; 'channels_last' for image models whose outputs do not change with it."""
    import numpy as np  # lazy: numpy
    import torch  # lazy: torch

    sig = predictor.sig
    if not predictor.task.inputs.pictures or len(sig.input_shape) != 3:
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
    import torch  # lazy: torch

    fmt = torch.channels_last if layout == "channels_last" else torch.contiguous_format
    predictor.bundle.model.to(memory_format=fmt)
