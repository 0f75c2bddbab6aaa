"""What the verbs' parsers share (each verb is its own module in kindling.cli): the one-line parser, the
--set, --tta, --trust-code and --code flags, every flag with its default shown in --help.

`kindling train`'s config flags (used by `cv` too) are generated from the config dataclasses (kindling.config.schema.setting:
help, flag and default written once, beside the field). Only argparse and the config dataclasses are
imported here, so `kindling --help` stays instant.
"""

from __future__ import annotations

import argparse
import difflib
import re
from pathlib import Path


def add_set_argument(p: argparse.ArgumentParser, text: str) -> None:
    """The repeatable `--set section.key=value` override, shared by every command that reads a config."""
    p.add_argument("--set", dest="sets", action="append", default=[], metavar="KEY=VALUE", help=text)


def _add_config_flags(p: argparse.ArgumentParser) -> None:
    """One flag per config field that names one (kindling.config.schema.setting), grouped by config section;
    the help and the default come from the field. A flag left out keeps the recipe's value (default None)."""
    from kindling.config.schema import cli_flags  # lazy: yaml

    groups: dict = {}
    for f in cli_flags():
        section = f.key.split(".")[0] if "." in f.key else "run"
        group = groups.get(section) or groups.setdefault(section, p.add_argument_group(section))
        help_text = f.help if "(default" in f.help else f"{f.help} (default: {_shown(f.default)})"
        if f.type is bool:
            group.add_argument(f.flag, dest=f.key, action="store_true", default=None, help=help_text)
        elif f.repeat:  # --metric A --metric B: a list
            group.add_argument(
                f.flag, dest=f.key, action="append", default=None, metavar="SPEC", help=help_text
            )
        else:
            metavar = f.type.__name__.upper()
            group.add_argument(f.flag, dest=f.key, type=f.type, default=None, metavar=metavar, help=help_text)


def add_run_arguments(p: argparse.ArgumentParser, resume: str, printed: str) -> None:
    """What `train` and `cv` share: the config flags, --set, --resume RUN (`resume`: what it continues),
    --overwrite and --print-config (`printed`: which config it prints)."""
    _add_config_flags(p)
    add_set_argument(p, "any config key, e.g. --set optim.momentum=0.5 (repeatable; default: none)")
    p.add_argument("--resume", metavar="RUN", help=f"continue {resume}")
    p.add_argument(
        "--overwrite", action="store_true", help="replace an existing run directory (default: refuse)"
    )
    p.add_argument(
        "--print-config", action="store_true", help=f"print {printed} as YAML and exit (default: off)"
    )


def run_config(args, **more):
    """-> (the RunConfig a `train`-like verb's arguments name, their dotted flags): the recipe, or when
    resuming without one the run's saved config.yaml, with the flags (and `more`) and --set items on top."""
    from kindling.config.load import load_config  # lazy: yaml

    flags = {k: v for k, v in vars(args).items() if "." in k or k == "run_dir"}
    flags.update(more)
    base = None
    if getattr(args, "resume", None) and not args.recipe:  # the run's own saved config, flags on top
        from kindling.bundle.rundir import load_saved_config  # lazy: yaml

        base = load_saved_config(Path(args.resume)).to_dict()
    return load_config(args.recipe, flags, args.sets, base=base), flags


def _shown(default) -> str:
    """A default as a user would type it: off/on, a comma-separated list, none."""
    if isinstance(default, bool):
        return "on" if default else "off"
    if isinstance(default, list):
        return ",".join(map(str, default)) or "none"
    return "none" if default is None else str(default)


class OneLineParser(argparse.ArgumentParser):
    """A mistake on the command line is one line and exit code 2, as every user mistake (the CLI
    contract): what is wrong, a near miss named (`--epoch`: did you mean --epochs?), and where the flags
    are listed. Plain argparse prints the whole usage first: 20 lines for `kindling train`."""

    def error(self, message: str):
        message, hint = self._near_miss(message)
        self.exit(2, f"{self.prog}: {message}{hint} (see `{self.prog} --help`)\n")

    def _near_miss(self, message: str) -> tuple[str, str]:
        """(the message, "; did you mean X?" or ""); a named near miss replaces argparse's list of choices."""

        choice = re.search(r"invalid choice: '([^']*)' \(choose from (.*)\)", message)
        if choice:
            wrong, known = choice.group(1), re.findall(r"'([^']*)'", choice.group(2))
        else:
            flags = [w.split("=")[0] for w in message.partition(": ")[2].split() if w.startswith("--")]
            wrong, known = (flags or [""])[0], list(self._option_string_actions)
        close = difflib.get_close_matches(wrong, known, n=1, cutoff=0.7) if wrong else []
        if not close:
            return message, ""
        if choice:
            message = message[: choice.end(1) + 1]
        return message, f"; did you mean {close[0]}?"


class SubParser(OneLineParser):
    """A subcommand parser that can let options sit between positionals (`predict RUN --output p.csv photos/`):
    plain argparse matches a nargs='*' positional once, at its first chunk, and rejects inputs after an option."""

    def __init__(self, *args, intermixed: bool = False, **kwargs):
        super().__init__(*args, **kwargs)
        self.intermixed = intermixed
        self._inside = False

    def parse_known_args(self, args=None, namespace=None):
        if not self.intermixed or self._inside:  # parse_known_intermixed_args calls back into this method
            return super().parse_known_args(args, namespace)
        self._inside = True
        try:
            return self.parse_known_intermixed_args(args, namespace)
        finally:
            self._inside = False


def add_tta(p) -> None:
    """--tta: image models, averaged over the flips and shifts they trained with (kindling.data.tta)."""
    p.add_argument(
        "--tta",
        action="store_true",
        help="test-time augmentation: average the probabilities over the flips and small shifts the "
        "model trained with (images only; the views are recorded in the output) (default: off)",
    )


def add_trust_code(p) -> None:
    """--trust-code: for a model from the user's own file, import the Bundle's copy of it; --code FILE.py:
    name that file again (kindling.util.codetrust)."""
    p.add_argument(
        "--trust-code",
        action="store_true",
        help="your own model (--model file.py:Name): import its code from the bundle's copy (best/code/) "
        "instead of the file training used (default: off)",
    )
    add_code(p)


def add_code(p) -> None:
    p.add_argument(
        "--code",
        metavar="FILE.py",
        default=None,
        help="your own model's file, named again: used (and remembered) when its sha256 is the one the bundle "
        "recorded, e.g. for a bundle trained elsewhere or a file moved since (default: a file you trained with here)",
    )
