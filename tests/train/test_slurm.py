"""Slurm without a cluster: the environment mapping of srun's tasks, the sbatch script, and the signal path
(two processes given SLURM_* variables as srun would, joined over gloo, stopped by SIGUSR1 and resumed
to weights bit-identical with an uninterrupted pair). The real cluster is in test_slurm_cluster.py."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from kindling.train import checkpoint
from kindling.train.sbatch import Job, render
from kindling.train.slurm import first_host, port_for, requeue, torchrun_env

STEP = {
    "SLURM_JOB_ID": "4242",
    "SLURM_STEP_ID": "0",
    "SLURM_PROCID": "3",
    "SLURM_LOCALID": "1",
    "SLURM_NTASKS": "4",
    "SLURM_NODELIST": "gpu[07-08]",
}


@pytest.mark.parametrize(
    ("nodelist", "first"),
    [
        ("localhost", "localhost"),
        ("gpu[07-09,12]", "gpu07"),
        ("gpu[07-09],cpu01", "gpu07"),
        ("a,b,c", "a"),
        ("rack[1-2]-n[03-04]", "rack1-n03"),
        ("node[5]", "node5"),
        ("n1.cluster.org", "n1.cluster.org"),
    ],
)
def test_first_host_of_a_nodelist(nodelist, first):
    assert first_host(nodelist) == first


def test_an_srun_task_becomes_a_rank_and_torchrun_wins():
    env = torchrun_env(STEP)
    assert env == {
        "RANK": "3",
        "LOCAL_RANK": "1",
        "WORLD_SIZE": "4",
        "MASTER_ADDR": "gpu07",
        "MASTER_PORT": str(15000 + 4242),
    }
    step = {**STEP, "SLURM_STEP_NUM_TASKS": "2", "SLURM_STEP_NODELIST": "cpu[3-4]", "MASTER_PORT": "1234"}
    assert torchrun_env(step)["WORLD_SIZE"] == "2" and torchrun_env(step)["MASTER_ADDR"] == "cpu3"
    assert port_for(step) == 1234
    assert torchrun_env({**STEP, "RANK": "0", "WORLD_SIZE": "8"}) == {}  # torchrun's variables win
    assert torchrun_env({**STEP, "TORCHELASTIC_RUN_ID": "x"}) == {}
    batch_script = {k: v for k, v in STEP.items() if k != "SLURM_STEP_ID"}
    assert torchrun_env(batch_script) == {}  # the batch script is one process, whatever the task count
    assert torchrun_env({**STEP, "SLURM_NTASKS": "1"}) == {}
    assert torchrun_env({}) == {}


def test_only_sigusr1_inside_a_job_asks_for_a_requeue(monkeypatch):
    monkeypatch.delenv("SLURM_JOB_ID", raising=False)
    assert requeue(signal.SIGUSR1, True, "saved") == ""  # not in a Slurm job
    monkeypatch.setenv("SLURM_JOB_ID", "4242")
    assert requeue(signal.SIGTERM, True, "saved") == ""  # Ctrl-C or SIGTERM: no requeue
    assert requeue(signal.SIGUSR1, False, "saved") == ""  # only rank 0 asks


def test_the_sbatch_script_is_valid_bash_with_the_job_it_describes(tmp_path):
    job = Job(
        recipe=tmp_path / "my recipe.yaml",
        run_dir=tmp_path / "runs" / "big",
        nodes=4,
        gpus_per_node=8,
        time="1-00:00:00",
        partition="gpu",
        name="big run",
        sets=["optim.lr=0.01"],
    )
    script = render(job)
    path = tmp_path / "job.sh"
    path.write_text(script)
    check = subprocess.run(["bash", "-n", str(path)], capture_output=True, text=True)
    assert check.returncode == 0, check.stderr
    for line in (
        "#SBATCH --nodes=4",
        "#SBATCH --gpus-per-node=8",
        "#SBATCH --time=1-00:00:00",
        "#SBATCH --partition=gpu",
        "#SBATCH --signal=USR1@120",
        "#SBATCH --requeue",
        "#SBATCH --job-name=big_run",
        f"#SBATCH --output={tmp_path}/runs/big.slurm-%j.log",
    ):
        assert line in script.splitlines(), line
    assert "--nproc-per-node=8" in script and '--rdzv-endpoint="$HEAD:$PORT"' in script
    assert "PORT=$((15000 + SLURM_JOB_ID % 20000))" in script  # two jobs on one node do not collide
    assert 'TRAIN=(train --resume "$RUN_DIR")' in script
    assert f"'{tmp_path}/my recipe.yaml' --run-dir \"$RUN_DIR\" --set optim.lr=0.01" in script
    assert "#SBATCH --gpus" not in render(Job(tmp_path / "r.yaml", tmp_path / "r", gpus_per_node=0))


# ------------------------------------------------------------------ two srun tasks on this machine

ARGS = ["--data", "digits", "--model", "mlp", "--batch-size", "64", "--lr", "0.003", "--threads", "1"]
ARGS += [
    "--deterministic",
    "--baseline",
    "none",
    "--set",
    "model.options.dropout=0.2",
]  # dropout: each rank draws


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def srun_pair(cwd: Path, *args: str) -> list[subprocess.Popen]:
    """Two `kindling` processes with the variables srun gives two tasks of one step on one node."""
    port = free_port()
    base = {k: v for k, v in os.environ.items() if not k.startswith(("SLURM_", "MASTER_"))}
    base = {k: v for k, v in base.items() if k not in ("RANK", "WORLD_SIZE", "LOCAL_RANK")}
    procs = []
    for rank in (0, 1):
        env = {**base, "SLURM_STEP_ID": "0", "SLURM_PROCID": str(rank), "SLURM_LOCALID": str(rank)}
        env.update({"SLURM_NTASKS": "2", "SLURM_NODELIST": "localhost", "MASTER_PORT": str(port)})
        procs.append(
            subprocess.Popen(
                [sys.executable, "-u", "-m", "kindling", *args],
                cwd=cwd,
                env=env,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
        )
    return procs


def finish(procs: list[subprocess.Popen]) -> list[tuple[str, str]]:
    return [p.communicate(timeout=600) for p in procs]


def read_records(run: Path) -> list[dict]:
    """metrics.jsonl without the timings."""
    records = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    return [{k: v for k, v in r.items() if k != "seconds"} for r in records]


def weights(run: Path) -> dict[str, torch.Tensor]:
    return checkpoint.load(run / "checkpoints" / "last.pt")["model"]


def test_srun_tasks_train_together_and_sigusr1_resumes_them_exactly(tmp_path):
    epochs = "12"
    whole = srun_pair(
        tmp_path, "train", *ARGS, "--epochs", epochs, "--run-dir", "whole", "--logger", "mlflow"
    )
    cut = srun_pair(tmp_path, "train", *ARGS, "--epochs", epochs, "--run-dir", "cut", "--logger", "none")
    deadline = time.time() + 300
    for line in cut[0].stdout:  # rank 0 prints the epochs
        if line.startswith("epoch 3/"):
            break
        assert time.time() < deadline, "the pair did not reach epoch 3"
    for proc in cut:  # as srun passes a signal on: every task gets it
        proc.send_signal(signal.SIGUSR1)
    outs = finish(cut)
    assert [p.returncode for p in cut] == [130, 130], [err[-2000:] for _, err in outs]
    assert "SIGUSR1 received: saved a resumable checkpoint" in outs[0][1], outs[0][1][-2000:]
    assert "Traceback" not in outs[0][1] + outs[1][1]
    state = checkpoint.load(tmp_path / "cut" / "checkpoints" / "last.pt")
    assert state["world"] == 2 and state["progress"]["epoch"] < int(epochs)  # stopped part-way

    resumed = srun_pair(tmp_path, "train", "--resume", "cut")
    outs = finish(resumed)
    assert [p.returncode for p in resumed] == [0, 0], [err[-2000:] for _, err in outs]
    assert "2 processes" in outs[0][0] and "epoch" not in outs[1][0]  # rank 1 prints no epochs
    outs = finish(whole)
    assert [p.returncode for p in whole] == [0, 0], [err[-2000:] for _, err in outs]

    a, b = weights(tmp_path / "whole"), weights(tmp_path / "cut")
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)  # bit-identical
    records = {name: read_records(tmp_path / name) for name in ("whole", "cut")}
    assert [r["epoch"] for r in records["cut"]] == list(range(1, int(epochs) + 1))
    assert records["cut"] == records["whole"]  # the epoch cut in two included: its metrics as well

    from mlflow.tracking import MlflowClient

    client = MlflowClient(f"sqlite:///{tmp_path / 'mlflow.db'}")  # beside the run folder
    runs = client.search_runs([e.experiment_id for e in client.search_experiments()])
    assert len(runs) == 1  # rank 0 alone logged
    history = client.get_metric_history(runs[0].info.run_id, "val_loss")
    assert sorted(m.step for m in history) == list(range(1, int(epochs) + 1))
