"""`kindling cv [RECIPE] --folds K`: K-fold cross-validation with every flag `train` takes (kindling.crossval).

    kindling cv --data wine --folds 5                 # runs/wine/fold-0 ... fold-4, mean ± std, runs/wine/report.html
    kindling cv --data csv:small.csv --target y --folds 5 --ensemble   # + runs/small/best: the 5 models averaged
    kindling cv --resume runs/wine                    # a killed cv continues at the fold and step it reached

Only argparse and the config dataclasses are imported here: `kindling --help` stays instant.
"""

from __future__ import annotations

import sys

from kindling.cli.args import add_run_arguments, run_config
from kindling.train.events import Interrupted


def add_commands(sub) -> None:

    p = sub.add_parser(
        "cv",
        help="K-fold cross-validation: each fold a run in runs/NAME/fold-I, mean ± std, a page; --ensemble",
        description="Cross-validate: train and val pooled and cut into K seeded, stratified folds; each "
        "fold a normal run (runs/NAME/fold-I) validated on its held-out part and scored on the test split. "
        "Every flag of `kindling train` applies to each fold.",
    )
    p.add_argument("recipe", nargs="?", help="recipe YAML (see `kindling list recipes`)")
    p.add_argument(
        "--folds",
        type=int,
        default=None,
        metavar="K",
        help="how many folds: at least 2, at most the smallest class's count (default: none; required for a new cv)",
    )
    p.add_argument(
        "--ensemble",
        action="store_true",
        help="keep the K fold models as one Bundle in runs/NAME/best whose prediction is their average "
        "(predict, evaluate, serve and export take it) (default: off)",
    )
    add_run_arguments(
        p,
        "the cross-validation in RUN at the fold and step it reached (default: a new one)",
        "the resolved config every fold shares",
    )
    p.set_defaults(handler=cmd_cv)


def cmd_cv(args) -> int:
    more = {}
    if args.folds is not None:
        from kindling.crossval import check_count  # lazy: the runner and the trainer import torch

        more["data.folds"] = check_count(args.folds)
    cfg, _ = run_config(args, **more)  # on --resume: the cross-validation's own saved config underneath
    if args.print_config:
        print(cfg.to_yaml(), end="")
        return 0
    from kindling.crossval import cross_validate  # lazy: the runner and the trainer import torch

    try:
        cross_validate(cfg, args.folds or cfg.data.folds, args.ensemble, args.resume, args.overwrite)
    except Interrupted as exc:
        where = args.resume or cfg.resolved_run_dir()
        print(f"kindling: {exc}\nresume with: kindling cv --resume {where}", file=sys.stderr)
        return 130
    return 0
