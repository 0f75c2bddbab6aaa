"""Bad `kindling slurm` input is refused in one line, and nothing is written (no script, no folder)."""

from __future__ import annotations

import pytest

from badinput.cases_slurm import CASES
from badinput.harness import refuse


@pytest.mark.parametrize("case", CASES, ids=str)
def test_bad_slurm_input_is_refused_in_one_line(case, tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path / "no-slurm-here"))  # sbatch absent, as on a laptop
    refuse(case, tmp_path, capsys, allowed_new=lambda p: p == "recipe.yaml")
