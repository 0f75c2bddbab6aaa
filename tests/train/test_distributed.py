"""DDP through torchrun on CPU (gloo): 2 processes match 1 process with the same global batch; resume works
under torchrun and on another world size."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from kindling.cli.launch import torchrun_command
from kindling.evaluate.evaluation import evaluate
from kindling.train import checkpoint

COMMON = [
    "--data",
    "digits",
    "--model",
    "mlp",
    "--batch-size",
    "64",
    "--lr",
    "0.003",
    "--set",
    "train.logger=none",
    "--baseline",
    "none",
]


def kindling(*args: str, nproc: int = 1, tmp: Path | None = None) -> subprocess.CompletedProcess:
    """`kindling ARGS` in a child (under torchrun for nproc > 1, its logs in `tmp`); with `tmp`, the child's
    temporary directory is `tmp` too."""
    if nproc > 1:
        cmd = torchrun_command(nproc, list(args), log_dir=tmp)
    else:
        cmd = [sys.executable, "-m", "kindling", *args]
    env = None if tmp is None else {**os.environ, "TMPDIR": str(tmp)}
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=300, env=env)
    assert out.returncode == 0, out.stdout[-2000:] + out.stderr[-3000:]
    return out


def test_two_processes_match_one_and_resume_under_torchrun(tmp_path):
    single, ddp = tmp_path / "single", tmp_path / "ddp"
    kindling("train", *COMMON, "--epochs", "2", "--run-dir", str(single), "--threads", "1")
    # --devices 2 launches torchrun itself; stop after 1 epoch, then resume to 2 under torchrun
    temp = tmp_path / "tmp"
    temp.mkdir()
    out = kindling("train", *COMMON, "--epochs", "1", "--run-dir", str(ddp), "--devices", "2", tmp=temp)
    assert "2 processes" in out.stdout and out.stdout.count("epoch 1/1") == 1  # only rank 0 logs
    assert not list(temp.glob("torchelastic_*"))  # torchrun's logs went to a folder kindling removed
    kindling("train", "--resume", str(ddp), "--epochs", "2", nproc=2, tmp=tmp_path)
    state = checkpoint.load(ddp / "checkpoints" / "last.pt")
    assert state["progress"]["epoch"] == 2 and state["world"] == 2
    records = [json.loads(line) for line in (ddp / "metrics.jsonl").read_text().splitlines()]
    assert [r["epoch"] for r in records] == [1, 2]
    acc_single = evaluate(single)["accuracy"]
    acc_ddp = evaluate(ddp)["accuracy"]
    assert abs(acc_single - acc_ddp) <= 0.01, (acc_single, acc_ddp)
    # a checkpoint written by 2 processes resumes in 1
    kindling("train", "--resume", str(ddp), "--epochs", "3", "--threads", "1", "--devices", "1")
    assert checkpoint.load(ddp / "checkpoints" / "last.pt")["world"] == 1


def test_two_machines_through_torchrun_rendezvous(tmp_path):
    """Two torchrun agents, one per 'machine' (node ranks 0 and 1, here on loopback), meet at node 0's
    address as they would across a network; rank 0 alone writes the run, which records a world of 2."""
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    run_dir = tmp_path / "multi"
    nodes = []
    for node in (0, 1):
        launcher = [sys.executable, "-m", "torch.distributed.run", "--nnodes=2", "--nproc_per_node=1"]
        launcher += [f"--node_rank={node}", "--master_addr=127.0.0.1", f"--master_port={port}"]
        launcher += [f"--log-dir={tmp_path / 'logs'}"]
        args = ["-m", "kindling", "train", *COMMON, "--epochs", "1", "--run-dir", str(run_dir)]
        nodes.append(
            subprocess.Popen(
                [*launcher, *args], cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
            )
        )
    outs = [p.communicate(timeout=300) for p in nodes]
    assert [p.returncode for p in nodes] == [0, 0], [o[1][-2000:] for o in outs]
    assert "2 processes" in outs[0][0] and "epoch 1/1" not in outs[1][0]  # only global rank 0 logs
    assert checkpoint.load(run_dir / "checkpoints" / "last.pt")["world"] == 2
    assert evaluate(run_dir)["accuracy"] > 0.8
