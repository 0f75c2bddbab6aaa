"""`kindling data DATA-SPEC`: the verb of the data doctor (kindling.report.doctor). Nothing heavy is
imported here: `kindling --help` must answer at once.
"""

from __future__ import annotations

import contextlib
import json
import sys

from kindling.cli.args import add_set_argument
from kindling.errors import UserError


def add_commands(sub) -> None:
    p = sub.add_parser(
        "data", help="data doctor: class balance, sizes, corrupt files, duplicates across splits"
    )
    p.add_argument("spec", help="data set or source spec: digits, folder:DIR, csv:FILE, text:PATH ...")
    p.add_argument("--json", action="store_true", help="print one JSON object on stdout (default: a table)")
    add_set_argument(p, "data options, e.g. --set data.target=price (repeatable; default: none)")
    p.set_defaults(handler=cmd_data)


def cmd_data(args) -> int:

    from kindling.config.load import load_config  # lazy: yaml
    from kindling.report.doctor import diagnose, format_report  # lazy: numpy

    cfg = load_config(None, {"data.name": args.spec}, args.sets)
    # a source may print while it builds; with --json stdout must hold the one JSON object only
    with contextlib.redirect_stdout(sys.stderr) if args.json else contextlib.nullcontext():
        result = diagnose(cfg.data)
    error = result.get("build_error")
    if error is not None and not ({"files", "table"} & result.keys()):
        raise UserError(error)  # nothing else to show: the one line, exit 2
    print(json.dumps(result) if args.json else format_report(result))
    if error is not None:  # the files were scanned (the report above), but the data does not load: exit 2
        raise UserError(f"the data does not load as it is: {error}")
    return 0
