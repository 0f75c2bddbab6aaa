"""Config precedence, refusals and round trip."""

from __future__ import annotations

import pytest

from kindling.config.load import config_from_yaml, load_config, parse_set
from kindling.config.schema import RunConfig
from kindling.errors import UserError


@pytest.fixture()
def recipe(tmp_path):
    path = tmp_path / "r.yaml"
    path.write_text("data:\n  name: digits\n  batch_size: 32\noptim:\n  lr: 0.5\ntrain:\n  epochs: 7\n")
    return path


def test_defaults_recipe_flags_set_precedence(recipe):
    cfg = load_config(
        recipe, {"optim.lr": 0.1, "train.epochs": None}, ["optim.lr=0.01", "data.eval_batch_size=99"]
    )
    assert cfg.data.batch_size == 32  # recipe over default
    assert cfg.train.epochs == 7  # a flag left unset does not override the recipe
    assert cfg.optim.lr == 0.01  # --set over flag over recipe
    assert cfg.data.eval_batch_size == 99
    assert cfg.optim.momentum == RunConfig().optim.momentum  # default
    assert cfg.name == "r"


def test_unknown_key_refused_with_did_you_mean(recipe):
    with pytest.raises(UserError, match=r"unknown config key 'optim.lrr'.*did you mean 'lr'"):
        load_config(recipe, {}, ["optim.lrr=0.1"])
    with pytest.raises(UserError, match=r"unknown config key 'trian'.*did you mean 'train'"):
        load_config(None, {}, ["trian.epochs=3"])


@pytest.mark.parametrize(
    "item, message",
    [
        ("train.epochs=many", "train.epochs must be an integer"),
        ("optim.lr=fast", "optim.lr must be a number"),
        ("train.deterministic=maybe", "must be true or false"),
        ("optim.lr", "not of the form"),
        ("model.options=3", "must be a mapping"),
    ],
)
def test_wrong_types_refused(item, message):
    with pytest.raises(UserError, match=message):
        load_config(None, {}, [item])


def test_bad_yaml_names_file_and_line(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text("data:\n  name: digits\n  batch_size: [1, 2\ntrain: {}\n")
    with pytest.raises(UserError, match=r"bad.yaml:\d+: invalid YAML"):
        load_config(path)


def test_set_values_parse_as_yaml():
    assert parse_set("sched.milestones=[3, 6]") == ("sched.milestones", [3, 6])
    assert parse_set("train.deterministic=true") == ("train.deterministic", True)
    assert parse_set("data.drop=a,b") == ("data.drop", "a,b")
    assert load_config(None, {}, ["optim.lr=1e-3"]).optim.lr == 0.001  # YAML 1.1 reads this as a string
    assert load_config(None, {}, ["data.drop=a,b"]).data.drop == ["a", "b"]


def test_yaml_round_trip(recipe):
    cfg = load_config(recipe, {"model.name": "lenet"}, ["model.options={width: 8}"])
    again = config_from_yaml(cfg.to_yaml())
    assert again == cfg
    assert again.to_yaml() == cfg.to_yaml()


def test_run_dir_default_name():
    cfg = load_config(None, {"data.name": "folder:/data/photos/", "model.name": "resnet18"})
    assert str(cfg.resolved_run_dir()).endswith("runs/photos-resnet18")


def test_flags_come_from_the_config_fields_with_their_defaults():
    from kindling.cli.args import OneLineParser, _add_config_flags
    from kindling.config.schema import cli_flags

    flags = {f.flag: f for f in cli_flags()}
    assert flags["--lr"].key == "optim.lr" and flags["--lr"].type is float and flags["--lr"].default is None
    assert flags["--seed"].key == "train.seed" and flags["--seed"].default == 0
    assert flags["--drop"].type is str  # a list field takes a comma-separated string
    assert flags["--image-size"].type is int  # int | None
    assert flags["--embeddings"].key == "model.options.embeddings"
    assert len(flags) == len(cli_flags())  # no flag named twice
    for f in cli_flags():  # every flag sets a key load_config accepts, with its own type
        value = {bool: True, int: 8, float: 0.5, str: "x"}[f.type]
        if f.key == "data.channels":
            value = 3
        try:
            cfg = load_config(None, {f.key: value}, [])
        except UserError as exc:  # a value its rule refuses: refused by naming the key
            assert f.key in str(exc)
            continue
        node = cfg
        for part in f.key.split("."):
            node = node[part] if isinstance(node, dict) else getattr(node, part)
        assert node == ([value] if f.key in ("data.drop", "data.keep") else value)
    parser = OneLineParser(prog="t")
    _add_config_flags(parser)
    args = parser.parse_args(["--lr", "0.2", "--drop", "a,b", "--dry-run"])
    assert vars(args)["optim.lr"] == 0.2 and vars(args)["train.dry_run"] is True
    assert vars(args)["train.epochs"] is None  # a flag left out keeps the recipe's value
    assert load_config(None, vars(args), []).data.drop == ["a", "b"]


def test_augment_help_lists_every_preset():
    from kindling.config.schema import cli_flags
    from kindling.data.augment import PRESETS

    text = next(f.help for f in cli_flags() if f.flag == "--augment")
    assert all(name in text for name in PRESETS)
