"""Damaged Bundles through evaluate, predict, export and serve: one clean line each (exit 2)."""

from __future__ import annotations

import json
import shutil

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from badinput import runs
from badinput.cases_bundles import CASES
from badinput.harness import MAX_LINE, refuse


@pytest.fixture(scope="module", autouse=True)
def _source(digits_run):
    runs.use(digits_run)


@pytest.mark.parametrize("case", CASES, ids=str)
def test_damaged_bundle_is_refused_in_one_line(case, tmp_path, capsys):
    line = refuse(case, tmp_path, capsys)
    assert "Traceback" not in line


def test_edited_bundle_json_is_one_warning_and_the_header_is_used(tmp_path, capsys):
    """bundle.json is only the readable copy: an edit changes nothing, and says so in one line."""
    from kindling.cli.main import main

    run = runs.copy_run(tmp_path)
    copy = run / "best" / "bundle.json"
    meta = json.loads(copy.read_text())
    meta["signature"]["class_names"] = ["zero", *meta["signature"]["class_names"][1:]]
    copy.write_text(json.dumps(meta))
    capsys.readouterr()
    assert main(["evaluate", str(run), "--json"]) == 0
    out, err = capsys.readouterr()
    assert err.strip().splitlines() == [
        f"kindling: warning: {copy} differs from the weights' header at 'signature.class_names[0]'; using the "
        f"metadata in {runs.weights(run)}; bundle.json is only a readable copy"
    ]
    assert "zero" not in out


def test_unreadable_bundle_json_is_one_warning(tmp_path, capsys):
    from kindling.cli.main import main

    run = runs.copy_run(tmp_path)
    (run / "best" / "bundle.json").write_text("{ not json")
    capsys.readouterr()
    assert main(["evaluate", str(run), "--json"]) == 0
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "is not valid JSON; using the metadata in" in err[0]


def test_an_intact_bundle_gives_no_warning(tmp_path, capsys):
    from kindling.cli.main import main

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


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    flips=st.lists(st.tuples(st.floats(0, 1, exclude_max=True), st.integers(1, 255)), min_size=1, max_size=8)
)
def test_bytes_flipped_anywhere_in_the_weights_file_never_give_a_traceback(flips, tmp_path_factory, capsys):
    """Random damage (in the header's JSON, its length, or the tensor bytes): the Bundle loads (the flip
    hit a value that is still valid) or is refused in one clean line; never a traceback."""
    import numpy as np

    from kindling.cli.main import main

    folder = tmp_path_factory.mktemp("flip")
    bundle = folder / "best"
    shutil.copytree(runs.digits() / "best", bundle)
    data = bytearray(runs.weights(folder).read_bytes())
    for where, xor in flips:
        data[int(where * len(data))] ^= xor
    runs.weights(folder).write_bytes(bytes(data))
    np.save(folder / "x.npy", np.zeros((1, 8, 8), dtype=np.uint8))
    capsys.readouterr()
    rc = main(["predict", str(bundle), str(folder / "x.npy"), "--json"])
    err = capsys.readouterr().err.strip().splitlines()
    errors = [line for line in err if not line.startswith("kindling: warning:")]
    assert rc in (0, 2) and "Traceback" not in "\n".join(err)
    if rc == 2:
        assert len(errors) == 1 and len(errors[0]) <= MAX_LINE, err
