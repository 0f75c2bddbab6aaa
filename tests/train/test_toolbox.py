"""The training toolbox: accumulation, early stopping, NaN stop, honest refusals, schedulers, overfit."""

from __future__ import annotations

import json

import pytest
import torch

from kindling.cli.main import main
from kindling.config.load import load_config
from kindling.errors import UserError
from kindling.runner import train
from kindling.train import checkpoint


def run(tmp_path, name: str, *sets: str, **flags):
    flags = {
        "data.name": "digits",
        "model.name": "mlp",
        "train.threads": 1,
        "train.logger": "none",
        "run_dir": str(tmp_path / name),
        **flags,
    }
    cfg = load_config(None, flags, list(sets))
    lines: list[str] = []
    train(cfg, echo=lines.append)
    return tmp_path / name, lines


def weights(run_dir):
    return checkpoint.load(run_dir / "checkpoints" / "last.pt")["model"]


def test_accumulated_batches_equal_one_big_batch(tmp_path):
    common = ["optim.name=sgd", "optim.momentum=0", "train.epochs=1"]
    big, _ = run(tmp_path, "big", *common, "data.batch_size=64", "train.overfit_batches=1")
    acc, _ = run(
        tmp_path, "acc", *common, "data.batch_size=32", "train.overfit_batches=2", "train.accumulate=2"
    )
    a, b = weights(big), weights(acc)
    assert checkpoint.load(acc / "checkpoints" / "last.pt")["progress"]["step"] == 1
    for key in a:
        assert torch.allclose(a[key], b[key], atol=1e-6), key


def test_early_stopping_counts_validation_rounds_and_says_so(tmp_path):
    """lr 1e-30 leaves float32 weights as they are (a learning rate of 0 is refused)."""
    run_dir, lines = run(
        tmp_path, "es", "optim.lr=1e-30", "train.epochs=10", "train.patience=2", "train.monitor=val_loss"
    )
    assert any("early stopping: after 2 validation rounds" in line for line in lines)
    assert any(line.startswith("early stop:") for line in lines)
    records = [json.loads(x) for x in (run_dir / "metrics.jsonl").read_text().splitlines()]
    assert len(records) == 3  # the first round sets the best, two more without improvement stop it


DIVERGING_NET = """
import torch
from torch import nn


class Net(nn.Module):
    \"\"\"Trains normally for 24 training steps (epoch 1 has 19), then answers NaN: a run that diverges.\"\"\"

    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(64, 10)
        self.steps = 0

    def forward(self, x):
        out = self.fc(x.flatten(1))
        if self.training and torch.is_grad_enabled():
            self.steps += 1
            if self.steps > 24:
                out = out * float("nan")
        return out
"""


def test_non_finite_loss_stops_with_hint_and_keeps_last_good_checkpoint(tmp_path, capsys):
    run_dir = tmp_path / "nan"
    (tmp_path / "diverging.py").write_text(DIVERGING_NET)
    args = ["--data", "digits", "--model", f"{tmp_path / 'diverging.py'}:Net", "--batch-size", "64"]
    rc = main(["train", *args, "--epochs", "3", "--threads", "1", "--run-dir", str(run_dir)])
    err = capsys.readouterr().err
    assert rc == 2
    assert "loss became nan at epoch 2" in err and "batch" in err and "--clip-grad" in err
    assert f"the last good checkpoint is kept in {run_dir / 'checkpoints'}" in err
    assert err.count("\n") == 1
    state = checkpoint.load(run_dir / "checkpoints" / "last.pt")  # the end of epoch 1, before the NaN
    assert state["progress"]["epoch"] == 1 and state["progress"]["step"] == 19
    assert all(torch.isfinite(t).all() for t in state["model"].values())
    assert [r["epoch"] for r in state["history"]] == [1]


def test_overfit_batches_reaches_perfect_training_accuracy(tmp_path):
    run_dir, _ = run(
        tmp_path, "of", "train.overfit_batches=1", "train.epochs=40", "data.batch_size=32", "optim.lr=0.01"
    )
    last = json.loads((run_dir / "metrics.jsonl").read_text().splitlines()[-1])
    assert last["train_acc"] == 1.0


