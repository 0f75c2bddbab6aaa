"""`kindling predict RUN INPUTS...`: predictions for files, folders, globs, tables or texts
(kindling.predict.batch), printed, written to a file, or sorted into class folders. Nothing heavy is
imported here: `kindling --help` must answer at once."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from kindling.cli.args import add_trust_code, add_tta


def add_commands(sub) -> None:
    p = sub.add_parser(
        "predict",
        help="predict the class or value of inputs (files, folders, globs, tables, text)",
        intermixed=True,
    )
    p.add_argument("run", help="run directory or bundle folder")
    p.add_argument(
        "inputs",
        nargs="*",
        help="image files, .npy arrays, folders, quoted globs, a CSV (tables) or a text file (one text a line)",
    )
    p.add_argument(
        "--text",
        dest="texts",
        action="append",
        default=[],
        metavar="TEXT",
        help="a text to classify (repeatable; text models; default: none)",
    )
    p.add_argument("--top-k", type=int, default=3, help="how many classes to show per input (default: 3)")
    p.add_argument("--batch-size", type=int, default=256, help="inputs per forward pass (default: 256)")
    p.add_argument(
        "--output", metavar="FILE", help="write predictions to preds.csv or preds.jsonl (default: print them)"
    )
    p.add_argument(
        "--sort-into", metavar="DIR", help="copy images into DIR/<class>/ (and DIR/uncertain/) (default: off)"
    )
    p.add_argument(
        "--min-confidence",
        type=float,
        default=0.5,
        help="below this probability --sort-into uses uncertain/ (default: 0.5)",
    )
    p.add_argument("--json", action="store_true", help="print one JSON object on stdout (default: a table)")
    add_tta(p)
    add_trust_code(p)
    p.set_defaults(handler=cmd_predict)


def cmd_predict(args) -> int:
    from kindling.predict.batch import (
        Job,
        check_job,
        format_results,
        json_ready,
        run_job,
        sort_into,
        write_output,
    )  # lazy: numpy
    from kindling.predict.predictor import Predictor  # lazy: numpy

    job = Job(
        args.inputs,
        args.texts,
        args.top_k,
        args.batch_size,
        Path(args.output) if args.output else None,
        Path(args.sort_into) if args.sort_into else None,
        args.min_confidence,
        progress=not args.json,
    )
    predictor = Predictor.load(args.run, trust_code=args.trust_code, tta=args.tta)
    check_job(job, predictor)
    results, frame = run_job(job, predictor)
    if job.output is not None:
        write_output(job.output, results, frame)
        print(f"wrote {len(results)} predictions to {job.output}", file=sys.stderr)
    if job.sort_into is not None:
        counts = sort_into(job.sort_into, results, job.min_confidence)
        print(
            f"sorted {len(results)} images into {job.sort_into}: "
            + ", ".join(f"{k} {v}" for k, v in sorted(counts.items())),
            file=sys.stderr,
        )
    tta = {"tta": predictor.tta} if predictor.tta is not None else {}
    if args.json:
        print(json.dumps({"predictions": json_ready(results), **tta}, allow_nan=False))
    elif job.output is None:
        print(format_results(results))
    if tta and not args.json:
        views = predictor.tta["views"]
        print(f"test-time augmentation: {predictor.tta['averaged']} averaged over {len(views)} views "
              f"({', '.join(views)}; {predictor.tta['from']})", file=sys.stderr)  # fmt: skip
    return 0
