"""Bad tracking input is refused in one line before any file is written; a tracking server that refuses
the connection costs one warning line, and the run is trained all the same."""

from __future__ import annotations

import socket
import sys

import pytest

from badinput.cases_tracking import CASES
from badinput.harness import refuse
from badinput.trainargs import train


@pytest.mark.parametrize("case", CASES, ids=str)
def test_bad_tracking_input_is_refused_in_one_line(case, tmp_path, capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "mlflow", None)  # Python's way to make a package absent: import fails
    refuse(case, tmp_path, capsys)


def test_a_tracking_server_that_refuses_the_connection_is_one_warning_and_training_goes_on(
    tmp_path, capsys, monkeypatch
):
    pytest.importorskip("mlflow")
    from kindling.cli.main import main

    with socket.socket() as s:  # a port nobody listens on: bound, never listening, then closed
        s.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{s.getsockname()[1]}"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", url)
    capsys.readouterr()
    rc = main([*train(tmp_path, "--logger", "mlflow"), "--baseline", "none"])
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == 0, err
    assert len(err) == 1 and err[0].startswith(f"kindling: warning: MLflow at {url}"), err
    assert "Connection refused" in err[0] and "training goes on" in err[0] and len(err[0]) <= 300
    assert (tmp_path / "run" / "best" / "model.safetensors").is_file()  # trained all the same
    assert not (tmp_path / "run" / "mlflow.json").exists()  # no run id recorded: nothing was created
