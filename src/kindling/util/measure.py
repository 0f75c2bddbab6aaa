"""Measure instead of guessing: the one set of rules the trainer and the server follow for intra-op
threads and memory layouts, and for when a measurement is taken again.

* Which thread counts to try: one thread, and every core this process may use (its share when several
  workers or ranks split the machine; one fewer where an event loop needs a core beside the model, since
  timing a batch alone cannot see that contention). A small model often runs faster on one thread (no
  fork/join per tiny op); a big one wants all cores.
* How alternatives are timed: on real work (a training step, a full serving batch), each warmed up once
  (oneDNN builds its kernels on the first call), then timed in interleaved rounds keeping the minimum of
  each, so that a busy neighbour in one round does not decide the result. Work too slow to time cheaply
  stops the measurement: a model that big takes all cores and the default layout.
* Which one wins: the default (one thread, the plain layout, the precision asked for) unless another is
  faster by a clear margin, because timing noise on a shared machine is a few percent and a flip-flopping
  choice would change results from run to run for nothing.
* When to measure again: training steps are timed in windows; a window much slower than the first means
  the machine changed under the run (another program took the cores), and after a drop to fewer threads
  the count is measured again now and then, to take the cores back once they are free.

torch is imported inside the functions that need it, so importing this module costs nothing.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Hashable

from kindling.util.envinfo import usable_cores

ROUNDS = 3  # interleaved timing rounds; the minimum of each alternative counts
MARGIN = 0.97  # an alternative must take under 97% of the default's time to replace it
WINDOW = 50  # training steps per timing window
SLOWER = 1.5  # a window this much slower than the reference one triggers a new measurement
RECHECK = 20  # windows between measurements while running on fewer threads than the machine has
SLOW_STEP_S = 0.25  # a training step this slow: a big model, which takes all cores without timing more
SLOW_BATCH_S = 1.0  # a serving batch this slow: likewise, and the default layout


class TooSlow(Exception):
    """A timed call took longer than the measurement may cost."""

    def __init__(self, seconds: float):
        super().__init__(f"{seconds:.2f}s")
        self.seconds = seconds


def core_share(parts: int = 1) -> int:
    """The cores one of `parts` workers or ranks may use without crowding the others."""
    return max(1, usable_cores() // max(1, parts))


def thread_candidates(share: int, event_loop: bool = False) -> list[int]:
    """The thread counts worth timing on `share` cores: one, and all of them (less one for an event loop).

    On a small machine a server's extra intra-op thread can win a batch timed alone yet lose under many
    clients (the event loop decoding requests needs a core too), so it is not offered there.
    """
    top = share - 1 if event_loop else share
    return sorted({1, max(1, top)})


def time_alternatives(
    alternatives: dict[Hashable, Callable[[], object]],
    rounds: int = ROUNDS,
    warm: bool = True,
    too_slow: float | None = None,
    setup: Callable[[Hashable], object] | None = None,
) -> dict[Hashable, float]:
    """Seconds per call of each alternative: the minimum over interleaved rounds.

    Each callable runs the work once; `setup(key)`, untimed, puts in place what it measures (threads,
    a layout) before each of its calls. With `too_slow`, a timed call that takes longer raises TooSlow;
    each alternative is warmed up just before its first timed call, so a model too big to time stops the
    measurement before the next alternative runs.
    """
    times: dict[Hashable, float] = {}
    for round_ in range(rounds):
        for key, run in alternatives.items():
            if setup is not None:
                setup(key)
            if warm and round_ == 0:
                run()
            start = time.perf_counter()
            run()
            seconds = time.perf_counter() - start
            if too_slow is not None and seconds > too_slow:
                raise TooSlow(seconds)
            times[key] = min(times.get(key, seconds), seconds)
    return times


def fastest(times: dict[Hashable, float], default: Hashable) -> Hashable:
    """The default, unless another alternative is faster by more than the margin."""
    best = min(times, key=times.__getitem__)
    return best if times[best] < MARGIN * times[default] else default


def choose_threads(
    step, requested: int, device, deterministic: bool = False, world: int = 1
) -> tuple[int, str]:
    """(threads, how) for training; torch is set to the choice. `step` runs one forward+backward; None
    (a dry run) takes all cores without timing them.

    requested > 0 is honoured. --deterministic takes one thread (a measured choice could differ between
    runs, and so would the float sums); several ranks on one CPU share its cores; a GPU or a single core
    leaves nothing to measure. Otherwise the candidates are timed on real steps; a step slower than
    SLOW_STEP_S is a big model, which takes all cores. `how` starts with "measured" only when a
    measurement decided (the trainer then watches the pace: Pace, train/threadwatch.py).
    """
    import torch  # lazy: torch

    cores = usable_cores()
    if requested > 0:
        chosen, how = requested, "as given: train.threads"  # a flag, a recipe, --set or threads=
    elif deterministic and device.type == "cpu":
        chosen, how = 1, "fixed by --deterministic"
    elif world > 1 and device.type == "cpu":
        chosen, how = core_share(world), f"cores shared by {world} processes"
    elif device.type != "cpu" or cores == 1:
        chosen, how = cores, "all cores"
    elif step is None:
        chosen, how = cores, "all cores: not measured in a dry run"
    else:
        candidates = sorted(
            thread_candidates(cores), reverse=True
        )  # all cores first: a big model stops early
        try:
            times = time_alternatives(
                dict.fromkeys(candidates, step), too_slow=SLOW_STEP_S, setup=torch.set_num_threads
            )
        except TooSlow as slow:
            chosen, how = cores, f"all cores (a step takes {slow.seconds:.2f}s)"
        else:
            chosen = fastest(times, default=1)
            tried = ", ".join(f"{n} thread(s) {times[n] * 1e3:.1f} ms/step" for n in sorted(times))
            how = f"measured: {tried}"
    torch.set_num_threads(chosen)
    return chosen, how


class Pace:
    """Times training steps in windows and says when the thread count should be measured again."""

    def __init__(self):
        self.reference: float | None = None  # seconds per step in the first window since a measurement
        self.windows_since = 0
        self.spent, self.steps = 0.0, 0

    def add(self, seconds: float, fewer_threads: bool) -> float | None:
        """Count one step; at a window's end return its seconds per step if a measurement is due."""
        self.spent += seconds
        self.steps += 1
        if self.steps < WINDOW:
            return None
        per_step, self.spent, self.steps = self.spent / self.steps, 0.0, 0
        self.windows_since += 1
        if self.reference is None:
            self.reference = per_step
            return None
        due = per_step > SLOWER * self.reference or (fewer_threads and self.windows_since >= RECHECK)
        return per_step if due else None

    def restart(self) -> None:
        """After a measurement: learn the new pace."""
        self.reference, self.windows_since = None, 0
        self.spent, self.steps = 0.0, 0
