"""Exact resume: bit-identical weights after an interruption, at an epoch boundary or mid-epoch."""

from __future__ import annotations

import pytest

from kindling.cli.verify_resume import verify_resume


@pytest.mark.parametrize(
    "sets",
    [
        [],
        ["data.augment=shift", "sched.name=cosine", "train.label_smoothing=0.1"],
        ["train.ema=0.9", "train.accumulate=2", "sched.name=onecycle", "optim.name=sgd"],
        ["train.patience=5", "sched.name=plateau", "train.clip_grad=1.0"],
    ],
)
def test_mid_epoch_resume_is_bit_identical(sets):
    lines = []
    assert verify_resume(None, ["data.batch_size=128", *sets], epochs=2, echo=lines.append), lines


def test_epoch_boundary_resume_is_bit_identical():
    lines = []
    steps_per_epoch = -(-1211 // 128)  # the digits train split at batch 128
    assert verify_resume(
        None, ["data.batch_size=128"], epochs=2, echo=lines.append, stop_at=steps_per_epoch
    ), lines
