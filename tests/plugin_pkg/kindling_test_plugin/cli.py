"""A command the way another package adds one: add_commands(subparsers), each parser with a handler."""


def add_commands(sub) -> None:
    p = sub.add_parser("hello", help="say hello from the kindling-test-plugin package")
    p.add_argument("--name", default="world", help="whom to greet (default: world)")
    p.set_defaults(handler=lambda args: print(f"hello, {args.name}") or 0)
