"""The `kindling` command. Thin: parse, call the library, map errors to exit codes.

Every verb is its own module in kindling.cli (train.py, evaluate.py, ... serve.py), registered through the
`kindling.commands` entry points exactly as another package's command is; this module builds the parser
from them, runs the verb chosen and maps its errors to exit codes.

Exit codes: 0 done; 2 the user's input is wrong (one line, no traceback); 1 a bug; 130 interrupted.
Nothing heavy is imported until a command runs, so `kindling --help` answers at once.
"""

from __future__ import annotations

import argparse
import atexit
import gc
import os
import sys
import sysconfig
import threading
from pathlib import Path

from kindling import plugins
from kindling.cli.args import OneLineParser, SubParser, run_config
from kindling.errors import GUARD, UserError, one_line
from kindling.train.events import Interrupted
from kindling.util.codetrust import point_at
from kindling.util.envinfo import VERSION as __version__


def build_parser() -> argparse.ArgumentParser:
    parser = OneLineParser(
        prog="kindling", description="From data to a served PyTorch prediction, one command per step."
    )
    parser.add_argument("--version", action="version", version=f"kindling {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=SubParser)
    parser.origins = add_plugin_commands(sub)
    parser.commands = sub.choices  # the subcommand parsers, to tell a leftover flag's mistake in theirs
    # argparse keeps a subcommand's one-line help only on its choices' pseudo-actions
    parser.command_help = {action.dest: action.help or "" for action in sub._choices_actions}
    return parser


# The order of `kindling --help`: these of kindling's own first, as a user meets them, then its others
# (in the order their entry points are found), then another package's. Only the order: each verb's parser and
# handler are its own module's.
FIRST = ("train", "evaluate", "predict", "list", "inspect", "verify-resume")


def _shown_order(entry: tuple[plugins.Plugin, object]) -> tuple[bool, int]:
    plugin = entry[0]
    return (not plugin.builtin, FIRST.index(plugin.name) if plugin.name in FIRST else len(FIRST))


def add_plugin_commands(sub) -> dict[str, plugins.Plugin]:
    """Every command comes from a `kindling.commands` entry point (kindling's own, kindling.cli's modules;
    another package's): an `add_commands(subparsers)` that adds parsers with `set_defaults(handler=)`.
    Returns which entry added each command. Another package's entry that fails is one warning line."""
    origins: dict[str, plugins.Plugin] = {}
    for plugin, add_commands in sorted(plugins.load_each(plugins.COMMANDS), key=_shown_order):
        before = set(sub.choices)
        try:
            add_commands(sub)
        except Exception as exc:  # a clash with a command's name, or a bug in the package
            if plugin.builtin:
                raise
            plugins.warn(plugin.failure(exc))
        origins.update({name: plugin for name in sub.choices if name not in before})
    return origins


def entry() -> int:
    """The `kindling` command: main(), then the end of the process without the interpreter's teardown.
    After `kindling train`, freeing torch's modules and objects one by one is slow, and the last garbage
    collection walks every object torch created, adding a noticeable pause. Nothing is lost: the atexit
    handlers run first and the output is flushed; every file was written and closed (atomically) before
    main returned. With another thread still running, the process ends the usual way, which joins it."""

    code = main()
    run_exit_handlers = getattr(atexit, "_run_exitfuncs", None)
    if run_exit_handlers is None or threading.active_count() > 1:
        gc.freeze()  # the usual way then skips the collection over torch's objects
        return code
    run_exit_handlers()
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):  # a closed pipe: nothing more can be told
            pass
    os._exit(int(code or 0))


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args, leftover = parser.parse_known_args(argv)
    if leftover:  # argparse tells these at the top level; the mistake is in the subcommand's flags
        parser.commands.get(args.command, parser).error(f"unrecognized arguments: {' '.join(leftover)}")
    args.argv = list(sys.argv[1:] if argv is None else argv)  # what torchrun re-runs for --devices N
    if not args.command:
        parser.print_help()
        return 0
    try:
        if getattr(args, "code", None):  # --code FILE.py: the user's own file, named for this process
            point_at(args.code)
        return args.handler(args)
    except UserError as exc:
        print(f"kindling: {one_line(str(exc), GUARD)}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("kindling: interrupted", file=sys.stderr)
        return 130
    except SystemExit as exc:
        line = _user_exit(exc)
        if line is None:
            raise
        print(f"kindling: {one_line(line, GUARD)}", file=sys.stderr)
        return 2
    except BrokenPipeError:  # `kindling evaluate RUN | head`: the reader left; not an error
        sys.stderr.close()
        return 0
    except Exception as exc:
        if isinstance(exc, Interrupted):
            run = getattr(args, "run_dir", None) or "RUN"
            print(
                f"kindling: {exc}\nresume with: kindling train --resume {_resume_target(args, run)}",
                file=sys.stderr,
            )
            return 130
        raise


def _user_exit(exc: SystemExit) -> str | None:
    """The line for a sys.exit() that the user's own code (a model's forward, a Dataset's __getitem__) called
    while a command ran it: it would end kindling with that code and nothing said. kindling never exits
    from inside a command, so an exit raised outside Python's and kindling's own files is the user's; any
    other (a library's) is left as it is (None)."""

    tb, frame = exc.__traceback__, None
    while tb is not None:
        frame, tb = tb.tb_frame, tb.tb_next
    file = frame.f_code.co_filename if frame is not None else "<unknown>"
    paths = sysconfig.get_paths()
    ours = (str(Path(__file__).parent.parent), sys.prefix, sys.base_prefix, paths["stdlib"], paths["purelib"])
    if file.startswith(("<", *(os.path.join(folder, "") for folder in ours))):
        return None
    return (
        f"{file}:{frame.f_lineno} called sys.exit({exc.code!r}) while kindling ran it; remove the exit "
        "(raise an exception to stop with a message)"
    )


def _resume_target(args, fallback: str) -> str:
    if getattr(args, "resume", None):
        return args.resume
    try:
        return str(run_config(args)[0].resolved_run_dir())
    except UserError:
        return fallback


if __name__ == "__main__":
    sys.exit(main())
