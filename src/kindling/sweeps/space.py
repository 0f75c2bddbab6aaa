"""The search space: `--param KEY=KIND:ARGS`, parsed and checked against the run config before anything runs.

    optim.lr=loguniform:1e-4:1e-1        a float, sampled on a log scale
    optim.momentum=uniform:0.8:0.99      a float
    model.options.width=int:16:128       an integer (int:LO:HI:STEP for a step; logint:LO:HI on a log scale)
    data.augment=choice:none,light       one of the values, each read as YAML (16 is a number, none a word)
    model.options.hidden=choice:[[16], [32, 32]]   values with commas: a YAML list

A key is any dotted config key (`kindling train --print-config` shows them all) or a model option
(`model.options.NAME`). A syntax mistake, an empty or reversed range, or a key the config does not have
is one line naming the `--param`; values the config refuses (a word for an integer key) are found by
`corner_values`, which the sweep puts through the config's own checks before the first trial.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from kindling.errors import UserError, did_you_mean

KINDS = ("loguniform", "uniform", "int", "logint", "choice")
EXAMPLE = "e.g. --param optim.lr=loguniform:1e-4:1e-1"


@dataclass(frozen=True)
class Param:
    """One searched setting: `key` (dotted), `kind` (one of KINDS), a range or a list of choices."""

    key: str
    kind: str
    low: float = 0.0
    high: float = 0.0
    step: int = 1
    choices: tuple = ()

    @property
    def text(self) -> str:
        """The `--param` it was parsed from, normalised: what sweep.yaml keeps."""
        if self.kind == "choice":
            shown = [_show(c) for c in self.choices]
            if any("," in text for text in shown):
                return f"{self.key}=choice:{_show(list(self.choices))}"
            return f"{self.key}=choice:{','.join(shown)}"
        step = f":{self.step}" if self.kind == "int" and self.step != 1 else ""
        return f"{self.key}={self.kind}:{_num(self.low)}:{_num(self.high)}{step}"

    def suggest(self, trial) -> Any:
        """The value for an Optuna trial (the same value again when the trial already has one)."""
        if self.kind == "choice":
            return trial.suggest_categorical(self.key, list(self.choices))
        if self.kind in ("int", "logint"):
            step = self.step if self.kind == "int" else 1
            return trial.suggest_int(
                self.key, int(self.low), int(self.high), step=step, log=self.kind == "logint"
            )
        return trial.suggest_float(self.key, self.low, self.high, log=self.kind == "loguniform")

    def contains(self, value: Any) -> bool:
        """Whether the sampler could draw `value` (the recipe's own, for the first trial)."""
        if self.kind == "choice":
            return any(value == c and type(value) is type(c) for c in self.choices)
        if (
            isinstance(value, bool)
            or not isinstance(value, (int, float))
            or not self.low <= value <= self.high
        ):
            return False
        if self.kind in ("int", "logint"):
            return (
                float(value).is_integer()
                and (int(value) - int(self.low)) % (self.step if self.kind == "int" else 1) == 0
            )
        return True

    def corners(self) -> list:
        """The values that bound what the sampler may give: both ends of a range, every choice."""
        if self.kind == "choice":
            return list(self.choices)
        if self.kind in ("int", "logint"):
            return [int(self.low), int(self.high)]
        return [self.low, self.high]


def _num(x: float) -> str:
    return str(int(x)) if float(x).is_integer() and abs(x) < 1e15 else repr(float(x))


def _show(value: Any) -> str:
    import yaml  # lazy: yaml

    return yaml.safe_dump(value, default_flow_style=True).strip().removesuffix("...").strip()


def parse_param(text: str) -> Param:
    """`KEY=KIND:ARGS` -> Param; a mistake is one line naming the `--param` and the fix."""
    if "=" not in text or not text.split("=", 1)[0].strip():
        raise UserError(f"--param '{text}' is not KEY=KIND:ARGS ({EXAMPLE})")
    key, spec = (part.strip() for part in text.split("=", 1))
    kind, _, args = spec.partition(":")
    if kind not in KINDS:
        raise UserError(
            f"--param {key}: unknown kind '{kind}'{did_you_mean(kind, KINDS)}; use one of "
            f"{', '.join(KINDS)} ({EXAMPLE})"
        )
    if kind == "choice":
        return Param(key, kind, choices=_choices(key, args))
    return _range(key, kind, args)


def _choices(key: str, args: str) -> tuple:
    import yaml  # lazy: yaml

    values = []
    if args.strip().startswith("["):  # a YAML list, for values with commas: choice:[[16], [16, 16]]
        try:
            values = yaml.safe_load(args)
        except yaml.YAMLError:
            raise UserError(f"--param {key}=choice:{args} is not a YAML list; write choice:[a, b]") from None
        values = values if isinstance(values, list) else []
    else:
        for raw in args.split(","):
            try:
                values.append(yaml.safe_load(raw) if raw.strip() else None)
            except yaml.YAMLError:
                values.append(raw.strip())
    if not args.strip() or not values or any(v is None for v in values):
        raise UserError(f"--param {key}=choice:{args} has an empty value; list them as choice:a,b,c")
    if len({repr(v) for v in values}) < len(values):
        raise UserError(f"--param {key}=choice:{args} lists a value twice; list each once")
    if len(_kinds(values)) > 1:
        raise UserError(
            f"--param {key}=choice:{args} mixes kinds of values ({', '.join(sorted(_kinds(values)))}); "
            "give values of one kind"
        )
    return tuple(values)


def _kinds(values: list) -> set[str]:
    return {
        "number" if isinstance(v, (int, float)) and not isinstance(v, bool) else type(v).__name__
        for v in values
    }


def _range(key: str, kind: str, args: str) -> Param:
    parts = args.split(":")
    shape = "int:LO:HI or int:LO:HI:STEP" if kind == "int" else f"{kind}:LO:HI"
    if len(parts) not in ((2, 3) if kind == "int" else (2,)):
        raise UserError(f"--param {key}={kind}:{args} is not {shape} ({EXAMPLE})")
    numbers = []
    for part in parts:
        try:
            number = float(part)
        except ValueError:
            raise UserError(f"--param {key}={kind}:{args}: '{part}' is not a number; write {shape}") from None
        if not math.isfinite(number):
            raise UserError(f"--param {key}={kind}:{args}: {part} is not a finite number; write {shape}")
        if kind in ("int", "logint") and not number.is_integer():
            raise UserError(f"--param {key}={kind}:{args}: {part} is not an integer; use uniform for floats")
        numbers.append(number)
    low, high, *rest = numbers
    spec = f"--param {key}={kind}:{args}"
    if low > high:
        raise UserError(
            f"{spec} is a reversed range ({_num(low)} > {_num(high)}); write {kind}:{_num(high)}:{_num(low)}"
        )
    if low == high:
        raise UserError(
            f"{spec} is an empty range (both ends {_num(low)}); give LO < HI, or drop the --param and --set {key}={_num(low)}"
        )
    if kind in ("loguniform", "logint") and low <= 0:
        raise UserError(
            f"{spec}: a log scale needs LO > 0; use uniform (or int) for a range from {_num(low)}"
        )
    step = int(rest[0]) if rest else 1
    if kind == "int" and (step < 1 or step > high - low):
        raise UserError(f"{spec}: the step {step} must be between 1 and HI - LO ({_num(high - low)})")
    if kind == "int":
        high = low + (high - low) // step * step  # the last value on the grid: int:16:100:16 ends at 96
    return Param(key, kind, low, high, step)


def parse_params(texts: list[str]) -> list[Param]:
    """Every `--param`, in order; a key given twice is refused (which one would win?)."""
    params = [parse_param(t) for t in texts]
    keys = [p.key for p in params]
    twice = next((k for k in keys if keys.count(k) > 1), None)
    if twice:
        raise UserError(f"--param {twice} is given twice; keep one")
    if not params:
        raise UserError(
            "nothing to search: give at least one --param KEY=KIND:ARGS (or a sweep: params: section in the "
            f"recipe), {EXAMPLE}"
        )
    return params


def check_keys(params: list[Param], config_keys: list[str]) -> None:
    """Each key is one of the config's dotted keys or a model option; anything else, with a did-you-mean."""
    for p in params:
        if p.key.startswith("model.options.") and len(p.key) > len("model.options."):
            continue
        if p.key not in config_keys:
            hint = did_you_mean(p.key, config_keys)
            raise UserError(
                f"--param {p.key}: the config has no key '{p.key}'{hint}; search a key that "
                "`kindling train --print-config` shows, or a model option as model.options.NAME"
            )
        if p.key in ("name", "run_dir", "runs_dir"):
            raise UserError(
                f"--param {p.key}: where runs are written is the sweep's to choose; search a setting"
            )
