"""Bad imbalance settings (class weights, sampler, threshold) are refused in one line, nothing written."""

from __future__ import annotations

import pytest

from badinput.cases_imbalance import CASES
from badinput.harness import refuse


@pytest.mark.parametrize("case", CASES, ids=str)
def test_bad_imbalance_setting_is_refused_in_one_line(case, tmp_path, capsys):
    refuse(case, tmp_path, capsys)
