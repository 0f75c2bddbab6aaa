"""Bad tables are refused in one line, alone (no schema table before it); random bytes and random
CSV-like text either train (a dry run) or are refused cleanly (hypothesis)."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from badinput.cases_tables import CASES
from badinput.harness import MAX_LINE, refuse
from badinput.trainargs import train, write


@pytest.mark.parametrize("case", CASES, ids=str)
def test_bad_table_is_refused_in_one_line(case, tmp_path, capsys):
    refuse(case, tmp_path, capsys, allowed_new=lambda p: p.endswith((".csv", ".parquet")))


def accepted_or_refused(
    content: bytes, capsys, file: str = "t.csv", spec: str = "csv:{}", *args: str
) -> None:
    """Train a dry run on `content` as FILE: exit 0, or exit 2 with one line and nothing left behind."""
    from kindling.cli.main import main

    args = args or ("--target", "y", "--model", "mlp")
    with tempfile.TemporaryDirectory() as name:
        folder = Path(name)
        capsys.readouterr()
        rc = main(train(folder, "--data", spec.format(write(folder / file, content)), *args))
        err = capsys.readouterr().err
        if rc == 0:
            shutil.rmtree(folder / "run")
            return
        lines = err.strip().splitlines()
        assert rc == 2 and "Traceback" not in err, err[-2000:]
        assert len(lines) == 1 and len(lines[0]) <= MAX_LINE, err[-2000:]
        assert not (folder / "run").exists()


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(content=st.binary(max_size=400))
def test_random_bytes_as_a_table(content, capsys):
    accepted_or_refused(content, capsys)


csv_like = st.lists(
    st.lists(
        st.sampled_from(["", "1", "-2.5", "x", "y", "nan", "2024-01-02", '"a,b"', "é", "1e309"]),
        min_size=1,
        max_size=5,
    ),
    min_size=0,
    max_size=30,
)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    header=st.lists(st.sampled_from(["a", "b", "y", "y", "", "c d"]), min_size=1, max_size=4), rows=csv_like
)
def test_random_csv_like_text_as_a_table(header, rows, capsys):
    text = ",".join(header) + "\n" + "".join(",".join(r) + "\n" for r in rows)
    accepted_or_refused(text.encode(), capsys)
