"""`kindling.sweep(...)`: the sweep from Python, through the same engine as `kindling sweep`."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from kindling.api import Run
from kindling.errors import UserError
from kindling.sweeps.study import optuna


def sweep(
    recipe: str | Path | None = None,
    *,
    params: dict[str, str] | list[str] | None = None,
    trials: int | None = None,
    pruner: str | None = None,
    workers: int | None = None,
    timeout: float | None = None,
    storage: str | None = None,
    name: str | None = None,
    resume: str | Path | None = None,
    set: dict[str, Any] | None = None,  # noqa: A002 - reads as the CLI's --set
    echo=print,
):
    """Run a sweep and return the study's best `Run` (its trial's run directory).

        run = kindling.sweep("recipes/digits.yaml", params={"optim.lr": "loguniform:1e-4:1e-1",
                             "model.options.width": "int:16:128"}, trials=20, pruner="median")
        run = kindling.sweep(resume="runs/digits-sweep")     # a sweep that was stopped, continued

    `params` maps keys to ranges as `--param` writes them (or is a list of `KEY=KIND:ARGS`); the other
    keywords are the command's flags. A mistake raises `kindling.UserError`; Ctrl-C leaves the running
    trial's checkpoint and raises KeyboardInterrupt with the line that continues the sweep."""

    texts = [f"{k}={v}" for k, v in params.items()] if isinstance(params, dict) else list(params or [])
    sets = [f"{k}={v if isinstance(v, str) else json.dumps(v)}" for k, v in (set or {}).items()]
    code, folder, best = run_sweep(
        recipe, texts, trials, pruner, workers, timeout, storage, name, sets, resume, echo
    )
    if code == 130:
        raise KeyboardInterrupt(f"sweep interrupted; continue it with kindling.sweep(resume={str(folder)!r})")
    if code:
        raise UserError(
            f"a worker of the sweep in {folder} stopped with exit code {code} (see its line above)"
        )
    if best is None:
        raise UserError(
            f"no trial of the sweep in {folder} has finished (see the table); its best run is not here"
        )
    return Run(best)


def run_sweep(recipe, params, trials, pruner, workers, timeout, storage, name, sets, resume, echo=print):
    """Start (or continue) the sweep, run it, sum it up; -> (exit code, folder, best trial's run dir)."""
    from kindling.sweeps import engine  # lazy: yaml
    from kindling.sweeps.results import summarise  # lazy: yaml
    from kindling.sweeps.worker import Session  # lazy: yaml

    optuna()  # without it, the pip line comes first
    if resume is not None:
        given = {
            "RECIPE": recipe,
            "--param": params,
            "--pruner": pruner,
            "--storage": storage,
            "--name": name,
            "--set": sets,
        }
        extra = [flag for flag, value in given.items() if value]
        if extra:
            raise UserError(
                f"--resume continues a sweep on its own settings; drop {', '.join(extra)} "
                "(--trials, --workers and --timeout may change)"
            )
        for flag, value in (("--workers", workers), ("--trials", trials)):
            if value is not None and value < 1:
                raise UserError(f"{flag} {value} must be a whole number >= 1")
        sweep = engine.resume(resume, trials)
    else:
        if recipe is None:
            raise UserError(
                "sweep needs a RECIPE (or --resume runs/NAME); e.g. kindling sweep recipes/digits.yaml --param optim.lr=loguniform:1e-4:1e-1"
            )
        from kindling.sweeps.settle import settle  # lazy: yaml

        sweep = settle(recipe, params, trials, pruner, workers, timeout, storage, name, sets)
        engine.start(sweep)
    folder = Path(sweep.folder)
    code = engine.run(sweep, workers, timeout, echo)
    best = summarise(Session.open(sweep), echo)
    return code, folder, best
