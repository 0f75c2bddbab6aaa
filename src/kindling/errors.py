"""The user-facing error type: one clear line (what, where, what to do), exit code 2."""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from pathlib import Path


class UserError(Exception):
    """A mistake in what the user handed over. The CLI prints `kindling: <message>` and exits 2.

    Example: ``raise UserError("unknown model 'lenett' (did you mean 'lenet'?); see `kindling list models`")``
    """

    exit_code = 2


MAX_MESSAGE = 300  # characters a one-line message aims at (the bad-input corpus holds every refusal to it)
GUARD = 2 * MAX_MESSAGE  # where the CLI cuts a runaway message; long paths alone may take one past 300


def summarise(items: Iterable, what: str = "", limit: int = 5) -> str:
    """A list in a one-line message: all of it when short, else the first few and how many more.

    Example: ``summarise(columns, "columns")`` -> ``['a', 'b', 'c', 'd', 'e', ... and 990 more columns]``
    """
    items = [str(item) for item in items]
    shown = ", ".join(repr(item if len(item) <= 40 else item[:37] + "...") for item in items[:limit])
    rest = len(items) - limit
    return f"[{shown}]" if rest <= 0 else f"[{shown}, ... and {rest} more{' ' + what if what else ''}]"


def one_line(message: str, limit: int = MAX_MESSAGE) -> str:
    """Any message as one line of at most `limit` characters: the last guard of the CLI's contract, for a
    message built from text of unknown length (a library's error, a long path). A long one loses its
    middle, cut at word boundaries: the start says what is wrong and where, the end what to do. A
    character that is not printable (a line break inside a quoted CSV header) is shown escaped, as `\n`."""
    text = "".join(ch if ch.isprintable() else repr(ch)[1:-1] for ch in str(message))
    if len(text) <= limit:
        return text
    keep = limit - 5  # " ... "
    head = text[: keep * 3 // 5].rsplit(" ", 1)[0]
    tail = text[len(text) - (keep - len(head)) :]
    tail = tail.split(" ", 1)[1] if " " in tail else tail
    return f"{head} ... {tail}"


class NonFiniteLossError(UserError):
    """Training produced a NaN or infinite loss; the last good checkpoint is kept."""


def did_you_mean(name: str, choices: Iterable[str]) -> str:
    """' (did you mean 'x'?)' for the closest choice, or '' when nothing is close."""
    close = difflib.get_close_matches(str(name), list(choices), n=1, cutoff=0.6)
    return f" (did you mean '{close[0]}'?)" if close else ""


def near_folder(path) -> str:
    """' (did you mean runs/cats_dogs?)' for a missing folder when a sibling's name is close (`cats-dogs`
    for `cats_dogs`, a typo), else ''. Reads only the names in the folder's parent."""
    path = Path(path)
    parent = path.parent
    try:
        siblings = [p.name for p in parent.iterdir() if p.is_dir()] if parent.is_dir() else []
    except OSError:
        return ""
    wanted = path.name.replace("-", "_").lower()
    same = [n for n in siblings if n.replace("-", "_").lower() == wanted]
    close = same or difflib.get_close_matches(path.name, siblings, n=1, cutoff=0.75)
    return f" (did you mean {parent / close[0]}?)" if close else ""


def unknown(kind: str, name: str, choices: Iterable[str], hint: str = "") -> UserError:
    """The standard 'unknown X' error: names the bad value, the closest match and the valid ones."""
    choices = sorted(choices)
    keep = 10 if hint else 25  # a hint names where the whole list is, so the line stays short
    listed = (
        ", ".join(choices)
        if len(choices) <= keep
        else ", ".join(choices[:keep]) + f", ... ({len(choices)} in all)"
    )
    msg = f"unknown {kind} '{name}'{did_you_mean(name, choices)}; valid: {listed}"
    return UserError(msg + (f"; {hint}" if hint else ""))
