"""The --param grammar: what each kind parses to, what Optuna then draws, and the ends the config checks."""

from __future__ import annotations

import math

import optuna
import pytest

from kindling.errors import UserError
from kindling.sweeps.space import parse_param, parse_params

optuna.logging.set_verbosity(optuna.logging.WARNING)


@pytest.mark.parametrize(
    "text, corners, normalised",
    [
        ("optim.lr=loguniform:1e-4:1e-1", [1e-4, 0.1], "optim.lr=loguniform:0.0001:0.1"),
        ("optim.momentum=uniform:0.8:0.99", [0.8, 0.99], "optim.momentum=uniform:0.8:0.99"),
        ("model.options.width=int:16:128", [16, 128], "model.options.width=int:16:128"),
        ("model.options.width=int:16:100:16", [16, 96], "model.options.width=int:16:96:16"),
        ("data.batch_size=logint:16:256", [16, 256], "data.batch_size=logint:16:256"),
        ("data.augment=choice:none,light", ["none", "light"], "data.augment=choice:none,light"),
        ("data.batch_size=choice:32,64", [32, 64], "data.batch_size=choice:32,64"),
        ("optim.nesterov=choice:true,false", [True, False], "optim.nesterov=choice:true,false"),
    ],
)
def test_each_kind_parses_round_trips_and_draws_inside(text, corners, normalised):
    param = parse_param(text)
    assert param.corners() == corners
    assert param.text == normalised and parse_param(param.text) == param
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
    for _ in range(30):
        value = param.suggest(study.ask())
        assert param.contains(value), value
        if param.kind == "choice":
            assert value in corners and type(value) is type(corners[0])
        else:
            assert corners[0] <= value <= corners[-1]
        if param.kind in ("int", "logint"):
            assert isinstance(value, int) and (value - corners[0]) % param.step == 0


def test_log_scale_draws_spread_over_the_decades():
    param = parse_param("optim.lr=loguniform:1e-5:1e-1")
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=1))
    decades = {math.floor(math.log10(param.suggest(study.ask()))) for _ in range(200)}
    assert decades == {-5, -4, -3, -2}


def test_contains_tells_the_recipes_own_value():
    assert parse_param("data.augment=choice:none,light").contains("none")
    assert not parse_param("data.augment=choice:none,light").contains("shift")
    assert not parse_param("data.batch_size=choice:32,64").contains("32")
    assert parse_param("model.options.width=int:16:128:16").contains(48)
    assert not parse_param("model.options.width=int:16:128:16").contains(50)
    assert not parse_param("optim.lr=loguniform:1e-4:1e-2").contains(0.5)


def test_values_with_commas_are_a_yaml_list():
    param = parse_param("model.options.hidden=choice:[[16], [32, 32]]")
    assert param.choices == ([16], [32, 32]) and parse_param(param.text) == param
    knobs = parse_param("data.augment=choice:[none, 'hflip,rotate=15']")
    assert knobs.choices == ("none", "hflip,rotate=15") and parse_param(knobs.text) == knobs


def test_a_space_needs_a_param_and_each_key_once():
    with pytest.raises(UserError, match="nothing to search"):
        parse_params([])
    with pytest.raises(UserError, match="given twice"):
        parse_params(["optim.lr=uniform:0.1:0.2", "optim.lr=uniform:0.2:0.3"])
