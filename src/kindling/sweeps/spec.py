"""What a sweep is, written down once in `runs/NAME/sweep.yaml`: the recipe's settings, the search space,
the number of trials, the pruner and where the study lives. `--resume runs/NAME` and every worker read
it from there, so a sweep continues on the settings it started with even if the recipe file changed.

    sweep = Sweep.load("runs/digits-sweep")
    cfg = sweep.trial_config({"optim.lr": 0.003}, number=7)     # runs/digits-sweep/trial-0007
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import yaml

from kindling.config.load import flatten, load_config
from kindling.config.schema import RunConfig
from kindling.errors import UserError
from kindling.sweeps.space import Param, parse_params
from kindling.sweeps.study import make_pruner
from kindling.util.fileio import atomic_write_text, read_utf8

SPEC_FILE = "sweep.yaml"
DB_FILE = "sweep.db"
# keys that say where or how fast a run goes, not what it learns: machines sharing a study may differ in them
LOCAL_KEYS = {
    "name",
    "run_dir",
    "runs_dir",
    "data.data_dir",
    "train.device",
    "train.threads",
    "train.devices",
    "train.logger",
    "train.log_interval",
    "train.baseline",
    "train.save_every_steps",
}


@dataclass
class Sweep:
    name: str  # the study's name and the folder's
    config: dict  # the recipe's settings (with --set applied): every trial starts from these
    params: list[str]  # the search space, as --param texts
    trials: int
    monitor: str  # the metric a trial is scored on (the run's monitor: val_acc, val_loss ...)
    direction: str  # minimize | maximize
    pruner: str = "median"
    workers: int = 1
    timeout: float | None = None
    storage: str | None = None  # None: sqlite in the sweep folder
    recipe: str | None = None  # the recipe file, for the printed `kindling train` command
    sets: list[str] = field(default_factory=list)
    folder: Path = field(default=Path("."), compare=False, repr=False)

    # ------------------------------------------------------------------ the space and the trials

    @property
    def space(self) -> list[Param]:
        return parse_params(self.params)

    @property
    def seed(self) -> int:
        return int(self.base_config().train.seed)

    def make_pruner(self):

        return make_pruner(self.pruner, self.base_config().train.epochs)

    def base_config(self) -> RunConfig:
        return load_config(None, base=self.config)

    def recipe_values(self) -> dict[str, Any]:
        """The recipe's own values of the searched keys, where the space holds them: the first trial
        runs these, so the best trial is never worse than the recipe on the validation split."""
        base = self.base_config()
        flat = flatten(base.to_dict())
        values = {}
        for p in self.space:
            if p.key.startswith("model.options."):
                value = base.model.options.get(p.key.removeprefix("model.options."))
            else:
                value = flat.get(p.key)
            if value is not None and p.contains(value):
                values[p.key] = value
        return values

    def trial_dir(self, number: int) -> Path:
        return self.folder / f"trial-{number:04d}"

    def trial_config(self, values: dict[str, Any], number: int, threads: int | None = None) -> RunConfig:
        """The run config of trial `number`: the recipe's settings with the trial's values, written to
        the trial's own run directory."""
        cfg = load_config(None, dict(values), base=_deep_copy(self.config))
        cfg.name = f"{self.name}-trial-{number:04d}"
        cfg.run_dir = str(self.trial_dir(number))
        cfg.train.baseline = "none"  # trials are compared with each other; `kindling baseline RUN` fits it
        if threads is not None and cfg.train.threads == 0:
            cfg.train.threads = threads
        return cfg

    # ------------------------------------------------------------------ identity and storage

    def fingerprint(self) -> dict:
        """What makes two sweeps the same study: the settings that change what is learnt, the space and
        the score. `summary` names the recipe in a refusal."""
        flat = flatten(self.base_config().to_dict())
        kept = {k: v for k, v in flat.items() if k not in LOCAL_KEYS}
        text = json.dumps(
            {"config": kept, "params": self.params, "monitor": self.monitor}, sort_keys=True, default=str
        )
        summary = f"data {flat['data.name']}, model {flat['model.name']}, params {', '.join(p.key for p in self.space)}"
        return {"hash": hashlib.sha256(text.encode()).hexdigest()[:16], "summary": summary}

    def storage_url(self) -> str:
        if self.storage:
            return self.storage
        return f"sqlite:///{(self.folder / DB_FILE).resolve()}"

    @property
    def own_storage(self) -> bool:
        """The study lives in the sweep folder's own database (no other machine shares it)."""
        return not self.storage

    # ------------------------------------------------------------------ the file

    def save(self) -> Path:

        data = {k: v for k, v in asdict(self).items() if k != "folder"}
        return atomic_write_text(
            self.folder / SPEC_FILE, yaml.safe_dump(data, sort_keys=False, allow_unicode=True)
        )

    @classmethod
    def load(cls, folder: str | Path) -> Sweep:
        folder = Path(folder)
        path = folder / SPEC_FILE
        if not folder.is_dir():
            raise UserError(f"{folder} does not exist; pass a sweep folder (runs/NAME)")
        if not path.is_file():
            raise UserError(
                f"{folder} is not a sweep folder (no {SPEC_FILE}); pass the folder `kindling sweep` made"
            )

        try:
            data = yaml.safe_load(read_utf8(path, f"restore the sweep's {SPEC_FILE}"))
            return cls(**data, folder=folder)
        except (yaml.YAMLError, TypeError) as exc:
            raise UserError(
                f"{path} is damaged ({type(exc).__name__}); restore it or start a new sweep"
            ) from None


def _deep_copy(tree: dict) -> dict:
    return json.loads(json.dumps(tree))
