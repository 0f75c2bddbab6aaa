"""`kindling report RUN` and `kindling compare RUN...` (the pages: kindling.report.html, kindling.report.compare).

Nothing heavy is imported here: `kindling --help` must answer at once.
"""

from __future__ import annotations

import time

from kindling.cli.args import add_code
from kindling.report.compare import format_compare, write_compare
from kindling.report.html import write_report


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
    add_code(p)
    p.set_defaults(handler=cmd_report)

    p = sub.add_parser(
        "compare",
        help="one page with several runs' curves overlaid and metrics side by side",
        description="Compare runs: print their metrics side by side (the figure that picked each best epoch "
        "named beside its value, and the test metrics when a run has them) and write one page with their "
        "learning curves overlaid, next to the first run (runs/compare.html) unless --output says where.",
    )
    p.add_argument("runs", nargs="+", help="run directories (runs/NAME ...)")
    p.add_argument(
        "--output",
        default=None,
        help="where to write the page (default: compare.html next to the first run, e.g. runs/compare.html)",
    )
    p.set_defaults(handler=cmd_compare)


def cmd_report(args) -> int:

    t0 = time.perf_counter()
    path = write_report(args.run, args.output, args.refresh)
    print(f"report written to {path} ({time.perf_counter() - t0:.1f} s)")
    return 0


def cmd_compare(args) -> int:

    path, rows = write_compare(args.runs, args.output)
    print(format_compare(rows))
    print(f"comparison written to {path}")
    return 0
