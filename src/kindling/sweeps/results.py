"""What a sweep leaves: a table of its trials, the best settings as a ready `kindling train` command and as
`best.yaml`, `runs/NAME/best` pointing at the best trial's Bundle (so `predict`, `serve` and `export`
take the sweep folder), and the sweep page `sweep.html`.
"""

from __future__ import annotations

import os
import socket
from pathlib import Path

from kindling.bundle.rundir import load_saved_config
from kindling.sweeps.page import write_page
from kindling.sweeps.spec import Sweep
from kindling.sweeps.trials import (
    BEST_YAML,
    best_trial,
    number_text,
    rows_of,
    table,
    train_command,
)
from kindling.util.fileio import atomic_write_text


def write_best(sweep: Sweep, trial) -> Path | None:
    """best.yaml (the best trial's settings as a recipe that `kindling train` takes) and the `best` link;
    None when that trial ran on another machine (its folder is there, not here)."""

    run_dir = sweep.trial_dir(trial.number)
    if not (run_dir / "best" / "model.safetensors").is_file():
        return None
    cfg = load_saved_config(run_dir)
    cfg.name, cfg.run_dir = f"{sweep.name}-best", None
    base = (
        sweep.base_config()
    )  # a worker's share of the cores, and the trials' skipped baseline, are no settings
    cfg.train.threads, cfg.train.baseline = base.train.threads, base.train.baseline
    atomic_write_text(sweep.folder / BEST_YAML, cfg.to_yaml())
    link(sweep.folder / "best", Path(run_dir.name) / "best")
    return run_dir


def link(path: Path, target: Path) -> None:
    """`path` -> `target` (relative), replaced atomically: a reader sees the old link or the new one."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.unlink(missing_ok=True)
    os.symlink(target, tmp)
    os.replace(tmp, path)


def summarise(session, echo=print) -> Path | None:
    """Print the table and the best settings; write best.yaml, the `best` link and sweep.html.
    -> the best trial's run directory (None when no trial finished, or the best ran elsewhere)."""

    sweep = session.sweep
    keys = [p.key for p in sweep.space]
    rows = rows_of(session)
    echo(table(rows, keys, sweep.monitor))
    page = write_page(session, rows)
    best = best_trial(session)
    if best is None:
        echo(f"no trial has finished yet; page in {page}")
        return None
    run_dir = write_best(sweep, best)
    echo(f"best: trial {best.number}, {sweep.monitor} {best.value:.4f} ({_shown(best.params)})")
    echo(f"train it: {train_command(sweep, best.params)}")
    if run_dir is None:
        host = best.user_attrs.get("kindling.host", "another machine")
        where = best.user_attrs.get("kindling.dir", "its trial folder")
        echo(
            f"the best trial ran on {host if host != socket.gethostname() else 'this machine'}: its Bundle is in {where}"
        )
    else:
        echo(
            f"{sweep.folder / 'best'} -> {run_dir.name}/best; settings in {sweep.folder / BEST_YAML}; page in {page}"
        )
    return run_dir


def _shown(params: dict) -> str:
    return ", ".join(f"{k}={number_text(v)}" for k, v in params.items())
