"""The thread count is measured again when training slows down mid-run (another program took the cores)."""

from __future__ import annotations

import time

import pytest

from kindling.config.load import load_config
from kindling.runner import train
from kindling.train.events import Callback
from kindling.train.threadwatch import ThreadWatch
from kindling.util.envinfo import usable_cores
from kindling.util.measure import WINDOW


class SlowDownAfter(Callback):
    """Makes every step after `step` take longer, as a busy machine would; keeps the trainer to look at."""

    def __init__(self, step: int, seconds: float):
        self.step, self.seconds, self.trainer = step, seconds, None

    def on_fit_start(self, trainer) -> None:
        self.trainer = trainer

    def on_step_end(self, trainer) -> None:
        if trainer.progress.step > self.step:
            time.sleep(self.seconds)


def fit(tmp_path, *sets: str) -> SlowDownAfter:
    slow = SlowDownAfter(step=3 * WINDOW, seconds=0.02)
    flags = {
        "data.name": "digits",
        "model.name": "mlp",
        "train.logger": "none",
        "run_dir": str(tmp_path / "r"),
    }
    cfg = load_config(None, flags, ["train.epochs=12", "data.batch_size=64", *sets])
    lines: list[str] = []
    train(cfg, echo=lines.append, callbacks=[slow])
    return slow


@pytest.mark.skipif(usable_cores() < 2, reason="with one core there is no thread count to choose")
def test_a_slowdown_mid_run_is_measured_again(tmp_path):
    trainer = fit(tmp_path).trainer
    watch = next(cb for cb in trainer.callbacks if isinstance(cb, ThreadWatch))
    assert watch.measurements >= 1  # 12 epochs x 19 steps: the windows after step 150 are far slower
    assert 1 <= trainer.threads <= usable_cores()


def test_no_watch_when_the_threads_are_chosen(tmp_path):
    trainer = fit(tmp_path, "train.threads=1").trainer
    assert not any(isinstance(cb, ThreadWatch) for cb in trainer.callbacks)
