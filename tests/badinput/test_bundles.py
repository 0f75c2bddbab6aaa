"""Damaged Bundles through evaluate, predict, export and serve: one clean line each (exit 2)."""

from __future__ import annotations

import json

import pytest

from badinput import runs
from badinput.cases_bundles import CASES
from badinput.harness import refuse


@pytest.fixture(scope="module", autouse=True)
def _source(digits_run):
    runs.use(digits_run)


@pytest.mark.parametrize("case", CASES, ids=str)
def test_damaged_bundle_is_refused_in_one_line(case, tmp_path, capsys):
    line = refuse(case, tmp_path, capsys)
    assert "Traceback" not in line


def test_edited_bundle_json_is_one_warning_and_the_header_is_used(tmp_path, capsys):
    """bundle.json is only the readable copy: an edit changes nothing, and says so in one line."""
    from kindling.cli import main

    run = runs.copy_run(tmp_path)
    copy = run / "best" / "bundle.json"
    meta = json.loads(copy.read_text())
    meta["signature"]["class_names"] = ["zero", *meta["signature"]["class_names"][1:]]
    copy.write_text(json.dumps(meta))
    capsys.readouterr()
    assert main(["evaluate", str(run), "--json"]) == 0
    out, err = capsys.readouterr()
    assert err.strip().splitlines() == [
        f"kindling: warning: {copy} differs from the weights' header at 'signature.class_names'; using the "
        f"metadata in {runs.weights(run)}; bundle.json is only a readable copy"
    ]
    assert "zero" not in out


def test_unreadable_bundle_json_is_one_warning(tmp_path, capsys):
    from kindling.cli import main

    run = runs.copy_run(tmp_path)
    (run / "best" / "bundle.json").write_text("{ not json")
    capsys.readouterr()
    assert main(["evaluate", str(run), "--json"]) == 0
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "is not valid JSON; using the metadata in" in err[0]


def test_an_intact_bundle_gives_no_warning(tmp_path, capsys):
    from kindling.cli import main

    run = runs.copy_run(tmp_path)
    capsys.readouterr()
    assert main(["evaluate", str(run), "--json"]) == 0
    assert capsys.readouterr().err == ""


def test_serve_refuses_a_damaged_bundle_before_it_listens(tmp_path):
    """The user's path (a process): exit 2 and one line, no worker started, no port opened."""
    import socket
    import subprocess
    import sys

    run = runs.copy_run(tmp_path)
    runs.rewrite(
        run, state_edit=lambda s: s.update({"features.0.weight": s["features.0.weight"] * float("nan")})
    )
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    done = subprocess.run(
        [sys.executable, "-m", "kindling", "serve", str(run), "--port", str(port)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    lines = done.stderr.strip().splitlines()
    assert done.returncode == 2 and len(lines) == 1, done.stderr[-2000:]
    assert "'features.0.weight' holds NaN" in lines[0] and "serving" not in done.stderr
