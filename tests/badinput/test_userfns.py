"""Your own loss, metrics and callbacks that cannot be used: one line each, exit 2. Refused before the
run folder is written, or, found while training, stopped with the folder kept only when its checkpoint
resumes."""

from __future__ import annotations

import pytest

from badinput import runs
from badinput.cases_userfns import BEFORE, CRAFTED, MARKER, STOPS
from badinput.harness import refuse


@pytest.mark.parametrize("case", BEFORE, ids=str)
def test_unusable_code_of_yours_is_refused_before_anything_is_written(case, tmp_path, capsys):
    refuse(case, tmp_path, capsys, allowed_new=lambda p: p.endswith(".py") or p == "__pycache__")


@pytest.mark.parametrize(("case", "resumable"), STOPS, ids=[str(c) for c, _ in STOPS])
def test_code_of_yours_failing_mid_run_stops_in_one_line_with_a_resumable_checkpoint(
    case, resumable, tmp_path, capsys
):
    kept = (lambda p: p == "run" or p.startswith("run/")) if resumable else (lambda p: False)
    line = refuse(case, tmp_path, capsys, allowed_new=lambda p: p.endswith(".py") or kept(p))
    assert (tmp_path / "run" / "checkpoints" / "last.pt").is_file() == resumable, line
    if resumable:
        assert f"kindling train --resume {tmp_path / 'run'}" in line


@pytest.mark.parametrize("case", CRAFTED, ids=str)
def test_a_bundle_naming_metric_code_you_never_pointed_at_is_refused_and_runs_nothing(
    case, tmp_path, capsys, digits_run
):
    """The MARKER the planted metric would write counts as a file left behind: it must never appear."""
    runs.use(digits_run)
    refuse(case, tmp_path, capsys)
    assert not (tmp_path / MARKER).exists()
