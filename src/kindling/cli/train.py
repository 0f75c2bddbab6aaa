"""`kindling train [RECIPE] [flags]`: train a model into runs/NAME (kindling.runner), resume one, or print
the resolved config. Nothing heavy is imported here: `kindling --help` must answer at once."""

from __future__ import annotations

import os

from kindling.cli.args import add_run_arguments, run_config
from kindling.cli.launch import launch_torchrun
from kindling.models.userrefs import given_again


def add_commands(sub) -> None:
    p = sub.add_parser(
        "train",
        help="train a model; writes runs/NAME",
        description="Train a model. Precedence: defaults < recipe < flags < --set.",
    )
    p.add_argument("recipe", nargs="?", help="recipe YAML (see `kindling list recipes`)")
    add_run_arguments(
        p, "the run in RUN exactly where it stopped (default: a new run)", "the resolved config"
    )
    p.set_defaults(handler=cmd_train)


def cmd_train(args) -> int:
    cfg, flags = run_config(args)
    if args.resume:  # your loss, metrics and callbacks named again: used as they are now
        loss = [flags["train.loss"]] if flags.get("train.loss") else []
        given_again(loss + (flags.get("train.metrics") or []) + (flags.get("train.callbacks") or []))
    if args.print_config:
        print(cfg.to_yaml(), end="")
        return 0
    if cfg.train.devices > 1 and "LOCAL_RANK" not in os.environ:
        return launch_torchrun(cfg.train.devices, args.argv)
    from kindling.crossval import cross_validate, instead_of_one_network, is_cv_dir  # lazy: torch
    from kindling.runner import train  # lazy: yaml

    if args.resume and is_cv_dir(args.resume):  # a small table's fold ensemble, chosen by the defaults
        cross_validate(cfg, resume=args.resume)
        return 0
    train(cfg, resume=args.resume, overwrite=args.overwrite, instead=instead_of_one_network(args.overwrite))
    return 0
