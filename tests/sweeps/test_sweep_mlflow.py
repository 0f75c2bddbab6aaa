"""A sweep whose recipe logs to MLflow is one parent run with one child per trial, in the store beside the
runs (no server), read back through MlflowClient; a resumed sweep continues the same parent."""

from __future__ import annotations

import json
import os

from sweep_helpers import study_of, write_recipe

from kindling.cli.main import main


def test_a_sweep_is_a_parent_run_with_a_child_per_trial(tmp_path, monkeypatch):
    from mlflow.tracking import MlflowClient

    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    monkeypatch.delenv("MLFLOW_EXPERIMENT_NAME", raising=False)
    recipe = write_recipe(tmp_path, epochs=1).read_text().replace("logger: none", "logger: mlflow")
    (tmp_path / "tiny.yaml").write_text(recipe)
    monkeypatch.chdir(tmp_path)
    args = [
        "sweep",
        "tiny.yaml",
        "--param",
        "optim.lr=loguniform:1e-3:1e-2",
        "--pruner",
        "none",
        "--name",
        "m",
    ]
    assert main([*args, "--trials", "2"]) == 0
    assert main(["sweep", "--resume", "runs/m", "--trials", "3"]) == 0
    assert "MLFLOW_TRACKING_URI" not in os.environ

    sweep_dir = tmp_path / "runs" / "m"
    record = json.loads((sweep_dir / "mlflow.json").read_text())
    client = MlflowClient(record["tracking_uri"])
    parent = client.get_run(record["run_id"])
    assert parent.info.status == "FINISHED"
    children = client.search_runs(
        [parent.info.experiment_id], f"tags.mlflow.parentRunId = '{parent.info.run_id}'"
    )
    trials = study_of(sweep_dir).get_trials()
    assert len(children) == len(trials) == 3  # the resumed sweep's trial joined the same parent
    for t in trials:
        child_record = json.loads((sweep_dir / f"trial-{t.number:04d}" / "mlflow.json").read_text())
        child = client.get_run(child_record["run_id"])
        assert child.data.tags["mlflow.parentRunId"] == parent.info.run_id
        assert float(child.data.params["optim.lr"]) == t.params["optim.lr"]
