"""`kindling slurm RECIPE --nodes N --gpus-per-node G --time HH:MM:SS [--partition P] [--submit]`: the
sbatch script that trains RECIPE on a Slurm cluster (kindling.train.sbatch), printed, written with
`--output FILE`, or submitted with `--submit`. Nothing heavy is imported: `kindling --help` answers at once.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

from kindling.errors import UserError
from kindling.train.sbatch import Job, check, render
from kindling.util.fileio import atomic_write_text


def add_commands(sub) -> None:
    p = sub.add_parser(
        "slurm",
        help="write (or submit) the sbatch script that trains a recipe on a Slurm cluster, resumable",
        description="An sbatch script: one torchrun per node, rendezvous on the first node, the run folder on "
        "the shared file system; SIGUSR1 (120 s before the time limit) checkpoints and requeues the job, "
        "which then resumes exactly.",
    )
    p.add_argument("recipe", help="recipe YAML file")
    p.add_argument("--nodes", type=int, default=1, help="nodes (default: 1)")
    p.add_argument(
        "--gpus-per-node",
        type=int,
        default=0,
        help="GPUs per node, one process each; 0: one CPU process per node (default: 0)",
    )
    p.add_argument(
        "--time", default="01:00:00", help="time limit, HH:MM:SS or D-HH:MM:SS (default: 01:00:00)"
    )
    p.add_argument("--partition", default=None, help="Slurm partition (default: the cluster's default)")
    p.add_argument(
        "--run-dir", default=None, help="the run folder, on the shared file system (default: runs/NAME)"
    )
    p.add_argument(
        "--set",
        dest="sets",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="config overrides, as for train (repeatable; default: none)",
    )
    p.add_argument(
        "--port",
        type=int,
        default=None,
        help="rendezvous port on the first node (default: 15000 + the job id modulo 20000)",
    )
    p.add_argument("--output", default=None, help="write the script to this file (default: print it)")
    p.add_argument(
        "--submit", action="store_true", help="submit it with sbatch (default: only print or write it)"
    )
    p.set_defaults(handler=cmd_slurm)


def job_for(args):
    """The Job of the command line; the recipe is settled (and so checked) as `kindling train` would."""
    from kindling.config.load import load_config  # lazy: yaml

    cfg = load_config(args.recipe, {"run_dir": args.run_dir}, args.sets)
    job = Job(
        recipe=Path(args.recipe).resolve(),
        run_dir=cfg.resolved_run_dir().resolve(),
        nodes=args.nodes,
        gpus_per_node=args.gpus_per_node,
        time=args.time,
        partition=args.partition,
        name=cfg.name or Path(args.recipe).stem,
        port=args.port,
        sets=list(args.sets),
    )
    check(job)
    return job


def sbatch() -> str:
    found = shutil.which("sbatch")
    if found is None:
        raise UserError(
            "sbatch is not on PATH: run `kindling slurm ... --submit` on the cluster's login node, or write the "
            "script with --output FILE and submit it there"
        )
    return found


def submit(script: str, path: Path | None) -> str:
    """sbatch the script (the file, else on stdin); return the job id."""
    command = [sbatch(), "--parsable"] + ([str(path)] if path else [])
    try:
        done = subprocess.run(
            command, input=None if path else script, capture_output=True, text=True, timeout=120, check=False
        )
    except subprocess.TimeoutExpired as exc:
        raise UserError("sbatch did not answer in 120 s: is the Slurm controller up? (`sinfo`)") from exc
    if done.returncode:
        why = (done.stderr.strip().splitlines() or ["no message"])[-1]
        raise UserError(f"sbatch refused the job: {why[:200]}")
    return done.stdout.strip().split(";")[0]


def cmd_slurm(args) -> int:

    if args.submit:
        sbatch()  # before anything is written
    job = job_for(args)
    script = render(job)
    path = Path(args.output) if args.output else None
    if path is not None:
        atomic_write_text(path, script)
        path.chmod(0o755)
    if not args.submit:
        if path is None:
            print(script, end="")
        else:
            print(f"wrote {path}: submit it with `sbatch {path}`")
        return 0
    job.run_dir.parent.mkdir(parents=True, exist_ok=True)  # Slurm opens the log there first
    job_id = submit(script, path)
    print(f"submitted Slurm job {job_id}: training {job.run_dir}; log {str(job.log).replace('%j', job_id)}")
    print(
        f"a SIGUSR1 (scancel --signal=USR1 {job_id}) checkpoints and requeues it; it resumes exactly",
        file=sys.stderr,
    )
    return 0
