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


def test_fast_epochs_write_last_pt_once_a_gap_and_always_the_last_epoch(tmp_path, monkeypatch):
    """kindling.train.persist.CHECKPOINT_GAP_S: a run of many quick epochs writes last.pt at its first
    epoch and its end, not after each; with no gap, after each."""
    from kindling.cli.main import main
    from kindling.train import checkpoint, persist

    written, save = [], checkpoint.save
    monkeypatch.setattr(
        checkpoint, "save", lambda path, state: (written.append(state["progress"]), save(path, state))
    )
    argv = ["train", "--data", "wine", "--epochs", "6", "--patience", "99", "--threads", "1"]
    argv += ["--baseline", "none", "--logger", "none"]
    for gap, epochs in [(3600.0, [1, 6]), (0.0, [1, 2, 3, 4, 5, 6])]:
        monkeypatch.setattr(persist, "CHECKPOINT_GAP_S", gap)
        written.clear()
        assert main([*argv, "--run-dir", str(tmp_path / str(gap))]) == 0
        assert [p["epoch"] for p in written] == epochs and all(p["batch"] == 0 for p in written)
        assert checkpoint.load(tmp_path / str(gap) / "checkpoints" / "last.pt")["progress"]["epoch"] == 6
