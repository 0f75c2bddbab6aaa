"""A new sweep, settled before anything is written: the recipe (and its `sweep:` section), the search space
checked against the config and the model, and the score read from the data (val_acc: maximise).

    sweep = settle("recipes/digits.yaml", ["optim.lr=loguniform:1e-4:1e-1"], trials=20)

Every refusal is one line: a key the config does not have (with a did-you-mean), a range that is empty
or reversed, a value the config or the model refuses at either end of its range, a recipe without a
validation split to score the trials on.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

from kindling import data as data_mod
from kindling import models
from kindling.config import defaults
from kindling.config.load import flatten, load_config, parse_set, read_recipe, set_dotted
from kindling.config.schema import RunConfig
from kindling.errors import UserError, did_you_mean, one_line
from kindling.report.loggers import resolve_loggers
from kindling.sweeps.space import Param, check_keys, parse_params
from kindling.sweeps.spec import Sweep
from kindling.sweeps.study import PRUNERS
from kindling.task import task_for

SECTION_KEYS = ("params", "trials", "pruner", "workers", "timeout", "storage", "name")
DEFAULT_TRIALS = 20


def read_section(recipe: str | Path) -> tuple[dict, dict]:
    """The recipe's settings and its `sweep:` section, apart (`kindling train` ignores the section)."""
    tree = read_recipe(recipe)
    section = tree.pop("sweep", None) or {}
    if not isinstance(section, dict):
        raise UserError(f"{recipe}: the sweep: section must be a mapping of {', '.join(SECTION_KEYS)}")
    for key in section:
        if key not in SECTION_KEYS:
            raise UserError(
                f"{recipe}: unknown key 'sweep.{key}'{did_you_mean(str(key), SECTION_KEYS)}; "
                f"the sweep: section takes {', '.join(SECTION_KEYS)}"
            )
    params = section.get("params") or {}
    if not isinstance(params, dict):
        raise UserError(f"{recipe}: sweep.params must map keys to ranges (optim.lr: loguniform:1e-4:1e-1)")
    section["params"] = [f"{key}={value}" for key, value in params.items()]
    tree.setdefault("name", Path(recipe).stem)
    return tree, section


def settle(
    recipe: str | Path,
    params: list[str] = (),
    trials: int | None = None,
    pruner: str | None = None,
    workers: int | None = None,
    timeout: float | None = None,
    storage: str | None = None,
    name: str | None = None,
    sets: list[str] = (),
) -> Sweep:
    """The Sweep for `recipe` and the flags (a flag wins over the recipe's sweep: section)."""
    tree, section = read_section(recipe)
    for item in sets:
        set_dotted(tree, *parse_set(item))
    base = load_config(None, base=copy.deepcopy(tree))
    resolve_loggers(
        base.train.logger
    )  # mlflow without its package: the line now, not after the folder is made
    given = {p.split("=", 1)[0].strip(): p for p in params if "=" in p}
    texts = [t for t in section["params"] if t.split("=", 1)[0] not in given] + list(params)
    space = parse_params(texts)
    check_keys(space, list(flatten(RunConfig().to_dict())))
    sweep = Sweep(
        name=name or section.get("name") or f"{base.name}-sweep",
        config=tree,
        params=[p.text for p in space],
        trials=_count("--trials", trials if trials is not None else section.get("trials", DEFAULT_TRIALS)),
        monitor="",
        direction="",
        pruner=_pruner(pruner or section.get("pruner", "median")),
        workers=_count("--workers", workers if workers is not None else section.get("workers", 1)),
        timeout=_timeout(timeout if timeout is not None else section.get("timeout")),
        storage=storage or section.get("storage"),
        recipe=str(recipe),
        sets=list(sets),
    )
    _check_name(sweep.name)
    _check_corners(sweep, space)
    sweep.monitor, sweep.direction = score(sweep, space)
    return sweep


def _count(flag: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise UserError(f"{flag} {value} must be a whole number >= 1")
    return value


def _timeout(value: Any) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0:
        raise UserError(f"--timeout {value} must be a number of seconds > 0")
    return float(value)


def _pruner(value: str) -> str:
    if value not in PRUNERS:
        raise UserError(
            f"--pruner {value}: unknown{did_you_mean(value, PRUNERS)}; use one of {', '.join(PRUNERS)}"
        )
    return value


def _check_name(name: str) -> None:
    if not name or "/" in name or name.startswith(".") or not name.isprintable():
        raise UserError(f"--name '{name}' is not a folder name; use letters, digits, - and _")


def _check_corners(sweep: Sweep, space: list[Param]) -> None:
    """Each end of each range, and each choice, through the config's own checks (types and ranges)."""
    for p in space:
        for value in p.corners():
            try:
                sweep.trial_config({p.key: value}, 0)
            except UserError as exc:
                raise UserError(one_line(f"--param {p.text}: {value!r} is refused: {exc}")) from None


def _corner_values(space: list[Param], end: int) -> dict:
    return {p.key: p.corners()[0 if end == 0 else -1] for p in space}


def _blame(space: list[Param], prefix: str) -> str:
    return " ".join(p.text for p in space if p.key.startswith(prefix)) or "(the recipe's settings)"


def score(sweep: Sweep, space: list[Param]) -> tuple[str, str]:
    """The monitored metric (what the recipe's runs pick their best epoch by) and which way is better,
    from the data; the model is built at both ends of the space, so a model option it refuses is one
    line now, not a failed trial later."""
    from kindling.data import augment  # lazy: torch

    cfg = sweep.trial_config(_corner_values(space, 0), 0)
    with data_mod.held_notes():
        data = data_mod.build(cfg.data, photos=defaults.photo_side(cfg))
    if data.val is None or len(data.val) == 0:
        raise UserError(
            f"the recipe has no validation split (data.val_fraction {cfg.data.val_fraction}) to score the "
            "trials on; give it one: --set data.val_fraction=0.2"
        )
    model = None
    for end in (0, 1):
        cfg = sweep.trial_config(_corner_values(space, end), 0)
        cfg, _ = defaults.choose(cfg, data.signature, len(data.train))
        try:
            model = models.build(cfg.model.name, data.signature, cfg.model.options)
        except UserError as exc:
            raise UserError(one_line(f"--param {_blame(space, 'model.')}: {exc}")) from None
        for p in (p for p in space if p.key == "data.augment"):
            for value in p.corners():
                try:
                    augment.build(sweep.trial_config({p.key: value}, 0).data.augment, data.signature)
                except UserError as exc:
                    raise UserError(one_line(f"--param {p.text}: {value!r} is refused: {exc}")) from None
    task = task_for(data.signature, model)
    monitor = task.monitor_for(cfg.train.monitor, len(data.val))  # as each trial's run resolves it
    return monitor, "maximize" if task.mode(monitor) == "max" else "minimize"
