"""`kindling list datasets|models|commands|recipes`: what is there, read from the installed entry points
and the recipes folder without importing a plug-in (kindling.plugins). The module is `listing`, not
`list`, so that it shadows no builtin name."""

from __future__ import annotations

from pathlib import Path

from kindling import plugins
from kindling.cli.main import build_parser


def add_commands(sub) -> None:
    p = sub.add_parser("list", help="list data sets, models, commands or recipes")
    p.add_argument("what", choices=["datasets", "models", "commands", "recipes"], help="what to list")
    p.set_defaults(handler=cmd_list)


def cmd_list(args) -> int:
    if args.what == "datasets":
        _print_rows((p.name, p.package, text) for p, text in plugins.listed(plugins.DATA))
    elif args.what == "models":
        _print_rows((p.name, p.package, text) for p, text in plugins.listed(plugins.MODELS))
        print(
            "...and every torchvision classification model by name (resnet18, vgg16, mobilenet_v3_small, ...)"
        )
    elif args.what == "commands":
        parser = build_parser()
        _print_rows(
            (name, parser.origins[name].package if name in parser.origins else "kindling", text)
            for name, text in parser.command_help.items()
        )
    else:
        for path in sorted(Path("recipes").glob("*.yaml")):
            first = next(
                (
                    ln[1:].strip()
                    for ln in path.read_text(encoding="utf-8").splitlines()
                    if ln.startswith("#")
                ),
                "",
            )
            print(f"{str(path):<36} {first}")
    return 0


def _print_rows(rows) -> None:
    """name, package, description in aligned columns."""
    rows = list(rows)
    name_width = max((len(r[0]) for r in rows), default=0) + 2
    package_width = max((len(r[1]) for r in rows), default=0) + 2
    for name, package, text in rows:
        print(f"{name:<{name_width}}{package:<{package_width}}{text}".rstrip())
