"""Damaged run directories through evaluate, predict, report and train --resume: one clean line each."""

from __future__ import annotations

import pytest

from badinput import runs
from badinput.cases_rundirs import CASES
from badinput.harness import refuse


@pytest.fixture(scope="module", autouse=True)
def _source(digits_run):
    runs.use(digits_run)


@pytest.mark.parametrize("case", CASES, ids=str)
def test_damaged_run_directory_is_refused_in_one_line(case, tmp_path, capsys):
    refuse(case, tmp_path, capsys)
