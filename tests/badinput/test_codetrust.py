"""Crafted Bundles and run folders that name code: refused in one line, and the planted code never runs."""

from __future__ import annotations

import sys

import pytest

from badinput import runs
from badinput.cases_codetrust import CASES
from badinput.harness import refuse
from kindling_testing import train_run


@pytest.fixture(scope="module", autouse=True)
def _source(tmp_path_factory):
    from badinput.cases_codetrust import USER_NET

    base = tmp_path_factory.mktemp("user")
    (base / "net.py").write_text(USER_NET)
    runs.use_user(
        train_run(base / "run", "--data", "digits", "--epochs", "1", "--model", f"{base / 'net.py'}:Net")
    )


@pytest.mark.parametrize("case", CASES, ids=str)
def test_crafted_code_record_is_refused_and_runs_nothing(case, tmp_path, capsys, monkeypatch):
    """The MARKER the planted code would write counts as a file left behind: it must never appear."""
    marker = tmp_path / "MARKER"

    def planted_in_main(**options):  # what a `__main__` name in a crafted header would reach
        marker.write_text("ran")

    monkeypatch.setattr(sys.modules["__main__"], "planted_in_main", planted_in_main, raising=False)
    refuse(case, tmp_path, capsys)
    assert not marker.exists()
