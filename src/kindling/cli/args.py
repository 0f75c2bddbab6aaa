"""The argument parsers of the core subcommands: every flag with its default shown in --help.

`kindling train`'s config flags are generated from the config dataclasses (kindling.config.schema.setting:
help, flag and default written once, beside the field). Only argparse and the config dataclasses are
imported here, so `kindling --help` stays instant.
"""

from __future__ import annotations

import argparse


def add_set_argument(p: argparse.ArgumentParser, text: str) -> None:
    """The repeatable `--set section.key=value` override, shared by every command that reads a config."""
    p.add_argument("--set", dest="sets", action="append", default=[], metavar="KEY=VALUE", help=text)


def _add_train(sub) -> None:
    p = sub.add_parser(
        "train",
        help="train a model; writes runs/NAME",
        description="Train a model. Precedence: defaults < recipe < flags < --set.",
    )
    p.add_argument("recipe", nargs="?", help="recipe YAML (see `kindling list recipes`)")
    _add_config_flags(p)
    add_set_argument(p, "any config key, e.g. --set optim.momentum=0.5 (repeatable; default: none)")
    p.add_argument(
        "--resume",
        metavar="RUN",
        help="continue the run in RUN exactly where it stopped (default: a new run)",
    )
    p.add_argument(
        "--overwrite", action="store_true", help="replace an existing run directory (default: refuse)"
    )
    p.add_argument(
        "--print-config",
        action="store_true",
        help="print the resolved config as YAML and exit (default: off)",
    )


def _add_config_flags(p: argparse.ArgumentParser) -> None:
    """One flag per config field that names one (kindling.config.schema.setting), grouped by config section;
    the help and the default come from the field. A flag left out keeps the recipe's value (default None)."""
    from kindling.config.schema import cli_flags

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


def _shown(default) -> str:
    """A default as a user would type it: off/on, a comma-separated list, none."""
    if isinstance(default, bool):
        return "on" if default else "off"
    if isinstance(default, list):
        return ",".join(map(str, default)) or "none"
    return "none" if default is None else str(default)


def flag_keys() -> dict[str, str]:
    """`train`'s flags as Python keywords -> their config keys (`batch_size` -> data.batch_size):
    what `kindling.fit(**keywords)` accepts beside the field names."""
    from kindling.config.schema import cli_flags

    return {f.flag[2:].replace("-", "_"): f.key for f in cli_flags()}


class OneLineParser(argparse.ArgumentParser):
    """A mistake on the command line is one line and exit code 2, as every user mistake (the CLI
    contract): what is wrong, a near miss named (`--epoch`: did you mean --epochs?), and where the flags
    are listed. Plain argparse prints the whole usage first: 20 lines for `kindling train`."""

    def error(self, message: str):
        message, hint = self._near_miss(message)
        self.exit(2, f"{self.prog}: {message}{hint} (see `{self.prog} --help`)\n")

    def _near_miss(self, message: str) -> tuple[str, str]:
        """(the message, "; did you mean X?" or ""); a named near miss replaces argparse's list of choices."""
        import difflib
        import re

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


def _add_predict(sub) -> None:
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


def add_core_commands(sub) -> None:
    _add_train(sub)
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
    _add_predict(sub)
    p = sub.add_parser("list", help="list data sets, models, commands or recipes")
    p.add_argument("what", choices=["datasets", "models", "commands", "recipes"], help="what to list")
    p = sub.add_parser("inspect", help="each layer's output shape and parameter count")
    p.add_argument("model", help="model name")
    p.add_argument("--input-shape", default="3x32x32", help="C x H x W of one sample (default: 3x32x32)")
    p.add_argument("--classes", type=int, default=10, help="number of classes (default: 10)")
    p = sub.add_parser(
        "verify-resume", help="train, interrupt, resume, and check the weights are bit-identical"
    )
    p.add_argument("recipe", nargs="?", help="recipe YAML (default: the digits demo config)")
    add_set_argument(p, "config overrides (repeatable; default: none)")
    p.add_argument("--epochs", type=int, default=2, help="epochs of the comparison (default: 2)")