def test_dry_run_is_one_batch_per_phase(tmp_path):
    run_dir, lines = run(tmp_path, "dry", "train.dry_run=true", "train.epochs=50")
    state = checkpoint.load(run_dir / "checkpoints" / "last.pt")
    assert state["progress"]["step"] == 1 and state["progress"]["epoch"] == 1
    assert (run_dir / "best" / "model.safetensors").is_file()


def test_a_dry_run_times_neither_threads_nor_memory_formats(tmp_path, monkeypatch):
    """A dry run checks that one batch fits: the calibration steps would be most of its time."""

    def timed(*args, **kwargs):
        raise AssertionError("a dry run timed its calibration steps")

    monkeypatch.setattr("kindling.util.measure.time_alternatives", timed)
    monkeypatch.setattr("kindling.train.calibrate.time_alternatives", timed)
    _, lines = run(tmp_path, "dry-cnn", "train.dry_run=true", "model.name=digits-cnn", "train.threads=0")
    start = next(line for line in lines if line.startswith("training digits-cnn"))
    assert "ms/step" not in start and not any("memory format" in line for line in lines)


@pytest.mark.parametrize("name", ["step", "multistep", "cosine", "onecycle", "plateau"])
def test_every_scheduler_changes_the_learning_rate(tmp_path, name):
    sets = [
        f"sched.name={name}",
        "sched.step_size=1",
        "sched.milestones=[1]",
        "sched.patience=0",
        "train.epochs=3",
        "optim.lr=0.01",
    ]
    if name == "plateau":
        sets += ["optim.lr=1e-6", "optim.name=sgd", "optim.momentum=0"]  # no real progress: plateau must cut
    run_dir, _ = run(tmp_path, name, *sets, "data.batch_size=256")
    lrs = [json.loads(x)["lr"] for x in (run_dir / "metrics.jsonl").read_text().splitlines()]
    assert len(set(lrs)) > 1, lrs


def test_warmup_ramps_up(tmp_path):
    run_dir, _ = run(
        tmp_path,
        "warm",
        "sched.name=cosine",
        "sched.warmup_epochs=2",
        "train.epochs=3",
        "optim.lr=0.01",
        "data.batch_size=256",
    )
    lrs = [json.loads(x)["lr"] for x in (run_dir / "metrics.jsonl").read_text().splitlines()]
    assert lrs[0] < lrs[1]


def test_bf16_on_cpu_is_refused_where_slower_or_trains(tmp_path):
    """Refused with a reason (no native bf16, or measured slower than fp32), else it trains."""
    try:
        run_dir, _ = run(tmp_path, "bf16", "train.precision=bf16", "train.device=cpu", "train.epochs=1")
    except UserError as exc:
        assert "bf16 refused" in str(exc) and ("no native bf16" in str(exc) or "measured" in str(exc))
        assert not (tmp_path / "bf16").exists()
    else:
        assert (run_dir / "best" / "model.safetensors").is_file()


def test_fp16_and_compile_refused_on_cpu(tmp_path):
    with pytest.raises(UserError, match="fp16 needs a GPU"):
        run(tmp_path, "fp16", "train.precision=fp16", "train.device=cpu")
    with pytest.raises(UserError, match="--compile refused on the CPU"):
        run(tmp_path, "comp", "train.compile=true", "train.device=cpu")


def test_resume_with_changed_model_is_refused_naming_the_key(tmp_path, capsys):
    run_dir, _ = run(tmp_path, "r", "train.epochs=1")
    rc = main(["train", "--resume", str(run_dir), "--model", "lenet"])
    err = capsys.readouterr().err
    assert rc == 2 and "model.name ('mlp' -> 'lenet')" in err


def test_ema_weights_are_what_the_bundle_holds(tmp_path):
    run_dir, _ = run(tmp_path, "ema", "train.ema=0.5", "train.epochs=2")
    from kindling.bundle.files import load_bundle

    bundle = load_bundle(run_dir)
    raw = weights(run_dir)
    w_bundle = bundle.model.state_dict()["1.weight"]
    assert not torch.equal(w_bundle, raw["1.weight"])  # the EMA average, not the raw weights
