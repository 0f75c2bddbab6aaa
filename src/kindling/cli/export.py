"""`kindling export RUN --format onnx|torchscript`: the verb; the export itself, checked against PyTorch
before anything is written, is kindling.predict.export. Nothing heavy is imported here: `kindling --help`
must answer at once.
"""

from __future__ import annotations

import json

from kindling.cli.args import add_trust_code
from kindling.predict.export import FORMATS, export_run, format_report


def add_commands(sub) -> None:
    p = sub.add_parser(
        "export",
        help="export a run's model to ONNX or TorchScript, checked against PyTorch",
        description="Export the model with its preprocessing description; verify it on real inputs.",
    )
    p.add_argument("run", help="run directory (runs/NAME) or bundle folder")
    p.add_argument("--format", required=True, choices=sorted(FORMATS), help="onnx | torchscript (required)")
    p.add_argument(
        "--output", default=None, help="model file to write (default: RUN/export/model.onnx or model.pt)"
    )
    p.add_argument("--opset", type=int, default=17, help="ONNX opset version (default: 17)")
    p.add_argument(
        "--samples",
        type=int,
        default=64,
        help="real inputs used for the check and the batch timing (default: 64)",
    )
    p.add_argument(
        "--threads",
        type=int,
        default=1,
        help="CPU threads for both PyTorch and the export while timing (default: 1)",
    )
    p.add_argument(
        "--json", action="store_true", help="print the report as one JSON object (default: a table)"
    )
    add_trust_code(p)
    p.set_defaults(handler=cmd_export)


def cmd_export(args) -> int:

    report = export_run(
        args.run, args.format, args.output, args.opset, args.samples, args.threads, args.trust_code
    )
    print(json.dumps(report) if args.json else format_report(report))
    return 0
