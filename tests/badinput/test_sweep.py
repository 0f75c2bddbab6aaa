"""Bad sweeps are refused in one line before anything is written (tests/badinput/cases_sweep.py)."""

from __future__ import annotations

import pytest

from badinput.cases_sweep import CASES
from badinput.harness import refuse


@pytest.mark.parametrize("case", CASES, ids=str)
def test_bad_sweep_is_refused_in_one_line(case, tmp_path, capsys):
    line = refuse(case, tmp_path, capsys)
    assert "secret" not in line  # a storage URL is shown without its password
