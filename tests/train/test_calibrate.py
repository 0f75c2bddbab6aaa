"""Measured choices: the memory format of conv nets on a CPU, fused optimizers, and that resuming keeps them."""

from __future__ import annotations

import pytest
import torch

from kindling.bundle.files import load_bundle
from kindling.cli.verify_resume import verify_resume
from kindling.config.load import load_config
from kindling.errors import UserError
from kindling.runner import train
from kindling.train import checkpoint
from kindling.train.optim import build_optimizer


def run(tmp_path, name: str, *sets: str) -> tuple:
    flags = {
        "data.name": "digits",
        "train.threads": 1,
        "train.logger": "none",
        "train.baseline": "none",
        "train.epochs": 1,
        "run_dir": str(tmp_path / name),
    }
    lines: list[str] = []
    train(load_config(None, flags, list(sets)), echo=lines.append)
    return tmp_path / name, lines


def test_channels_last_run_saves_a_plain_bundle_and_says_so(tmp_path):
    run_dir, lines = run(tmp_path, "cl", "model.name=lenet5", "train.memory_format=channels_last")
    assert any("memory format: channels_last (set by train.memory_format)" in line for line in lines)
    assert checkpoint.load(run_dir / "checkpoints" / "last.pt")["memory_format"] == "channels_last"
    bundle = load_bundle(run_dir)  # safetensors holds contiguous tensors; the served model is plain NCHW
    x = torch.rand(4, 1, 8, 8)
    assert bundle.model(x).shape == (4, 10)


def test_resume_in_channels_last_is_bit_identical():
    lines: list[str] = []
    sets = ["data.batch_size=128", "model.name=lenet5", "train.memory_format=channels_last"]
    assert verify_resume(None, sets, epochs=2, echo=lines.append), lines


def test_auto_measures_conv_nets_and_skips_others(tmp_path):
    run_dir, lines = run(tmp_path, "auto", "model.name=lenet5")
    state = checkpoint.load(run_dir / "checkpoints" / "last.pt")
    chosen = state["memory_format"]
    conv2 = state["model"]["features.3.weight"]  # 16x6x5x5: the two layouts have different strides
    assert conv2.is_contiguous(memory_format=torch.channels_last) == (chosen == "channels_last")
    said = [line for line in lines if line.startswith("memory format:")]
    assert (chosen == "channels_last") == bool(said)
    assert not said or "measured: contiguous" in said[0]
    run_dir, _ = run(tmp_path, "mlp", "model.name=mlp", "train.memory_format=channels_last")
    assert checkpoint.load(run_dir / "checkpoints" / "last.pt")["memory_format"] == "contiguous"


def test_unknown_memory_format_is_refused(tmp_path):
    with pytest.raises(
        UserError, match="train.memory_format = 'nhwc' is not a valid choice: it must be one of auto"
    ):
        run(tmp_path, "bad", "train.memory_format=nhwc")
    assert not (tmp_path / "bad").exists()


@pytest.mark.parametrize("name", ["sgd", "adam", "adamw"])
def test_cpu_optimizers_are_fused_and_step_like_the_loop(name):
    cfg = load_config(None, {"optim.name": name, "optim.lr": 0.1}, []).optim
    torch.manual_seed(0)
    a = torch.nn.Linear(5, 3)
    b = torch.nn.Linear(5, 3)
    b.load_state_dict(a.state_dict())
    fused = build_optimizer(list(a.parameters()), cfg, torch.device("cpu"))
    loop = build_optimizer(list(b.parameters()), cfg)
    fast = "foreach" if name == "sgd" else "fused"  # fused SGD fails on parameters unfrozen mid-run
    assert fused.defaults[fast] and not loop.defaults.get(fast)
    x = torch.randn(16, 5)
    for _ in range(3):
        for model, opt in ((a, fused), (b, loop)):
            opt.zero_grad()
            model(x).square().mean().backward()
            opt.step()
    for p, q in zip(a.parameters(), b.parameters()):
        torch.testing.assert_close(p, q)
