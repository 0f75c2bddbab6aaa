"""The value rules of the run config, checked where a RunConfig is built (`validate(cfg)`).

`config.from_dict` checks types and keys; this module checks ranges and choices, so recipes, flags,
`--set` and the library's keywords share one set of rules and one wording:

    optim.lr = -0.1 is out of range: it must be a finite number > 0 (--lr)

A run that would train on nonsense (zero epochs, a NaN learning rate, a batch of 0) is refused before any
file is written, instead of failing deep inside torch or, worse, finishing with untrained weights.
The rules live in one table keyed by dotted name, apart from the dataclasses, so adding a key and its
rule are separate one-line edits.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kindling.config.types import flags_of
from kindling.errors import UserError, did_you_mean


@dataclass(frozen=True)
class Number:
    """A number in a range; `lo_open`/`hi_open` exclude the end. NaN and infinities are always refused."""

    lo: float | None = None
    hi: float | None = None
    lo_open: bool = False
    hi_open: bool = False
    integer: bool = False

    def allows(self, value: float) -> bool:
        if not math.isfinite(value):
            return False
        if self.lo is not None and (value < self.lo or (self.lo_open and value == self.lo)):
            return False
        return not (self.hi is not None and (value > self.hi or (self.hi_open and value == self.hi)))

    def describe(self) -> str:
        what = "an integer" if self.integer else "a finite number"
        if self.lo is not None and self.hi is not None:
            return f"{what} in {'(' if self.lo_open else '['}{_num(self.lo)}, {_num(self.hi)}{')' if self.hi_open else ']'}"
        if self.lo is not None:
            return f"{what} {'>' if self.lo_open else '>='} {_num(self.lo)}"
        if self.hi is not None:
            return f"{what} {'<' if self.hi_open else '<='} {_num(self.hi)}"
        return what


@dataclass(frozen=True)
class Choice:
    names: tuple[str, ...]

    def allows(self, value: Any) -> bool:
        return not isinstance(value, bool) and str(value) in self.names

    def describe(self) -> str:
        return "one of " + " | ".join(self.names)


@dataclass(frozen=True)
class Choices(Choice):
    """One or more of the names, comma-separated or as a list (train.logger: tensorboard,mlflow)."""

    def allows(self, value: Any) -> bool:
        return not isinstance(value, bool) and all(p.strip() in self.names for p in str(value).split(","))

    def describe(self) -> str:
        return "one or more of " + " | ".join(self.names)


@dataclass(frozen=True)
class Monitor(Choice):
    """A built-in monitor, or `val_KEY` of one of your own metrics (train.metrics; checked in `validate`)."""

    def allows(self, value: Any) -> bool:
        return super().allows(value) or bool(re.fullmatch(r"val_[A-Za-z_]\w*", str(value)))

    def describe(self) -> str:
        return super().describe() + " | val_KEY of your --metric KEY=FILE.py:NAME"


@dataclass(frozen=True)
class Exists:
    """A path that must exist on this machine (checked only when the run is about to use it)."""

    def allows(self, value: Any) -> bool:
        return Path(str(value)).expanduser().exists()

    def describe(self) -> str:
        return "an existing file or folder"


@dataclass(frozen=True)
class ChoiceOrFile(Exists):
    """One of the names, or a file that must exist (checked, as `Exists`, only when the run uses it)."""

    names: tuple[str, ...] = ()

    def allows(self, value: Any) -> bool:
        return str(value) in self.names or super().allows(value)

    def describe(self) -> str:
        return " | ".join(self.names) + " or an existing file"


@dataclass(frozen=True)
class ChoiceOrNumber:
    """One of the names, or a number the `number` rule allows (train.threshold: auto | none | 0.35)."""

    names: tuple[str, ...]
    number: Number

    def allows(self, value: Any) -> bool:
        if isinstance(value, bool):
            return False
        if isinstance(value, (int, float)):
            return self.number.allows(float(value))
        return str(value) in self.names

    def describe(self) -> str:
        return " | ".join(self.names) + " or " + self.number.describe()


def _num(x: float) -> str:
    return str(int(x)) if float(x).is_integer() else str(x)


POSITIVE = Number(0, lo_open=True)
AT_LEAST_0 = Number(0, integer=True)
AT_LEAST_1 = Number(1, integer=True)
NON_NEGATIVE = Number(0)
FRACTION = Number(0, 1, hi_open=True)  # 0 means "no such split"
PROBABILITY = Number(0, 1)

# dotted key -> rule; None values (optional keys left unset) are not checked
RULES: dict[str, Number | Choice | Exists | ChoiceOrNumber] = {
    "data.batch_size": AT_LEAST_1,
    "data.eval_batch_size": AT_LEAST_1,
    "data.val_fraction": FRACTION,
    "data.test_fraction": FRACTION,
    "data.folds": Number(2, integer=True),
    "data.fold": AT_LEAST_0,
    "data.image_size": Number(8, integer=True),  # smaller images are refused by the image sources too
    "data.channels": Choice(("1", "3")),
    "data.memory_budget_mb": AT_LEAST_0,
    "data.task": Choice(("auto", "classification", "regression", "multilabel")),
    "data.categorical": Choice(("onehot", "embed")),
    "data.missing": Choice(("impute", "refuse")),
    "data.tokenizer": Choice(("auto", "char", "word")),
    "data.min_freq": AT_LEAST_1,
    "data.max_size": Number(2, integer=True),
    "data.pad_size": AT_LEAST_1,
    "data.train": Exists(),
    "data.val": Exists(),
    "data.test": Exists(),
    "data.root": Exists(),
    "data.vocab": Exists(),
    "model.freeze": Choice(("none", "backbone")),  # model.pretrained: checked by models.finetune (names)
    "model.unfreeze_epoch": AT_LEAST_1,
    "model.unfreeze_lr_factor": POSITIVE,
    "optim.name": Choice(("sgd", "adam", "adamw")),
    "optim.lr": POSITIVE,
    "optim.momentum": PROBABILITY,
    "optim.weight_decay": NON_NEGATIVE,
    "optim.betas": Number(0, 1, hi_open=True),  # each of the two
    "sched.name": Choice(("none", "step", "multistep", "cosine", "onecycle", "plateau")),
    "sched.step_size": AT_LEAST_1,
    "sched.gamma": POSITIVE,
    "sched.milestones": AT_LEAST_1,  # each
    "sched.warmup_epochs": NON_NEGATIVE,
    "sched.min_lr": NON_NEGATIVE,
    "sched.patience": AT_LEAST_0,
    "train.epochs": AT_LEAST_1,
    "train.threads": AT_LEAST_0,
    "train.memory_format": Choice(("auto", "contiguous", "channels_last")),
    "train.monitor": Monitor(("auto", "val_acc", "val_loss", "val_mae", "val_rmse", "val_r2", "val_f1")),
    "train.precision": Choice(("32", "bf16", "fp16")),
    "train.accumulate": AT_LEAST_1,
    "train.clip_grad": POSITIVE,
    "train.patience": AT_LEAST_1,
    "train.min_delta": NON_NEGATIVE,
    "train.val_every_steps": AT_LEAST_1,
    "train.patience_steps": AT_LEAST_1,
    "train.save_every_steps": AT_LEAST_1,
    "train.ema": Number(0, 1, lo_open=True, hi_open=True),
    "train.label_smoothing": Number(0, 1, hi_open=True),
    "train.class_weights": ChoiceOrFile(names=("none", "auto")),
    "train.sampler": Choice(("none", "balanced")),
    "train.threshold": ChoiceOrNumber(("none", "auto"), PROBABILITY),
    "train.overfit_batches": AT_LEAST_0,
    "train.log_interval": AT_LEAST_0,
    "train.logger": Choices(("auto", "tensorboard", "csv", "mlflow", "none")),
    "train.devices": AT_LEAST_1,
    "train.baseline": Choice(("auto", "none")),
}


def _flag_of(dotted: str, config_type: type | None) -> str:
    """' (--lr)' when a flag of `config_type` (the RunConfig checked) sets `dotted`, else ' (--set KEY=...)';
    tells the user where to fix it."""
    for flag in flags_of(config_type) if config_type else ():
        if flag.key == dotted:
            return f" ({flag.flag})"
    return f" (--set {dotted}=...)"


def _shown(value: Any) -> str:
    text = repr(value) if isinstance(value, str) else str(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _lookup(cfg, dotted: str) -> Any:
    node = cfg
    for part in dotted.split("."):
        node = getattr(node, part)
    return node


def check_value(dotted: str, value: Any, config_type: type | None = None) -> None:
    """Refuse `value` for `dotted` if its rule does not allow it (a UserError naming key, value and range,
    and the flag of `config_type` that sets it)."""
    rule = RULES.get(dotted)
    if rule is None or value is None:
        return
    items = value if isinstance(value, list) else [value]
    for item in items:
        if isinstance(rule, Number):
            ok = isinstance(item, (int, float)) and not isinstance(item, bool) and rule.allows(float(item))
            ok = ok and not (rule.integer and not float(item).is_integer())
            why = "is out of range"
        elif isinstance(rule, ChoiceOrFile):
            ok, why = rule.allows(item), "is neither a choice nor an existing file"
            why += did_you_mean(str(item), rule.names)
        elif isinstance(rule, Exists):
            ok, why = rule.allows(item), "does not exist"
        elif isinstance(rule, ChoiceOrNumber):
            ok = rule.allows(item)
            why = "is out of range" if isinstance(item, (int, float)) else "is not a valid choice"
        else:
            ok, why = rule.allows(item), "is not a valid choice" + did_you_mean(str(item), rule.names)
        if not ok:
            raise UserError(
                f"{dotted} = {_shown(value)} {why}: it must be {rule.describe()}{_flag_of(dotted, config_type)}"
            )


def validate(cfg, paths: bool = True) -> None:
    """Check every ruled value of `cfg` (a RunConfig). `paths=False` skips the must-exist checks, for a
    saved run's config read on another machine (evaluate, predict) where the training files need not be."""
    for dotted, rule in RULES.items():
        if isinstance(rule, Exists) and not paths:
            continue
        check_value(dotted, _lookup(cfg, dotted), type(cfg))
    betas = cfg.optim.betas
    if len(betas) != 2:
        raise UserError(f"optim.betas = {betas} must be two numbers in [0, 1), e.g. [0.9, 0.999]")
    check_own_code(cfg.train)


