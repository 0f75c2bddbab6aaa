"""The run folder as the later verbs read it: the run's saved config, and the data a Bundle was trained on.

cfg = load_saved_config(Path("runs/digits"))     # RUN/config.yaml, checked, as a RunConfig
data_cfg = data_config_for(bundle)               # the Bundle's header, else its run's config.yaml
"""

from __future__ import annotations

from pathlib import Path

import yaml

from kindling.bundle.files import Bundle
from kindling.config.load import config_from_yaml
from kindling.config.schema import DataConfig, RunConfig
from kindling.config.types import from_dict
from kindling.errors import UserError, near_folder
from kindling.util.codetrust import check_saved_data
from kindling.util.fileio import read_utf8


def load_saved_config(run_dir: Path) -> RunConfig:
    path = Path(run_dir) / "config.yaml"
    if not Path(run_dir).exists():
        raise UserError(f"{run_dir} does not exist{near_folder(run_dir)}; pass a run directory (runs/NAME)")
    if not path.is_file():
        raise UserError(f"{run_dir} is not a kindling run directory (no config.yaml); pass runs/NAME")

    text = read_utf8(path, "restore the run's config.yaml")
    if not text.strip():
        raise UserError(f"{path} is empty; restore the run's config.yaml or start a new run")
    try:
        return config_from_yaml(text)
    except UserError as exc:
        raise UserError(f"{path}: {exc}") from exc
    except yaml.YAMLError as exc:
        where = getattr(exc, "problem_mark", None)
        at = f" at line {where.line + 1} column {where.column + 1}" if where else ""
        raise UserError(f"{path} is not valid YAML{at}; restore the run's config.yaml") from exc


def data_config_for(bundle: Bundle, data_spec: str | None = None) -> DataConfig:
    """The data a Bundle was trained on (its header, else its run's config.yaml), or `data_spec` the user
    names now. A `py:` source the Bundle names runs only if it is a file trained with here."""

    cfg = from_dict(DataConfig, bundle.meta.get("data") or {}, "data")
    if bundle.path is not None and not bundle.meta.get("data"):
        cfg = load_saved_config(bundle.path.parent).data
    if data_spec:
        cfg.name = data_spec
    elif bundle.path is not None:
        check_saved_data(cfg.name, bundle.path, "name it again with --data py:FILE.py:FUNCTION")
    return cfg
