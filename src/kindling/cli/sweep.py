"""`kindling sweep RECIPE --param KEY=KIND:ARGS ... --trials N`: the verb, registered through the
`kindling.commands` entry points like any other. Nothing heavy is imported here (no Optuna, no torch):
`kindling --help` must answer at once.
"""

from __future__ import annotations

import sys

from kindling.cli.args import add_set_argument
from kindling.sweeps.api import run_sweep


def add_commands(sub) -> None:
    p = sub.add_parser(
        "sweep",
        help="search settings over many runs of a recipe (Optuna; crash-safe, --resume continues it)",
        description="Train the recipe once per trial, each with settings drawn from the --param ranges (Optuna's "
        "TPE), pruning trials whose epochs fall behind. Each trial is a run in runs/NAME/trial-NNNN; at the end: "
        "a table, best.yaml, runs/NAME/best (the best trial's Bundle) and runs/NAME/sweep.html.",
    )
    p.add_argument("recipe", nargs="?", help="recipe YAML; its sweep: section may hold the flags below")
    p.add_argument(
        "--param",
        dest="params",
        action="append",
        default=[],
        metavar="KEY=KIND:ARGS",
        help="a searched setting (repeatable): KEY=loguniform:LO:HI | uniform:LO:HI | int:LO:HI[:STEP] | "
        "logint:LO:HI | choice:A,B,C; KEY is a config key or model.options.NAME (default: the recipe's sweep: section)",
    )
    p.add_argument("--trials", type=int, default=None, help="how many trials (default: 20)")
    p.add_argument(
        "--pruner",
        default=None,
        help="median | hyperband | none: stop trials whose epochs fall behind the others' (default: median)",
    )
    p.add_argument(
        "--workers",
        type=int,
        default=None,
        help="trials run at once on this machine, the cores split between them (default: 1)",
    )
    p.add_argument(
        "--timeout", type=float, default=None, help="start no trial after this many seconds (default: none)"
    )
    p.add_argument(
        "--storage",
        default=None,
        help="the study's database, any Optuna takes (postgresql://USER@HOST/DB): machines given the same "
        "recipe, --param and --storage share one study (default: sqlite in runs/NAME/sweep.db)",
    )
    p.add_argument("--name", default=None, help="the study and its folder runs/NAME (default: RECIPE-sweep)")
    add_set_argument(
        p, "a config key for every trial, e.g. --set train.epochs=10 (repeatable; default: none)"
    )
    p.add_argument(
        "--resume",
        metavar="FOLDER",
        default=None,
        help="continue the sweep in FOLDER (runs/NAME): finished trials are kept, the running one continues "
        "from its checkpoint (default: a new sweep)",
    )
    p.set_defaults(handler=cmd_sweep)


def cmd_sweep(args) -> int:

    code, folder, _ = run_sweep(
        args.recipe,
        args.params,
        args.trials,
        args.pruner,
        args.workers,
        args.timeout,
        args.storage,
        args.name,
        args.sets,
        args.resume,
    )
    if code == 130:
        print(
            f"kindling: sweep interrupted\ncontinue it with: kindling sweep --resume {folder}",
            file=sys.stderr,
        )
    return code