REFERENCE = re.compile(r"(.+):([A-Za-z_]\w*)\Z")  # FILE.py:NAME or package.module:NAME (models.usercode)
METRIC_KEY = re.compile(r"([A-Za-z_]\w*)=(.*)\Z", re.S)


def metric_keys(metrics: list) -> list[str]:
    """The keys of train.metrics: KEY of `KEY=REF`, else the NAME of `FILE.py:NAME`."""
    keys = []
    for text in metrics:
        keyed = METRIC_KEY.match(str(text))
        keys.append(keyed.group(1) if keyed else str(text).rpartition(":")[2])
    return keys


def check_own_code(tc) -> None:
    """train.loss, train.metrics and train.callbacks name code (the form only: the files are read when
    the run starts), the metrics' keys are unique, and a monitor `val_KEY` that is no built-in names one."""
    named = [("train.loss", "--loss", tc.loss)] if tc.loss is not None else []
    for key, flag, values in (
        ("train.metrics", "--metric", tc.metrics),
        ("train.callbacks", "--callback", tc.callbacks),
    ):
        named += [(key, flag, v) for v in values]
    for key, flag, value in named:
        text = str(value)
        keyed = METRIC_KEY.match(text) if key == "train.metrics" else None
        if not isinstance(value, str) or not REFERENCE.match(keyed.group(2) if keyed else text):
            example = "top3=my_metrics.py:top3" if key == "train.metrics" else "my_code.py:NAME"
            raise UserError(
                f"{key} = {_shown(value)} does not name code: give FILE.py:NAME or package.module:NAME "
                f"({flag} {example})"
            )
    if tc.loss is not None:  # they shape the task's own loss, which yours replaces
        for key, flag, off in (
            ("class_weights", "--class-weights", "none"),
            ("label_smoothing", "--label-smoothing", 0.0),
        ):
            if getattr(tc, key, off) != off:
                raise UserError(
                    f"train.{key} shapes the task's own loss, which your --loss replaces; do it inside your "
                    f"loss, or drop {flag}"
                )
    keys = metric_keys(tc.metrics)
    twice = sorted({k for k in keys if keys.count(k) > 1})
    if twice:
        raise UserError(
            f"train.metrics names '{twice[0]}' twice; give one a key of its own (--metric KEY=FILE.py:NAME)"
        )
    builtin = RULES["train.monitor"].names
    if tc.monitor not in builtin and tc.monitor.removeprefix("val_") not in keys:
        mine = ", ".join(f"val_{k}" for k in keys) or "none given"
        raise UserError(
            f"train.monitor = {tc.monitor!r} names no metric: it must be one of {' | '.join(builtin)} or val_KEY "
            f"of your own --metric KEY=FILE.py:NAME (yours: {mine})"
        )
