"""A real one-node Slurm cluster on this machine: Debian's slurm-wlm with munge (installed with apt-get when
missing), configured here in a temp folder on loopback ports, its daemons started here and stopped after.
`kindling slurm --submit` sends the job; SIGUSR1 (what `--signal=USR1@120` sends before the time limit)
makes it checkpoint and requeue itself; the requeued job resumes, and finishes with weights bit-identical
to an uninterrupted run. Where Slurm cannot be installed or started, the test is skipped saying why."""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from kindling.train import checkpoint

BINARIES = ("slurmctld", "slurmd", "sbatch", "scontrol", "scancel", "sinfo", "munged", "mungekey")
RECIPE = """data:
  name: digits
  batch_size: 64
model:
  name: mlp
  options: {dropout: 0.2}
optim:
  lr: 0.003
train:
  epochs: 40
  threads: 1
  deterministic: true
  logger: none
  baseline: none
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def install_slurm() -> str:
    """'' when slurm-wlm and munge are here (apt-get installs them when missing), else why not."""
    if all(shutil.which(b) for b in BINARIES):
        return ""
    if os.geteuid() != 0 or not shutil.which("apt-get"):
        return "slurm-wlm is not installed, and apt-get (as root) is not available to install it"
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    outputs = []
    for command in (
        ["apt-get", "update", "-qq"],
        ["apt-get", "install", "-y", "-qq", "--no-install-recommends", "slurm-wlm", "munge"],
    ):
        done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=900)
        outputs.append(f"{' '.join(command)} -> {done.returncode}: {(done.stderr or done.stdout)[-500:]}")
    missing = [b for b in BINARIES if not shutil.which(b)]
    return f"still missing {missing} after: {' | '.join(outputs)}" if missing else ""


def slurm_conf(root: Path, munge_socket: Path) -> str:
    ctld, slurmd = free_port(), free_port()
    return f"""ClusterName=kindlingtest
SlurmctldHost=localhost(127.0.0.1)
SlurmctldPort={ctld}
SlurmdPort={slurmd}
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket={munge_socket},cred_expire=5
StateSaveLocation={root}/state
SlurmdSpoolDir={root}/spool
SlurmctldPidFile={root}/slurmctld.pid
SlurmdPidFile={root}/slurmd.pid
SlurmctldLogFile={root}/slurmctld.log
SlurmdLogFile={root}/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
MpiDefault=none
MailProg=/bin/true
ReturnToService=2
SchedulerType=sched/backfill
MinJobAge=600
SchedulerParameters=bf_interval=1,sched_interval=2
NodeName=localhost NodeAddr=127.0.0.1 CPUs={os.cpu_count()} State=UNKNOWN
PartitionName=debug Nodes=localhost Default=YES MaxTime=INFINITE State=UP
"""


def stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=20)


@pytest.fixture(scope="module")
def slurm_cluster(tmp_path_factory):
    """munged, slurmctld and slurmd on this machine (root, loopback ports, a temp folder): the environment
    that points Slurm's commands at them. Skipped, saying what failed, where that cannot be done."""
    why = install_slurm()
    if why:
        pytest.skip(why)
    if os.geteuid() != 0:
        pytest.skip("a one-node Slurm cluster here needs root (slurmd runs jobs as their user)")
    root = tmp_path_factory.mktemp("slurm")
    for sub in ("state", "spool", "munge"):
        (root / sub).mkdir()
    munge = root / "munge"
    munge.chmod(0o755)
    key = munge / "munge.key"
    subprocess.run(["mungekey", "--create", f"--keyfile={key}", "--force"], check=True, capture_output=True)
    key.chmod(0o600)
    sock = munge / "munge.socket"
    daemons = [
        subprocess.Popen(
            ["munged", "-F", "--force", f"--key-file={key}", f"--socket={sock}", f"--pid-file={munge}/pid"]
            + [f"--log-file={munge}/log", f"--seed-file={munge}/seed"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.STDOUT,
        )
    ]
    conf = root / "slurm.conf"
    conf.write_text(slurm_conf(root, sock))
    env = {**os.environ, "SLURM_CONF": str(conf)}
    try:
        wait_for(lambda: sock.exists(), 30, lambda: f"munged did not start: {read(munge / 'log')}")
        for command in (
            ["slurmctld", "-D", "-f", str(conf)],
            ["slurmd", "-D", "-N", "localhost", "-f", str(conf)],
        ):
            log = open(root / f"{command[0]}.out", "w")  # noqa: SIM115 - the daemon's, closed with the folder
            daemons.append(subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT))
        wait_for(
            lambda: run(["sinfo", "-h", "-o", "%T"], env).strip() == "idle",
            90,
            lambda: (
                "slurm did not come up: "
                + " | ".join(f"{n}: {read(root / n)[-600:]}" for n in ("slurmctld.out", "slurmd.out"))
            ),
        )
        yield env
    except StartFailed as exc:
        pytest.skip(str(exc))
    finally:
        if shutil.which("scancel"):
            subprocess.run(["scancel", "--full", "--user=root"], env=env, capture_output=True, timeout=30)
        for proc in reversed(daemons):  # slurmd, slurmctld, munged: the ones started here, by their handle
            stop(proc)


