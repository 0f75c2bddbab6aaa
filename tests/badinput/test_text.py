"""Bad text data is refused in one line; random bytes as a text file train (a dry run) or are refused
cleanly (hypothesis)."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from badinput.cases_text import CASES
from badinput.harness import refuse
from badinput.test_tables import accepted_or_refused


@pytest.mark.parametrize("case", CASES, ids=str)
def test_bad_text_is_refused_in_one_line(case, tmp_path, capsys):
    refuse(case, tmp_path, capsys, allowed_new=lambda p: p != "run" and not p.startswith("run/"))


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(content=st.one_of(st.binary(max_size=300), st.text(max_size=300).map(str.encode)))
def test_random_bytes_as_a_text_file(content, capsys):
    accepted_or_refused(content, capsys, "t.txt", "text:{}", "--model", "textcnn")
