"""Running under Slurm: the ranks of `srun` without torchrun, and the requeue after a preemption signal.

Under `srun -n 4 kindling train ...` (no torchrun) each task reads SLURM_PROCID (its rank), SLURM_LOCALID
(its rank on the node), SLURM_STEP_NUM_TASKS or SLURM_NTASKS (the world) and the step's first node
(SLURM_STEP_NODELIST, else SLURM_NODELIST, 'gpu[07-09]' -> 'gpu07') and sets the variables torchrun
would (RANK, LOCAL_RANK, WORLD_SIZE, MASTER_ADDR, MASTER_PORT), so the rest of kindling sees one kind of
distributed run. Under torchrun, torchrun's variables win: nothing is changed. The batch script itself
(SLURM_PROCID but no SLURM_STEP_ID) is one process, whatever the job's task count.

SIGUSR1 (Slurm's `--signal=USR1@120`: the time limit or a preemption is near) stops training at the next
step with a resumable checkpoint, like SIGTERM; then rank 0 asks Slurm to requeue the job
(`scontrol requeue $SLURM_JOB_ID`), whose script resumes the run (kindling.train.sbatch).
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from collections.abc import Mapping

TORCHRUN_KEYS = ("RANK", "WORLD_SIZE", "LOCAL_RANK", "TORCHELASTIC_RUN_ID")
DEFAULT_PORT = 29500


def first_host(nodelist: str) -> str:
    """The first host of a Slurm hostlist, as `scontrol show hostnames` would list it first:
    'node[01-04,07],gpu1' -> 'node01'; 'rack[1-2]-n[3-4]' -> 'rack1-n3'; 'a,b' -> 'a'."""
    depth, end = 0, len(nodelist)
    for i, ch in enumerate(nodelist):
        depth += (ch == "[") - (ch == "]")
        if ch == "," and depth == 0:
            end = i
            break
    first = nodelist[:end].strip()
    return re.sub(r"\[([^\]]*)\]", lambda m: re.split(r"[-,]", m.group(1), maxsplit=1)[0], first)


def port_for(environ: Mapping[str, str]) -> int:
    """MASTER_PORT when set, else one derived from the job id (two jobs on one node do not collide)."""
    if environ.get("MASTER_PORT"):
        return int(environ["MASTER_PORT"])
    job = environ.get("SLURM_JOB_ID", "")
    return 15000 + int(job) % 20000 if job.isdigit() else DEFAULT_PORT


def torchrun_env(environ: Mapping[str, str]) -> dict[str, str]:
    """The torchrun variables for a task of an srun step ({} outside one, under torchrun, or alone)."""
    if any(key in environ for key in TORCHRUN_KEYS):
        return {}
    if "SLURM_PROCID" not in environ or "SLURM_STEP_ID" not in environ:
        return {}
    world = int(environ.get("SLURM_STEP_NUM_TASKS") or environ.get("SLURM_NTASKS") or "1")
    if world <= 1:
        return {}
    nodes = environ.get("SLURM_STEP_NODELIST") or environ.get("SLURM_NODELIST") or ""
    return {
        "RANK": environ["SLURM_PROCID"],
        "LOCAL_RANK": environ.get("SLURM_LOCALID", "0"),
        "WORLD_SIZE": str(world),
        "MASTER_ADDR": environ.get("MASTER_ADDR") or first_host(nodes) or "127.0.0.1",
        "MASTER_PORT": str(port_for(environ)),
    }


def requeue(signum: int | None, is_main: bool, saved: str) -> str:
    """After SIGUSR1's checkpoint inside a Slurm job: rank 0 says so (`saved`: the checkpoint's line) and
    requeues the job. Said first: Slurm ends the job's processes as soon as it is requeued. Returns what
    to add to the interruption's line ('' when nothing was asked); a failed requeue is a warning line."""
    job = os.environ.get("SLURM_JOB_ID")
    if signum != getattr(signal, "SIGUSR1", None) or not job or not is_main:
        return ""
    print(
        f"kindling: {saved}; requeueing Slurm job {job}: it resumes from this checkpoint",
        file=sys.stderr,
        flush=True,
    )
    try:
        done = subprocess.run(
            ["scontrol", "requeue", job], capture_output=True, text=True, timeout=60, check=False
        )
        why = (done.stderr or done.stdout).strip().splitlines()[-1:] if done.returncode else []
    except (OSError, subprocess.SubprocessError) as exc:
        why = [str(exc)]
    if why:
        print(
            f"kindling: warning: `scontrol requeue {job}` failed ({why[0][:160]}); "
            f"resubmit the job to resume",
            file=sys.stderr,
            flush=True,
        )
        return ""
    return f"; Slurm job {job} requeued: it resumes from this checkpoint"
