"""The value rules of the config: one gate for recipes, flags, --set and saved configs."""

from __future__ import annotations

import pytest

from kindling.config.checks import RULES
from kindling.config.load import checked, config_from_yaml, load_config
from kindling.config.schema import RunConfig
from kindling.data.signature import Signature
from kindling.errors import UserError
from kindling.train.settle import check_against_data


def test_every_rule_names_a_real_key_and_the_defaults_pass():
    cfg = RunConfig()
    for dotted in RULES:
        node = cfg
        for part in dotted.split("."):
            assert hasattr(node, part), f"RULES names {dotted}, which RunConfig does not have"
            node = getattr(node, part)
    checked(cfg)


@pytest.mark.parametrize(
    ("flags", "sets", "message"),
    [
        ({"optim.lr": -0.1}, [], "optim.lr = -0.1 is out of range: it must be a finite number > 0 (--lr)"),
        ({}, ["optim.lr=.nan"], "optim.lr = nan is out of range: it must be a finite number > 0 (--lr)"),
        ({"train.epochs": 0}, [], "train.epochs = 0 is out of range: it must be an integer >= 1 (--epochs)"),
        (
            {},
            ["data.val_fraction=1"],
            "data.val_fraction = 1.0 is out of range: it must be a finite number in [0, 1) "
            "(--set data.val_fraction=...)",
        ),
        (
            {"optim.name": "adamm"},
            [],
            "optim.name = 'adamm' is not a valid choice (did you mean 'adam'?): it must be one of "
            "sgd | adam | adamw (--optimizer)",
        ),
    ],
)
def test_a_bad_value_names_key_value_range_and_flag(flags, sets, message):
    with pytest.raises(UserError) as info:
        load_config(None, flags, sets)
    assert str(info.value) == message


def test_a_recipe_is_checked_like_flags(tmp_path):
    recipe = tmp_path / "r.yaml"
    recipe.write_text("train:\n  epochs: -3\n")
    with pytest.raises(UserError, match=r"train.epochs = -3 is out of range"):
        load_config(recipe)


def test_a_saved_config_is_read_without_its_training_files():
    """evaluate/predict read a run's config on another machine: its data paths need not exist there."""
    cfg = config_from_yaml("data:\n  train: /nowhere/train.csv\n")
    assert cfg.data.train == "/nowhere/train.csv"
    with pytest.raises(UserError, match="does not exist"):
        load_config(None, {"data.train": "/nowhere/train.csv"})
    with pytest.raises(UserError, match="optim.lr = 0.0"):
        config_from_yaml("optim:\n  lr: 0\n")


def test_the_monitor_must_fit_the_task():
    regression = Signature("regression", "tabular", [3], [])
    with pytest.raises(UserError, match=r"train.monitor = 'val_acc' does not apply to a regression task"):
        check_against_data(load_config(None, {"train.monitor": "val_acc"}), regression)
    check_against_data(RunConfig(), regression)  # auto: the Task picks val_loss
    cfg = load_config(None, {"train.monitor": "val_mae"})
    check_against_data(cfg, regression)
    with pytest.raises(UserError, match="(--monitor val_acc)"):
        check_against_data(cfg, Signature("classification", "image", [1, 8, 8], ["a", "b"]))
