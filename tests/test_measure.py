"""The rules the trainer and the server share for measuring threads and layouts (kindling.util.measure)."""

from __future__ import annotations

import time

import pytest

from kindling.util.measure import (
    MARGIN,
    RECHECK,
    SLOWER,
    WINDOW,
    Pace,
    TooSlow,
    fastest,
    thread_candidates,
    time_alternatives,
)


def test_candidates_are_one_thread_and_the_share_less_one_for_an_event_loop():
    assert thread_candidates(8) == [1, 8]
    assert thread_candidates(8, event_loop=True) == [1, 7]
    assert thread_candidates(2, event_loop=True) == [1]
    assert thread_candidates(1) == [1]


def test_the_default_stays_unless_another_wins_by_the_margin():
    assert fastest({"a": 1.0, "b": 0.99}, default="a") == "a"  # within the noise
    assert fastest({"a": 1.0, "b": MARGIN * 0.9}, default="a") == "b"
    assert fastest({"a": 0.5, "b": 1.0}, default="b") == "a"


def test_alternatives_are_timed_interleaved_and_warmed_once():
    calls: list[str] = []
    setups: list[str] = []
    times = time_alternatives(
        {"a": lambda: calls.append("a"), "b": lambda: calls.append("b")}, rounds=2, setup=setups.append
    )
    assert set(times) == {"a", "b"} and all(t >= 0 for t in times.values())
    assert calls == ["a", "a", "b", "b", "a", "b"]  # warm-up, then the timed call; rounds interleave
    assert setups == ["a", "b", "a", "b"]


def test_work_too_slow_to_time_stops_before_the_next_alternative():
    calls: list[str] = []
    with pytest.raises(TooSlow) as slow:
        time_alternatives(
            {"big": lambda: (calls.append("big"), time.sleep(0.05)), "small": lambda: calls.append("small")},
            warm=False,
            too_slow=0.01,
        )
    assert calls == ["big"] and slow.value.seconds >= 0.05


def test_pace_asks_for_a_measurement_when_steps_slow_down_or_after_a_while_on_fewer_threads():
    pace = Pace()
    assert all(pace.add(0.01, fewer_threads=False) is None for _ in range(2 * WINDOW))  # steady
    due = [pace.add(0.01 * SLOWER * 1.2, fewer_threads=False) for _ in range(WINDOW)]
    assert due[:-1] == [None] * (WINDOW - 1) and due[-1] == pytest.approx(0.01 * SLOWER * 1.2)
    pace.restart()
    found = [pace.add(0.01, fewer_threads=True) for _ in range(RECHECK * WINDOW)]
    assert sum(d is not None for d in found) == 1 and found[-1] is not None
