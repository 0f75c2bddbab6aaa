"""`kindling evaluate RUN`: the metrics of a run's best model on a split (kindling.evaluate.evaluation),
printed as a table or JSON and written to RUN/metrics_<split>.json. Nothing heavy is imported here:
`kindling --help` must answer at once."""

from __future__ import annotations

import json
from pathlib import Path

from kindling.bundle.files import bundle_dir, read_meta
from kindling.cli.args import add_trust_code, add_tta
from kindling.util.fileio import finite


def add_commands(sub) -> None:
    p = sub.add_parser("evaluate", help="metrics of a run's best model on its test split")
    p.add_argument("run", help="run directory (runs/NAME) or bundle folder (runs/NAME/best)")
    p.add_argument("--split", default="test", help="test | val | train (default: test)")
    p.add_argument(
        "--data",
        default=None,
        help="evaluate on another data spec of the same kind (default: the run's data)",
    )
    p.add_argument("--json", action="store_true", help="print one JSON object on stdout (default: a table)")
    add_tta(p)
    add_trust_code(p)
    p.set_defaults(handler=cmd_evaluate)


def cmd_evaluate(args) -> int:
    from kindling.evaluate.evaluation import (  # lazy: torch
        evaluate,
        format_table,
        strict_metrics,
        write_metrics,
    )

    result = evaluate(args.run, args.split, args.data, trust_code=args.trust_code, tta=args.tta)
    folder = bundle_dir(args.run)
    run_dir = folder.parent if folder.name == "best" else None
    if run_dir is not None:
        strict = write_metrics(run_dir, args.split, result, tta=args.tta)
    else:
        strict = strict_metrics(result)  # JSON stays JSON: a NaN metric is null, and says why
    baseline = _saved_baseline(run_dir, result["split"]) if run_dir is not None and not args.data else None
    if args.json:
        shown = {**strict, "baseline": finite(baseline)[0]} if baseline else strict
        print(json.dumps(shown, allow_nan=False))
    else:
        print(format_table(result, read_meta(folder)["signature"].get("class_names", [])))
        if baseline:
            from kindling.evaluate.baseline import compare_line  # lazy: numpy

            print(compare_line(result, baseline))
    return 0


def _saved_baseline(run_dir: Path, split: str) -> dict | None:
    """RUN/baseline.json when it was scored on the split evaluated (the run's own data only)."""
    from kindling.evaluate.baseline_run import load  # lazy: numpy

    return load(run_dir, split)
