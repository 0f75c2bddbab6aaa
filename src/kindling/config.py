"""Typed run configuration: defaults < recipe YAML < CLI flags < `--set a.b=c` overrides.

Every section is a dataclass; unknown keys and wrong types are refused with a did-you-mean, and the
resolved config round-trips through YAML (`kindling train ... --print-config`).
"""

from __future__ import annotations

import dataclasses
import types
import typing
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any, Union

import yaml

from kindling.errors import UserError, did_you_mean


@dataclass
class DataConfig:
    name: str = "digits"  # data set or source spec: digits, wine, mnist, folder:DIR, csv:FILE, text:DIR ...
    batch_size: int = 64
    eval_batch_size: int = 512
    val_fraction: float = 0.1  # of what is left after the test split, when no val split is given
    test_fraction: float = 0.25
    split_seed: int = 0  # the split never changes between runs with the same seed
    train: str | None = None  # explicit split files
    val: str | None = None
    test: str | None = None
    root: str | None = None  # image root for annotation files
    data_dir: str = "~/.cache/kindling"  # built-in data sets live here
    download: bool = True  # when online, built-in data sets download if missing
    image_size: int | None = None
    channels: int | None = None
    augment: str = "none"
    class_names: str | None = None  # JSON map or one name per line
    skip_bad: bool = False
    memory_budget_mb: int = 4096
    # tables
    target: str | None = None
    drop: list[str] = field(default_factory=list)
    task: str = "auto"  # auto | classification | regression
    split_by: str | None = None
    categorical: str = "onehot"  # onehot | embed
    missing: str = "impute"  # impute | refuse
    delimiter: str = "auto"  # tables: auto | comma | semicolon | tab | pipe (or the character)
    # text
    text_col: str = "text"
    label_col: str = "label"
    tokenizer: str = "auto"  # auto | char | word
    min_freq: int = 1
    max_size: int = 50000
    pad_size: int | None = None
    encoding: str = "utf-8"


@dataclass
class ModelConfig:
    name: str = "digits-cnn"
    options: dict = field(default_factory=dict)  # keyword arguments of the model's constructor
    pretrained: str | None = None  # local weights file for torchvision backbones
    freeze: str | None = None  # None | backbone
    unfreeze_epoch: int | None = None  # two-stage fine-tuning: unfreeze everything at this epoch
    unfreeze_lr_factor: float = 0.1


@dataclass
class OptimConfig:
    name: str = "adamw"  # sgd | adam | adamw
    lr: float = 1e-3
    momentum: float = 0.9
    nesterov: bool = False
    weight_decay: float = 0.0
    betas: list[float] = field(default_factory=lambda: [0.9, 0.999])


@dataclass
class SchedConfig:
    name: str = "none"  # none | step | multistep | cosine | onecycle | plateau
    step_size: int = 10
    gamma: float = 0.1
    milestones: list[int] = field(default_factory=list)
    warmup_epochs: float = 0.0
    min_lr: float = 0.0
    patience: int = 2  # plateau


@dataclass
class TrainConfig:
    epochs: int = 10
    seed: int = 0
    device: str = "auto"  # auto | cpu | cuda | cuda:N | mps
    threads: int = 0  # intra-op threads; 0 = measure and pick the fastest
    memory_format: str = "auto"  # auto (measure conv nets on a CPU) | contiguous | channels_last
    monitor: str = "val_acc"  # val_acc | val_loss | val_mae | val_rmse | val_r2
    deterministic: bool = False
    precision: str = "32"  # 32 | bf16 | fp16
    accumulate: int = 1
    clip_grad: float | None = None
    patience: int | None = None  # early stopping, in validation rounds
    min_delta: float = 0.0
    val_every_steps: int | None = None
    patience_steps: int | None = None
    save_every_steps: int | None = None
    ema: float | None = None
    label_smoothing: float = 0.0
    compile: bool = False
    overfit_batches: int = 0
    dry_run: bool = False
    log_interval: int = 0  # 0 = a bar (TTY) or one line per epoch
    logger: str = "auto"  # auto | tensorboard | csv | none
    devices: int = 1