class StartFailed(Exception):
    pass


def read(path: Path) -> str:
    return path.read_text(errors="replace") if path.exists() else f"(no {path.name})"


def run(command: list[str], env: dict) -> str:
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=60)
    return done.stdout


def wait_for(ready, seconds: float, why, failure=StartFailed) -> None:
    """Poll `ready` until it is true; after `seconds`, raise `failure` saying `why()`."""
    deadline = time.time() + seconds
    while not ready():
        if time.time() > deadline:
            raise failure(why())
        time.sleep(0.5)


def job_field(job: str, name: str, env: dict) -> str:
    found = re.search(rf"\b{name}=(\S+)", run(["scontrol", "show", "job", job], env))
    return found.group(1) if found else ""


def test_a_job_requeued_by_its_signal_resumes_to_the_same_weights(slurm_cluster, tmp_path):
    env = slurm_cluster
    recipe = tmp_path / "tiny.yaml"
    recipe.write_text(RECIPE)
    kindling = [sys.executable, "-m", "kindling"]
    whole = subprocess.Popen(  # the uninterrupted run, meanwhile, outside Slurm
        [*kindling, "train", str(recipe), "--run-dir", str(tmp_path / "whole")],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    args = ["slurm", str(recipe), "--nodes", "1", "--gpus-per-node", "0", "--time", "00:20:00"]
    args += ["--run-dir", str(tmp_path / "runs" / "cut"), "--port", str(free_port()), "--submit"]
    sent = subprocess.run(
        [*kindling, *args], env=env, capture_output=True, text=True, timeout=120, cwd=tmp_path
    )
    assert sent.returncode == 0, sent.stderr
    job = re.search(r"submitted Slurm job (\d+)", sent.stdout).group(1)
    log = tmp_path / "runs" / f"cut.slurm-{job}.log"

    reached = lambda: f"the job did not reach epoch 3: {read(log)[-3000:]}"  # noqa: E731
    wait_for(lambda: "epoch 3/" in read(log), 300, reached, AssertionError)
    subprocess.run(["scancel", "--signal=USR1", job], env=env, check=True, timeout=60)  # as --signal=USR1@120
    wait_for(
        lambda: job_field(job, "JobState", env) in ("COMPLETED", "FAILED", "CANCELLED", "TIMEOUT"),
        420,
        lambda: f"job {job} did not finish ({job_field(job, 'JobState', env)}): {read(log)[-3000:]}",
        AssertionError,
    )
    text = read(log)
    assert job_field(job, "JobState", env) == "COMPLETED", text[-3000:]
    assert job_field(job, "Restarts", env) == "1", text[-3000:]  # requeued once, by its own signal
    assert "SIGUSR1 received: saved a resumable checkpoint" in text, text[-3000:]
    assert f"requeueing Slurm job {job}" in text and "(restart 1)" in text and "train --resume" in text
    assert whole.wait(timeout=300) == 0, whole.stderr.read()[-2000:]
    a = checkpoint.load(tmp_path / "whole" / "checkpoints" / "last.pt")
    b = checkpoint.load(tmp_path / "runs" / "cut" / "checkpoints" / "last.pt")
    assert a["progress"]["epoch"] == b["progress"]["epoch"] == 40
    assert all(torch.equal(a["model"][k], b["model"][k]) for k in a["model"])  # bit-identical
