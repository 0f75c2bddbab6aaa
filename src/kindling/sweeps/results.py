"""What a sweep leaves: a table of its trials, the best settings as a ready `kindling train` command and as
`best.yaml`, `runs/NAME/best` pointing at the best trial's Bundle (so `predict`, `serve` and `export`
take the sweep folder), and the sweep page `sweep.html`.
"""

from __future__ import annotations

import os
import shlex
import socket
from dataclasses import dataclass, field
from pathlib import Path

from kindling.sweeps.spec import Sweep

BEST_YAML = "best.yaml"


@dataclass
class Row:
    """One trial as the table and the page show it."""

    number: int
    state: str  # complete | pruned | failed | running | waiting
    value: float | None
    params: dict = field(default_factory=dict)
    epochs: int | None = None
    seconds: float | None = None
    note: str = ""


def rows_of(session) -> list[Row]:
    rows = []
    for t in session.study.get_trials(deepcopy=False):
        value = t.value
        if value is None and t.intermediate_values:  # pruned: its last epoch's value
            value = t.intermediate_values[max(t.intermediate_values)]
        state = {"COMPLETE": "complete", "PRUNED": "pruned", "FAIL": "failed"}.get(
            t.state.name, t.state.name.lower()
        )
        rows.append(
            Row(
                t.number,
                state,
                value,
                dict(t.params),
                t.user_attrs.get("kindling.epochs", len(t.intermediate_values) or None),
                t.user_attrs.get("kindling.seconds"),
                t.user_attrs.get("kindling.error", ""),
            )
        )
    return rows


def best_trial(session):
    """The best finished trial, or None when none finished."""
    done = [t for t in session.study.get_trials(deepcopy=False) if t.state.name == "COMPLETE"]
    if not done:
        return None
    return session.study.best_trial


def table(rows: list[Row], keys: list[str], monitor: str) -> str:
    header = ["trial", "state", monitor, "epochs", "seconds", *keys]
    lines = [
        [
            str(r.number),
            r.state,
            _num(r.value),
            _num(r.epochs),
            _num(r.seconds),
            *(_num(r.params.get(k)) for k in keys),
        ]
        for r in rows
    ]
    widths = [
        max(len(h), *(len(line[i]) for line in lines)) if lines else len(h) for i, h in enumerate(header)
    ]
    out = ["  ".join(h.ljust(w) for h, w in zip(header, widths)).rstrip()]
    out += ["  ".join(c.ljust(w) for c, w in zip(line, widths)).rstrip() for line in lines]
    return "\n".join(out)


def _num(value) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return (
            f"{value:.4g}"
            if abs(value) < 1e-3 or abs(value) >= 1e4
            else f"{value:.4f}".rstrip("0").rstrip(".")
        )
    return str(value)


def train_command(sweep: Sweep, params: dict) -> str:
    """The `kindling train` command that trains the best settings: the recipe, the sweep's own --set
    items and one --set per searched key."""
    sets = [*sweep.sets, *(f"{k}={_yaml_value(v)}" for k, v in params.items())]
    recipe = sweep.recipe if sweep.recipe and Path(sweep.recipe).is_file() else str(sweep.folder / BEST_YAML)
    words = ["kindling", "train", recipe, *(w for s in sets for w in ("--set", s))]
    if recipe.endswith(BEST_YAML):
        words = words[:3]
    return " ".join(shlex.quote(w) for w in words)


def _yaml_value(value) -> str:
    import yaml

    return yaml.safe_dump(value, default_flow_style=True).strip().removesuffix("...").strip()


def write_best(sweep: Sweep, trial) -> Path | None:
    """best.yaml (the best trial's settings as a recipe that `kindling train` takes) and the `best` link;
    None when that trial ran on another machine (its folder is there, not here)."""
    from kindling.runner import load_saved_config
    from kindling.util.fileio import atomic_write_text

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
    from kindling.sweeps.page import write_page

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
    return ", ".join(f"{k}={_num(v)}" for k, v in params.items())
