"""Broken model files (`--model file.py:Name`) are refused in one line."""

from __future__ import annotations

import pytest

from badinput.cases_usercode import CASES
from badinput.harness import refuse


@pytest.mark.parametrize("case", CASES, ids=str)
def test_broken_model_file_is_refused_in_one_line(case, tmp_path, capsys):
    refuse(case, tmp_path, capsys, allowed_new=lambda p: p != "run" and not p.startswith("run/"))
