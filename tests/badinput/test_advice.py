"""The advice of a refusal works: each test reads the fix out of the refusal's own line, applies it to
the same command, and the command then succeeds. (The stuck-run and existing-run advice is followed in
tests/train/test_stuck_run.py.)"""

from __future__ import annotations

import re
import shlex

import pytest

from badinput import cases_images, cases_tables, cases_text
from badinput.harness import refuse


def by_name(cases, name):
    return next(c for c in cases if c.name == name)


def follow(case, tmp_path, capsys, pattern: str) -> None:
    """Refused first; then the flags `pattern` captures from the line, added to the same argv, succeed."""
    from kindling.cli.main import main

    line = refuse(case, tmp_path, capsys, allowed_new=lambda p: p != "run" and not p.startswith("run/"))
    found = re.search(pattern, line)
    assert found, f"no advice matching {pattern!r} in: {line}"
    advice = shlex.split(found.group(1))
    argv = [str(a) for a in case.build(tmp_path)]
    rc = main([*argv, *advice])
    err = capsys.readouterr().err
    assert rc == 0, f"following {advice} from {line!r} failed: {err[-1500:]}"


ADVICE = [
    (cases_tables.CASES, "table-monitor-acc-on-regression", r"\((--monitor \S+)\)"),
    (cases_tables.CASES, "table-regression-on-words", r"use (--set \S+)"),
    (cases_tables.CASES, "table-missing-refused", r"or use (--set \S+)"),
    (cases_text.CASES, "text-no-tab", r"or pass (--set \S+?)\)"),
    (cases_images.CASES, "image-truncated-png", r"or pass (--skip-bad)"),
    (cases_images.CASES, "image-annotations-missing-image", r"or pass (--skip-bad)"),
]


@pytest.mark.parametrize(("cases", "name", "pattern"), ADVICE, ids=[a[1] for a in ADVICE])
def test_the_advice_of_a_refusal_works(cases, name, pattern, tmp_path, capsys):
    follow(by_name(cases, name), tmp_path, capsys, pattern)


def test_naming_the_delimiter_of_a_ragged_table_names_the_line_without_the_same_advice(tmp_path, capsys):
    """Passing the delimiter cannot fix ragged rows: the second refusal names the line, and does not send
    the user round in a circle."""
    from dataclasses import replace

    case = by_name(cases_tables.CASES, "table-ragged-rows")
    line = refuse(case, tmp_path, capsys, allowed_new=lambda p: p == "t.csv")
    assert "--set data.delimiter=comma" in line
    again = replace(case, build=lambda f: [*case.build(f), "--set", "data.delimiter=comma"], expect="line 3")
    line = refuse(again, tmp_path, capsys, allowed_new=lambda p: p == "t.csv")
    assert "data.delimiter" not in line, line
