"""MLflow tracking, read back through MLflow's own client: a real `mlflow server` on loopback (started and
stopped here) takes a run and its resume as one MLflow run; without a server the run goes to the SQLite
store beside the run folder; a sweep's trials are children of one parent run."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from kindling_testing import train_run

pytest.importorskip("mlflow", reason="mlflow is in the dev extra (pip install 'kindling[mlflow]')")

QUICK = ["--data", "digits", "--model", "mlp", "--baseline", "none"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def mlflow_server(tmp_path_factory):
    """`mlflow server` on a loopback port, its store and artifacts in a temp folder; stopped after."""
    root = tmp_path_factory.mktemp("mlflow-server")
    port = free_port()
    command = [sys.executable, "-m", "mlflow", "server", "--host", "127.0.0.1", "--port", str(port)]
    command += ["--workers", "1", "--backend-store-uri", f"sqlite:///{root / 'store.db'}"]
    command += ["--artifacts-destination", str(root / "artifacts")]
    log = open(root / "server.log", "w")  # noqa: SIM115 - closed below
    # MLflow's server-side jobs (prompt optimisation and the like) start seven Huey consumers, 20 CPU-s
    # of start-up here, for nothing that tracking uses
    env = {**os.environ, "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false"}
    server = subprocess.Popen(command, cwd=root, env=env, stdout=log, stderr=log, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.time() + 180
        while True:
            try:
                with urllib.request.urlopen(f"{url}/health", timeout=2) as answer:
                    if answer.status == 200:
                        break
            except OSError:
                pass
            assert server.poll() is None, (root / "server.log").read_text()[-3000:]
            assert time.time() < deadline, "mlflow server did not answer in 180 s"
            time.sleep(0.5)
        yield url
    finally:
        os.killpg(server.pid, signal.SIGTERM)  # the server and its workers: the group it was started in
        try:
            server.wait(timeout=2)  # its graceful stop waits ~7 s for idle connections; the store is on disk
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait(timeout=30)
        log.close()


def recorded(run_dir: Path) -> dict:
    return json.loads((run_dir / "mlflow.json").read_text())


def test_a_run_and_its_resume_are_one_mlflow_run_on_the_server(mlflow_server, tmp_path, monkeypatch):
    from mlflow.tracking import MlflowClient

    monkeypatch.setenv("MLFLOW_TRACKING_URI", mlflow_server)
    monkeypatch.setenv("MLFLOW_EXPERIMENT_NAME", f"kindling-test-{tmp_path.name}")
    run = train_run(tmp_path / "run", *QUICK, "--epochs", "2", "--logger", "tensorboard,mlflow")
    first = recorded(run)
    assert first["tracking_uri"] == mlflow_server
    train_run(run, "--resume", str(run), "--epochs", "3")
    assert recorded(run) == first  # the resume continued the same MLflow run

    client = MlflowClient(mlflow_server)
    got = client.get_run(first["run_id"])
    experiment = client.get_experiment_by_name(f"kindling-test-{tmp_path.name}")
    assert len(client.search_runs([experiment.experiment_id])) == 1
    assert got.info.status == "FINISHED"
    params = got.data.params
    assert params["data.name"] == "digits" and params["model.name"] == "mlp"
    assert params["train.epochs"] == "2" and got.data.tags["kindling.resumed.train.epochs"] == "3"
    assert got.data.tags["kindling.data"] == "digits" and got.data.tags["kindling.version"]
    history = client.get_metric_history(first["run_id"], "val_acc")
    assert sorted(m.step for m in history) == [1, 2, 3]  # each epoch once, across the resume
    saved = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert [round(m.value, 6) for m in sorted(history, key=lambda m: m.step)] == [
        round(r["val_acc"], 6) for r in saved
    ]
    top = {a.path for a in client.list_artifacts(first["run_id"])}
    assert {"bundle", "plots", "report.html", "config.yaml", "metrics.jsonl"} <= top
    assert any(a.path.endswith(".png") for a in client.list_artifacts(first["run_id"], "plots"))
    fetched = Path(client.download_artifacts(first["run_id"], "bundle", str(tmp_path / "fetched")))
    for name in ("model.safetensors", "bundle.json"):  # the Bundle went through the server unchanged
        assert (fetched / name).read_bytes() == (run / "best" / name).read_bytes()
    assert (run / "tb").is_dir()  # TensorBoard beside it


def test_without_a_server_the_store_is_sqlite_beside_the_runs_and_a_sweep_nests(tmp_path, monkeypatch):
    from mlflow.tracking import MlflowClient

    from kindling.report.mlflow_logger import parent_run

    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    monkeypatch.delenv("MLFLOW_EXPERIMENT_NAME", raising=False)
    sweep = tmp_path / "runs" / "sweep"
    with parent_run(sweep) as parent_id:
        assert parent_id and os.environ["MLFLOW_TRACKING_URI"].endswith("/runs/mlflow.db")
        for trial in range(2):
            train_run(sweep / f"trial-{trial}", *QUICK, "--epochs", "1", "--logger", "mlflow")
    assert "MLFLOW_TRACKING_URI" not in os.environ  # as it was before
    store = f"sqlite:///{tmp_path / 'runs' / 'mlflow.db'}"
    assert (tmp_path / "runs" / "mlflow.db").is_file() and recorded(sweep)["tracking_uri"] == store
    client = MlflowClient(store)
    children = client.search_runs(
        [client.get_run(parent_id).info.experiment_id], f"tags.mlflow.parentRunId = '{parent_id}'"
    )
    assert sorted(c.info.run_name for c in children) == ["digits-mlp", "digits-mlp"]
    assert {c.info.run_id for c in children} == {recorded(sweep / f"trial-{t}")["run_id"] for t in range(2)}
    assert client.get_run(parent_id).info.status == "FINISHED"
    assert all(len(client.get_metric_history(c.info.run_id, "train_loss")) == 1 for c in children)
    artifacts = client.list_artifacts(children[0].info.run_id, "bundle")
    assert {Path(a.path).name for a in artifacts} >= {"model.safetensors", "bundle.json"}
    assert (tmp_path / "runs" / "mlartifacts").is_dir()  # beside the store, not in the working folder
