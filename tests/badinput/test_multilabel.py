"""Bad multi-label data (an empty label set on every row, labels that are not 0/1 ...) is refused in
one line, exit 2, nothing left behind."""

from __future__ import annotations

import pytest

from badinput.cases_multilabel import CASES
from badinput.harness import refuse


@pytest.mark.parametrize("case", CASES, ids=str)
def test_bad_multilabel_data_is_refused_in_one_line(case, tmp_path, capsys):
    refuse(case, tmp_path, capsys, allowed_new=lambda p: p != "run" and not p.startswith("run/"))
