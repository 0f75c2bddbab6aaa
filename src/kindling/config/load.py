"""Loading a run configuration: defaults < recipe YAML < CLI flags < `--set a.b=c` overrides.

    cfg = load_config("recipes/digits.yaml", {"train.epochs": 3}, ["optim.lr=0.01"])
    cfg = config_from_yaml(text)     # a saved run's config.yaml

The dataclasses themselves, their defaults and flags are kindling.config.schema; every config made here
passes `checked` (kindling.config.checks).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from kindling.config.checks import validate
from kindling.config.schema import RunConfig
from kindling.config.types import from_dict
from kindling.errors import UserError
from kindling.util.fileio import read_utf8


def flatten(tree: dict, prefix: str = "") -> dict:
    """A config tree as dotted keys: {"optim": {"lr": 0.1}} -> {"optim.lr": 0.1}; a model's options stay
    one value (they are the model's own keywords, not config keys)."""
    out = {}
    for key, value in tree.items():
        if isinstance(value, dict) and key != "options":
            out.update(flatten(value, f"{prefix}{key}."))
        else:
            out[f"{prefix}{key}"] = value
    return out


def set_dotted(tree: dict, dotted: str, value: Any) -> None:
    """`set_dotted(d, "optim.lr", 0.1)` sets d["optim"]["lr"]; the key is checked later by from_dict."""
    *parents, leaf = dotted.split(".")
    node = tree
    for part in parents:
        node = node.setdefault(part, {})
        if not isinstance(node, dict):
            raise UserError(f"--set {dotted}: '{part}' is not a section")
    node[leaf] = value


def parse_set(item: str) -> tuple[str, Any]:
    """Parse one `--set key=value`; the value is read as YAML (numbers, booleans, lists)."""
    if "=" not in item:
        raise UserError(f"--set '{item}' is not of the form section.key=value (e.g. --set optim.lr=0.01)")
    key, raw = item.split("=", 1)
    key = key.strip()
    if not key:
        raise UserError(f"--set '{item}' has no key before '='")
    try:
        value = yaml.safe_load(raw) if raw.strip() else ""
    except yaml.YAMLError:
        value = raw
    return key, value


def read_recipe(path: str | Path) -> dict:
    """Read a recipe YAML file; a syntax error names the file and line."""
    path = Path(path)
    if not path.is_file():
        raise UserError(f"recipe {path} does not exist; see `kindling list recipes`")
    try:
        tree = yaml.safe_load(read_utf8(path, "a recipe is a YAML text file; see `kindling list recipes`"))
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark
        line = f":{mark.line + 1}" if mark is not None else ""
        raise UserError(f"{path}{line}: invalid YAML ({exc.problem}); fix the recipe file") from exc
    except yaml.YAMLError as exc:
        raise UserError(f"{path}: invalid YAML ({exc}); fix the recipe file") from exc
    if tree is None:
        return {}
    if not isinstance(tree, dict):
        raise UserError(
            f"{path}: a recipe must be a mapping of sections (data, model, optim, train), got {type(tree).__name__}"
        )
    return tree


def _deep_merge(base: dict, over: dict) -> dict:
    out = dict(base)
    for key, value in over.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict) and key != "options":
            out[key] = _deep_merge(out[key], value)
        else:
            out[key] = value
    return out


def load_config(
    recipe: str | Path | None = None,
    flags: dict | None = None,
    sets: list[str] = (),
    base: dict | None = None,
) -> RunConfig:
    """Resolve the config: defaults < recipe (or `base`, a saved run's config) < flags (dotted keys) < `--set`."""
    tree: dict = dict(base or {})
    if recipe:
        tree = read_recipe(recipe)
        tree.pop("sweep", None)  # a recipe's search space is `kindling sweep`'s (kindling.sweeps)
        tree.setdefault("name", Path(recipe).stem)
    for dotted, value in (flags or {}).items():
        if value is not None:
            set_dotted(tree, dotted, value)
    for item in sets:
        set_dotted(tree, *parse_set(item))
    return checked(from_dict(RunConfig, _deep_merge({}, tree)))


def config_from_yaml(text: str) -> RunConfig:
    """A saved run's config; its paths are not checked (the run may be read on another machine)."""
    return checked(from_dict(RunConfig, yaml.safe_load(text) or {}), paths=False)


def checked(cfg: RunConfig, paths: bool = True) -> RunConfig:
    """`cfg` once every value is in range (kindling.config.checks): the one gate every RunConfig passes."""

    validate(cfg, paths=paths)
    return cfg
