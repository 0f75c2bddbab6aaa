"""Bad `kindling cv` and `--tta` input is refused in one line (tests/badinput/cases_cv.py)."""

from __future__ import annotations

import pytest

from badinput import runs
from badinput.cases_cv import CASES
from badinput.harness import refuse


@pytest.fixture(scope="module", autouse=True)
def _source(digits_run):
    runs.use(digits_run)


@pytest.mark.parametrize("case", CASES, ids=str)
def test_bad_cv_or_tta_input_is_refused_in_one_line(case, tmp_path, capsys):
    refuse(case, tmp_path, capsys)
