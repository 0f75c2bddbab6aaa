"""`kindling lr-find RECIPE`: the LR range test (kindling.train.lrfind) from the command line.

Nothing heavy is imported here: `kindling --help` must answer at once.
"""

from __future__ import annotations

import json
from pathlib import Path

from kindling.cli.args import add_set_argument
from kindling.util.fileio import atomic_write_bytes


def add_commands(sub) -> None:
    p = sub.add_parser(
        "lr-find", help="LR range test: loss against a growing learning rate, a suggested LR, a plot"
    )
    p.add_argument("recipe", nargs="?", help="recipe YAML (default: the built-in defaults)")
    add_set_argument(p, "config overrides (repeatable; default: none)")
    p.add_argument("--steps", type=int, default=100, help="steps of the range test (default: 100)")
    p.add_argument("--start-lr", type=float, default=1e-7, help="first learning rate (default: 1e-7)")
    p.add_argument("--end-lr", type=float, default=10.0, help="last learning rate (default: 10)")
    p.add_argument("--output", default="lr_find.png", help="where to write the plot (default: lr_find.png)")
    p.add_argument("--json", action="store_true", help="print one JSON object on stdout (default: text)")
    p.set_defaults(handler=cmd_lr_find)


def cmd_lr_find(args) -> int:
    from kindling.config.load import load_config  # lazy: yaml

    cfg = load_config(args.recipe, None, args.sets)
    result = lr_find(cfg, args.steps, args.start_lr, args.end_lr, Path(args.output))
    if args.json:
        print(json.dumps(result))
    else:
        suggested = result["suggested_lr"]
        print(
            f"suggested learning rate: {suggested:.2e}"
            if suggested
            else "no clear suggestion (the loss never fell)"
        )
        print(f"plot written to {result['plot']}; use it with --lr or --set optim.lr=...")
    return 0


def lr_find(
    cfg, steps: int = 100, start_lr: float = 1e-7, end_lr: float = 10.0, output: Path = Path("lr_find.png")
) -> dict:
    """The range test, its suggestion and its plot (written to `output`) -> the figures as a dict."""
    from kindling.report.curves import lr_find_plot  # lazy: numpy
    from kindling.train.lrfind import check_range, range_test, suggest  # lazy: numpy

    output = Path(output)
    check_range(steps, start_lr, end_lr, output)
    lrs, losses = range_test(cfg, steps, start_lr, end_lr)
    suggested = suggest(lrs, losses)
    atomic_write_bytes(output, lr_find_plot(lrs, losses, suggested).png)
    return {"suggested_lr": suggested, "steps": len(lrs), "lr": lrs, "loss": losses, "plot": str(output)}
