"""`kindling inspect MODEL`: each layer's output shape and parameter count (kindling.models.inspect).
Nothing heavy is imported here: `kindling --help` must answer at once."""

from __future__ import annotations

from kindling.models.inspect import inspect_model


def add_commands(sub) -> None:
    p = sub.add_parser("inspect", help="each layer's output shape and parameter count")
    p.add_argument("model", help="model name")
    p.add_argument("--input-shape", default="3x32x32", help="C x H x W of one sample (default: 3x32x32)")
    p.add_argument("--classes", type=int, default=10, help="number of classes (default: 10)")
    p.set_defaults(handler=cmd_inspect)


def cmd_inspect(args) -> int:

    print(inspect_model(args.model, args.input_shape, args.classes))
    return 0
