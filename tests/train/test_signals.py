"""Crash survival: Ctrl-C / SIGTERM write a resumable checkpoint and exit 130; SIGKILL never corrupts one."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from kindling.train import checkpoint

KINDLING = [sys.executable, "-u", "-m", "kindling"]


def start_training(run: Path, *extra: str) -> subprocess.Popen:
    args = [
        "train",
        "--data",
        "digits",
        "--model",
        "mlp",
        "--epochs",
        "400",
        "--threads",
        "1",
        "--baseline",
        "none",
        "--run-dir",
        str(run),
        *extra,
    ]
    return subprocess.Popen([*KINDLING, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def wait_for_epoch(proc: subprocess.Popen, epoch: int) -> None:
    deadline = time.time() + 120
    for line in proc.stdout:
        if line.startswith(f"epoch {epoch}/"):
            return
        assert time.time() < deadline, "training did not reach the epoch in time"
    raise AssertionError(f"training ended before epoch {epoch}: {proc.stderr.read()}")


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_signal_writes_checkpoint_prints_resume_and_exits_130(tmp_path, sig):
    run = tmp_path / "run"
    proc = start_training(run)
    wait_for_epoch(proc, 2)
    proc.send_signal(sig)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert f"resume with: kindling train --resume {run}" in err
    assert "Traceback" not in err
    state = checkpoint.load(run / "checkpoints" / "last.pt")
    assert state["progress"]["epoch"] >= 2
    resumed = subprocess.run(
        [*KINDLING, "train", "--resume", str(run), "--epochs", str(state["progress"]["epoch"] + 1)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert resumed.returncode == 0, resumed.stderr
    assert (
        checkpoint.load(run / "checkpoints" / "last.pt")["progress"]["epoch"]
        == state["progress"]["epoch"] + 1
    )


def test_sigkill_at_any_moment_leaves_a_loadable_checkpoint(tmp_path):
    run = tmp_path / "run"
    proc = start_training(run, "--save-every-steps", "1")
    wait_for_epoch(proc, 1)
    for delay in (0.05, 0.13, 0.21):  # kill at arbitrary points while checkpoints are written every batch
        time.sleep(delay)
        checkpoint.load(run / "checkpoints" / "last.pt")  # readable while it is being rewritten
    proc.kill()
    proc.wait(timeout=30)
    state = checkpoint.load(run / "checkpoints" / "last.pt")
    resumed = subprocess.run(
        [*KINDLING, "train", "--resume", str(run), "--epochs", str(state["progress"]["epoch"] + 1)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert resumed.returncode == 0, resumed.stderr
    assert not list(
        (run / "checkpoints").glob(".*.tmp")
    )  # a temp file of the killed write is swept on resume
