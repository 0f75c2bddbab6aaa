"""Bad configuration is refused in one line where the config is built; random values either pass every
rule or are refused naming the key (hypothesis)."""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from badinput.cases_config import CASES
from badinput.harness import refuse
from kindling.config.load import load_config
from kindling.errors import UserError


@pytest.mark.parametrize("case", CASES, ids=str)
def test_bad_config_is_refused_in_one_line(case, tmp_path, capsys):
    refuse(case, tmp_path, capsys, allowed_new=lambda p: p == "recipe.yaml")


# what each numeric key allows, written out again here (not read from the rules) so that a wrong rule fails
ALLOWED = {
    "optim.lr": lambda v: math.isfinite(v) and v > 0,
    "train.epochs": lambda v: v >= 1,
    "data.batch_size": lambda v: v >= 1,
    "data.val_fraction": lambda v: math.isfinite(v) and 0 <= v < 1,
    "data.test_fraction": lambda v: math.isfinite(v) and 0 <= v < 1,
    "train.ema": lambda v: math.isfinite(v) and 0 < v < 1,
    "train.label_smoothing": lambda v: math.isfinite(v) and 0 <= v < 1,
    "optim.momentum": lambda v: math.isfinite(v) and 0 <= v <= 1,
    "optim.weight_decay": lambda v: math.isfinite(v) and v >= 0,
    "train.clip_grad": lambda v: math.isfinite(v) and v > 0,
    "train.accumulate": lambda v: v >= 1,
    "train.threads": lambda v: v >= 0,
    "sched.gamma": lambda v: math.isfinite(v) and v > 0,
}
INTEGER_KEYS = {"train.epochs", "data.batch_size", "train.accumulate", "train.threads"}

values = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True),
    st.integers(min_value=-(10**6), max_value=10**6),
    st.sampled_from([0, -1, 1, 0.0, 1.0, 0.5, 1e-300, -0.0, "nan", "inf", "-inf", "1e-3", "x", True, None]),
)


@settings(max_examples=300, deadline=None)
@given(key=st.sampled_from(sorted(ALLOWED)), value=values)
def test_random_values_pass_every_rule_or_are_refused_naming_the_key(key, value):
    try:
        cfg = load_config(None, {key: value})
    except UserError as exc:
        line = str(exc)
        assert "\n" not in line and len(line) <= 300 and key in line, line
        return
    got = cfg
    for part in key.split("."):
        got = getattr(got, part)
    if value is None:  # an unset flag: the default stands
        return
    assert isinstance(got, (int, float)) and not isinstance(got, bool), (key, value, got)
    assert ALLOWED[key](float(got)), (key, value, got)
    if key in INTEGER_KEYS:
        assert isinstance(got, int)
