"""A sweep's trials as rows: the table printed after each trial, the best one, the command that trains it.

rows = rows_of(session); print(table(rows, keys, "val_acc")); train_command(sweep, best.params)
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass, field
from pathlib import Path

import yaml

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
            number_text(r.value),
            number_text(r.epochs),
            number_text(r.seconds),
            *(number_text(r.params.get(k)) for k in keys),
        ]
        for r in rows
    ]
    widths = [
        max(len(h), *(len(line[i]) for line in lines)) if lines else len(h) for i, h in enumerate(header)
    ]
    out = ["  ".join(h.ljust(w) for h, w in zip(header, widths)).rstrip()]
    out += ["  ".join(c.ljust(w) for c, w in zip(line, widths)).rstrip() for line in lines]
    return "\n".join(out)


def number_text(value) -> str:
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

    return yaml.safe_dump(value, default_flow_style=True).strip().removesuffix("...").strip()
