"""The sbatch script of `kindling slurm`: one torchrun per node, meeting at the first node, training one
run folder on the shared file system, resumed whenever the job is requeued.

    print(render(Job(recipe, run_dir, nodes=2, gpus_per_node=4, time="04:00:00")))

The job asks Slurm for `--signal=USR1@120` and `--requeue`: two minutes before the time limit (or when
`scancel --signal=USR1 JOBID` preempts it) every training process gets SIGUSR1, writes a resumable
checkpoint at the next step and rank 0 requeues the job (kindling.train.slurm). The requeued job runs the
same script, which finds the checkpoint and runs `kindling train --resume RUN`: it continues exactly.
Slurm signals every process of the job step (proctrack/cgroup and linuxproc), and torchrun >= 2.9 passes
the signal on as well (`--signals-to-handle`, set through its PET_ variable: an older torchrun ignores the
variable); torchrun is started with SIGUSR1 ignored, so an older one is not ended by it. A worker told
twice acts once (kindling.train.signals).
"""

from __future__ import annotations

import re
import shlex
import sys
from dataclasses import dataclass, field
from pathlib import Path

from kindling.errors import UserError

TIME = re.compile(r"^(?:(\d+)-)?(\d+):([0-5]\d):([0-5]\d)$")  # [D-]HH:MM:SS
SLURM_WORD = re.compile(r"^[\w.,:+-]+$")  # what goes on an #SBATCH line unquoted
SIGNAL_LEAD = 120  # seconds before the time limit that SIGUSR1 arrives
HANDLED = "SIGTERM,SIGINT,SIGHUP,SIGQUIT,SIGUSR1"


@dataclass
class Job:
    recipe: Path
    run_dir: Path
    nodes: int = 1
    gpus_per_node: int = 0
    time: str = "01:00:00"
    partition: str | None = None
    name: str = "kindling"
    port: int | None = None  # the rendezvous port; None: 15000 + job id % 20000 (jobs sharing a node differ)
    sets: list[str] = field(default_factory=list)
    workdir: Path = field(default_factory=Path.cwd)
    python: str = sys.executable

    @property
    def procs_per_node(self) -> int:
        """One process per GPU; on CPU nodes one process per node."""
        return max(1, self.gpus_per_node)

    @property
    def log(self) -> Path:
        """Beside the run folder (Slurm opens it before the run folder exists): runs/NAME.slurm-JOBID.log"""
        return self.run_dir.parent / f"{self.run_dir.name}.slurm-%j.log"


def seconds(limit: str) -> int:
    found = TIME.match(limit)
    if not found:
        raise UserError(
            f"--time {limit!r} is not a time limit: write HH:MM:SS or D-HH:MM:SS (--time 04:00:00)"
        )
    days, hours, minutes, secs = (int(g or 0) for g in found.groups())
    return ((days * 24 + hours) * 60 + minutes) * 60 + secs


def check(job: Job) -> None:
    """Refuse what Slurm would refuse later, or a job that could not resume (one line each)."""
    if job.nodes < 1:
        raise UserError(f"--nodes {job.nodes}: a job needs at least one node (--nodes 1)")
    if job.gpus_per_node < 0:
        raise UserError(
            f"--gpus-per-node {job.gpus_per_node} is negative: use 0 for CPU nodes, or the GPUs per node"
        )
    if seconds(job.time) <= SIGNAL_LEAD:
        raise UserError(
            f"--time {job.time} leaves no training before the checkpoint signal, sent {SIGNAL_LEAD} s before "
            "the limit: ask for more (--time 01:00:00)"
        )
    if job.partition is not None and not SLURM_WORD.match(job.partition):
        raise UserError(f"--partition {job.partition!r} is not a partition name (letters, digits, . _ , -)")
    if job.port is not None and not 0 < job.port < 65536:
        raise UserError(f"--port {job.port} is not a port number (1-65535)")


def render(job: Job) -> str:
    """The sbatch script (bash) for `job`, checked first."""
    check(job)
    q = shlex.quote
    name = re.sub(r"[^\w.-]", "_", job.name) or "kindling"
    head = [
        "#!/bin/bash",
        f"# kindling: {name} on {job.nodes} node(s), {job.procs_per_node} process(es) per node",
        f"#SBATCH --job-name={name}",
        f"#SBATCH --nodes={job.nodes}",
        "#SBATCH --ntasks-per-node=1",
        *([f"#SBATCH --gpus-per-node={job.gpus_per_node}"] if job.gpus_per_node else []),
        f"#SBATCH --time={job.time}",
        *([f"#SBATCH --partition={job.partition}"] if job.partition else []),
        f"#SBATCH --signal=USR1@{SIGNAL_LEAD}",
        "#SBATCH --requeue",
        "#SBATCH --open-mode=append",
        f"#SBATCH --output={job.log}",
    ]
    start = [q(str(job.recipe)), "--run-dir", '"$RUN_DIR"', *(f"--set {q(s)}" for s in job.sets)]
    body = f"""
set -eu
cd {q(str(job.workdir))}
RUN_DIR={q(str(job.run_dir))}  # on the shared file system: every node trains the same run folder
HEAD=$(scontrol show hostnames "$SLURM_JOB_NODELIST" | head -n 1)  # the rendezvous: the first node
PORT={job.port if job.port is not None else "$((15000 + SLURM_JOB_ID % 20000))"}
if [ -f "$RUN_DIR/checkpoints/last.pt" ]; then
  TRAIN=(train --resume "$RUN_DIR")  # requeued (or resubmitted): continue exactly
else
  TRAIN=(train {" ".join(start)})
fi
echo "kindling: job $SLURM_JOB_ID (restart ${{SLURM_RESTART_COUNT:-0}}) on $SLURM_JOB_NODELIST: ${{TRAIN[*]}}"
export PET_SIGNALS_TO_HANDLE={HANDLED}  # torchrun (>= 2.9) passes SIGUSR1 on to kindling,
export PET_SHUTDOWN_TIMEOUT={SIGNAL_LEAD - 10}  # and gives it the time to write its checkpoint
export PYTHONUNBUFFERED=1  # the log follows the training live (tail -f)
srun --ntasks-per-node=1 --kill-on-bad-exit=1 bash -c 'trap "" USR1; exec "$@"' torchrun \\
  {q(job.python)} -m torch.distributed.run \\
  --nnodes="$SLURM_JOB_NUM_NODES" --nproc-per-node={job.procs_per_node} \\
  --rdzv-backend=c10d --rdzv-endpoint="$HEAD:$PORT" --rdzv-id="$SLURM_JOB_ID" \\
  -m kindling "${{TRAIN[@]}}"
"""
    return "\n".join(head) + "\n" + body
