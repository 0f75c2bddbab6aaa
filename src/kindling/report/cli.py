"""Subcommands: `report RUN`, `compare RUN...`, `tensorboard RUN...`, `lr-find RECIPE`.

Nothing heavy is imported here: `kindling --help` must answer at once.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from kindling.cli_args import add_set_argument
from kindling.errors import UserError


def add_commands(sub) -> None:
    p = sub.add_parser("report", help="write RUN/report.html: metrics, plots, data, config in one page")
    p.add_argument("run", help="run directory (runs/NAME)")
    p.add_argument("--output", default=None, help="where to write the page (default: RUN/report.html)")
    p.add_argument(
        "--refresh",
        action="store_true",
        help="evaluate the best model and redraw the plots even when the ones training left are current "
        "(default: reuse them; a run changed since, or cut off, is always evaluated again)",
    )
    p.set_defaults(handler=cmd_report)

    p = sub.add_parser("compare", help="one page with several runs' curves overlaid and metrics side by side")
    p.add_argument("runs", nargs="+", help="run directories")
    p.add_argument("--output", default="compare.html", help="where to write the page (default: compare.html)")
    p.set_defaults(handler=cmd_compare)

    p = sub.add_parser("tensorboard", help="start TensorBoard on the runs' tb/ folders, side by side")
    p.add_argument("runs", nargs="+", help="run directories")
    p.add_argument("--port", type=int, default=6006, help="port to listen on (default: 6006)")
    p.add_argument(
        "--host", default="127.0.0.1", help="address to bind (default: 127.0.0.1, this machine only)"
    )
    p.set_defaults(handler=cmd_tensorboard)

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


def cmd_report(args) -> int:
    import time

    from kindling.report.html import write_report

    t0 = time.perf_counter()
    path = write_report(args.run, args.output, args.refresh)
    print(f"report written to {path} ({time.perf_counter() - t0:.1f} s)")
    return 0


def cmd_compare(args) -> int:
    from kindling.report.html import write_compare

    print(f"comparison written to {write_compare(args.runs, args.output)}")
    return 0


def tensorboard_command(runs: list[str], port: int, host: str = "127.0.0.1") -> list[str]:
    """The TensorBoard command line for these runs: each run's tb/ under the run's name."""
    import importlib.util

    if importlib.util.find_spec("tensorboard") is None:
        raise UserError(
            "TensorBoard is not installed; `pip install tensorboard` (or `pip install kindling[report]`)"
        )
    if not 0 < port < 65536:
        raise UserError(f"--port {port} is not a port number (1-65535)")
    specs, seen = [], set()
    for run in runs:
        tb = Path(run) / "tb"
        if not tb.is_dir():
            raise UserError(
                f"{run} has no TensorBoard logs (no {tb}); train with --set train.logger=tensorboard"
            )
        name = Path(run).resolve().name
        while name in seen:
            name += "_"
        seen.add(name)
        specs.append(f"{name}:{tb.resolve()}")
    return [
        sys.executable,
        "-m",
        "tensorboard.main",
        "--logdir_spec",
        ",".join(specs),
        "--port",
        str(port),
        "--host",
        host,
    ]


def cmd_tensorboard(args) -> int:
    import subprocess

    command = tensorboard_command(args.runs, args.port, args.host)
    print(f"TensorBoard on http://{args.host}:{args.port}/ (Ctrl-C stops it)", flush=True)
    try:
        return subprocess.call(command)
    except KeyboardInterrupt:
        return 130


def cmd_lr_find(args) -> int:
    from kindling.config import load_config
    from kindling.train.lrfind import lr_find

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