@dataclass
class RunConfig:
    name: str = ""
    runs_dir: str = "runs"
    run_dir: str | None = None
    data: DataConfig = field(default_factory=DataConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    optim: OptimConfig = field(default_factory=OptimConfig)
    sched: SchedConfig = field(default_factory=SchedConfig)
    train: TrainConfig = field(default_factory=TrainConfig)

    def resolved_run_dir(self) -> Path:
        if self.run_dir:
            return Path(self.run_dir).expanduser()
        return Path(self.runs_dir).expanduser() / (self.name or default_name(self))

    def to_dict(self) -> dict:
        return asdict(self)

    def to_yaml(self) -> str:
        return yaml.safe_dump(self.to_dict(), sort_keys=False, allow_unicode=True)


def default_name(cfg: RunConfig) -> str:
    data = cfg.data.name.split(":", 1)[-1].rstrip("/").replace("\\", "/").split("/")[-1] or "data"
    model = cfg.model.name.rpartition(":")[2]  # the user's own model (path/net.py:Net): its name
    return f"{Path(data).stem}-{model}"


# ---------------------------------------------------------------- building from dicts, strictly


def _is_dataclass_type(tp: Any) -> bool:
    return isinstance(tp, type) and dataclasses.is_dataclass(tp)


def _coerce(value: Any, tp: Any, where: str) -> Any:
    """Check `value` against the annotation `tp`; ints are accepted for floats. Raise UserError."""
    origin = typing.get_origin(tp)
    if origin in (Union, types.UnionType):
        args = typing.get_args(tp)
        if value is None and type(None) in args:
            return None
        errors = []
        for arg in (a for a in args if a is not type(None)):
            try:
                return _coerce(value, arg, where)
            except UserError as exc:
                errors.append(str(exc))
        raise UserError(errors[0])
    if origin is list:
        (item_tp,) = typing.get_args(tp) or (Any,)
        if isinstance(value, str):  # --set data.drop=a,b
            value = [v for v in value.split(",") if v]
        if isinstance(value, tuple):
            value = list(value)
        if not isinstance(value, list):
            raise UserError(f"{where} must be a list, got {value!r}")
        return [_coerce(v, item_tp, f"{where}[{i}]") for i, v in enumerate(value)]
    if tp is dict or origin is dict:
        if value is None:
            return {}
        if not isinstance(value, dict):
            raise UserError(f"{where} must be a mapping, got {value!r}")
        return value
    if tp is Any:
        return value
    if tp is bool:
        if isinstance(value, bool):
            return value
        raise UserError(f"{where} must be true or false, got {value!r}")
    if tp is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        if isinstance(value, float) and value.is_integer():
            return int(value)
        raise UserError(f"{where} must be an integer, got {value!r}")
    if tp is float:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
        if isinstance(value, str):  # YAML 1.1 reads 1e-3 (no dot) as a string
            try:
                return float(value)
            except ValueError:
                pass
        raise UserError(f"{where} must be a number, got {value!r}")
    if tp is str:
        if isinstance(value, (str, int, float)) and not isinstance(value, bool):
            return str(value)
        raise UserError(f"{where} must be a string, got {value!r}")
    return value


def from_dict(cls: type, data: dict | None, where: str = "") -> Any:
    """Build dataclass `cls` from `data`, refusing unknown keys (with a did-you-mean) and wrong types."""
    data = data or {}
    if not isinstance(data, dict):
        raise UserError(f"{where or 'config'} must be a mapping of keys to values, got {data!r}")
    hints = typing.get_type_hints(cls)
    names = [f.name for f in fields(cls)]
    kwargs = {}
    for key, value in data.items():
        dotted = f"{where}.{key}" if where else str(key)
        if key not in hints:
            raise UserError(
                f"unknown config key '{dotted}'{did_you_mean(key, names)}; valid keys here: {', '.join(names)}"
            )
        tp = hints[key]
        kwargs[key] = from_dict(tp, value, dotted) if _is_dataclass_type(tp) else _coerce(value, tp, dotted)
    return cls(**kwargs)


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
        tree = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark
        line = f":{mark.line + 1}" if mark is not None else ""
        raise UserError(f"{path}{line}: invalid YAML ({exc.problem}); fix the recipe file") from exc
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
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
        tree.setdefault("name", Path(recipe).stem)
    for dotted, value in (flags or {}).items():
        if value is not None:
            set_dotted(tree, dotted, value)
    for item in sets:
        set_dotted(tree, *parse_set(item))
    return from_dict(RunConfig, _deep_merge({}, tree))


def config_from_yaml(text: str) -> RunConfig:
    return from_dict(RunConfig, yaml.safe_load(text) or {})
