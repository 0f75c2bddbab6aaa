"""A sweep SIGKILLed in the middle of a trial loses at most the trial's last second: `kindling sweep
--resume` keeps the finished trials as they are, continues the killed one from its checkpoint (its weights
end bit-identical to an uninterrupted run of the same settings) and runs the rest; no trial is lost or run
twice."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from safetensors.torch import load_file
from sweep_helpers import study_of, write_recipe

from kindling.cli.main import main
from kindling.train.checkpoint import load

EXTRA = "sched: {name: cosine}\n"  # a schedule: a restarted trial would not end where a continued one does


def _records(run: Path) -> list[dict]:
    path = run / "metrics.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()] if path.is_file() else []


def _kill_during(sweep_dir: Path, number: int, after_epochs: int, proc: subprocess.Popen) -> None:
    """SIGKILL the sweep once trial `number` has finished `after_epochs` epochs (and not all of them)."""
    run = sweep_dir / f"trial-{number:04d}"
    deadline = time.time() + 600
    while len(_records(run)) < after_epochs:
        assert proc.poll() is None, "the sweep ended before the trial to kill had started"
        assert time.time() < deadline, "the trial to kill did not start in 10 minutes"
        time.sleep(0.02)
    proc.send_signal(signal.SIGKILL)
    proc.wait()


def _timeless(records: list[dict]) -> list[dict]:
    """The records without their seconds: an epoch trained again takes its own time."""
    return [{k: v for k, v in r.items() if k != "seconds"} for r in records]


def _weights(run: Path) -> dict:
    return load_file(str(run / "best" / "model.safetensors"))


def test_sigkill_mid_trial_then_resume(tmp_path, capsys):
    epochs = 8
    recipe = write_recipe(tmp_path, epochs=epochs, extra=EXTRA).read_text()
    recipe = recipe.replace("hidden: [16]", "hidden: [256, 256]").replace(
        "seed: 0", "seed: 0, deterministic: true"
    )
    (tmp_path / "tiny.yaml").write_text(recipe)
    sweep_dir = tmp_path / "runs" / "k"
    argv = [
        sys.executable,
        "-m",
        "kindling",
        "sweep",
        "tiny.yaml",
        "--param",
        "optim.lr=loguniform:1e-3:1e-2",
    ]
    argv += ["--trials", "3", "--pruner", "none", "--name", "k"]
    proc = subprocess.Popen(argv, cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _kill_during(sweep_dir, 1, 2, proc)

    study = study_of(sweep_dir)
    states = {t.number: t.state.name for t in study.get_trials()}
    if states[1] != "RUNNING":
        pytest.fail(f"trial 1 finished before the kill landed ({states}); the test needs longer trials")
    assert states == {0: "COMPLETE", 1: "RUNNING", 2: "WAITING"}
    first = sweep_dir / "trial-0000"
    kept = {p: (p.stat().st_mtime_ns, p.read_bytes()) for p in first.rglob("*") if p.is_file()}
    before = _records(sweep_dir / "trial-0001")
    assert 2 <= len(before) < epochs
    checkpointed = load(sweep_dir / "trial-0001" / "checkpoints" / "last.pt")["progress"]["epoch"]
    assert 1 <= checkpointed <= len(before)  # last.pt: at most once a second (kindling.train.persist)

    capsys.readouterr()
    assert main(["sweep", "--resume", str(sweep_dir)]) == 0
    out = capsys.readouterr().out
    assert "trial 1 continues from its checkpoint" in out
    assert "trial 0 starts" not in out and "trial 1 starts" not in out  # neither run again

    trials = study_of(sweep_dir).get_trials()
    assert [(t.number, t.state.name) for t in trials] == [(0, "COMPLETE"), (1, "COMPLETE"), (2, "COMPLETE")]
    assert {p: (p.stat().st_mtime_ns, p.read_bytes()) for p in first.rglob("*") if p.is_file()} == kept
    after = _records(sweep_dir / "trial-0001")
    assert [r["epoch"] for r in after] == list(range(1, epochs + 1))
    assert after[:checkpointed] == before[:checkpointed]  # the checkpointed epochs were not trained again
    # the epochs after it were trained again, to the same records
    assert _timeless(after[checkpointed : len(before)]) == _timeless(before[checkpointed:])
    assert trials[1].intermediate_values == {r["epoch"]: pytest.approx(r["val_acc"]) for r in after}

    # the continued trial ends exactly where the same settings end without a kill
    reference = tmp_path / "reference"
    assert main(["train", str(sweep_dir / "trial-0001" / "config.yaml"), "--run-dir", str(reference)]) == 0
    resumed, uninterrupted = _weights(sweep_dir / "trial-0001"), _weights(reference)
    assert resumed.keys() == uninterrupted.keys()
    assert all((resumed[k] == uninterrupted[k]).all() for k in resumed)
    assert [r["val_loss"] for r in _records(reference)] == [r["val_loss"] for r in after]


def test_sigkilled_sweep_takes_its_workers_with_it(tmp_path):
    """With --workers 2, the trials run in worker processes: a SIGKILL of the sweep ends them too (no
    trial goes on unseen), and --resume continues both of the killed trials. A trial is 100 epochs of a few
    tens of milliseconds: long enough that the first one is still running when the second worker, started
    a moment later, has finished its first epoch."""
    epochs = 100
    recipe = write_recipe(tmp_path, epochs=epochs).read_text().replace("hidden: [16]", "hidden: [256, 256]")
    (tmp_path / "tiny.yaml").write_text(recipe)
    sweep_dir = tmp_path / "runs" / "w"
    argv = [
        sys.executable,
        "-m",
        "kindling",
        "sweep",
        "tiny.yaml",
        "--param",
        "optim.lr=loguniform:1e-3:1e-2",
    ]
    argv += ["--trials", "2", "--workers", "2", "--pruner", "none", "--name", "w"]
    proc = subprocess.Popen(argv, cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.time() + 600
    while not all(len(_records(sweep_dir / f"trial-{n:04d}")) >= 1 for n in (0, 1)):
        assert proc.poll() is None and time.time() < deadline, "the workers did not start their trials"
        time.sleep(0.05)
    pids = {t.user_attrs["kindling.pid"] for t in study_of(sweep_dir).get_trials()}
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    for _ in range(200):
        if not any(_alive(pid) for pid in pids):
            break
        time.sleep(0.05)
    assert not any(_alive(pid) for pid in pids), "a worker outlived its sweep"
    assert {t.state.name for t in study_of(sweep_dir).get_trials()} == {"RUNNING"}

    assert main(["sweep", "--resume", str(sweep_dir), "--workers", "1"]) == 0
    trials = study_of(sweep_dir).get_trials()
    assert [(t.number, t.state.name) for t in trials] == [(0, "COMPLETE"), (1, "COMPLETE")]
    assert all(
        [r["epoch"] for r in _records(sweep_dir / f"trial-{n:04d}")] == list(range(1, epochs + 1))
        for n in (0, 1)
    )


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:  # a zombie (killed, not yet reaped by init) is not running
        return Path(f"/proc/{pid}/stat").read_text().split(") ")[1][0] != "Z"
    except (OSError, IndexError):
        return True


def test_ctrl_c_checkpoints_the_running_trial_and_names_the_resume(tmp_path):
    """SIGINT: the running trial writes its checkpoint, the sweep exits 130 with the line that continues
    it, and that line does."""
    recipe = write_recipe(tmp_path, epochs=30).read_text().replace("hidden: [16]", "hidden: [256, 256]")
    (tmp_path / "tiny.yaml").write_text(recipe)
    sweep_dir = tmp_path / "runs" / "c"
    argv = [
        sys.executable,
        "-m",
        "kindling",
        "sweep",
        "tiny.yaml",
        "--param",
        "optim.lr=loguniform:1e-3:1e-2",
    ]
    argv += ["--trials", "1", "--pruner", "none", "--name", "c"]
    proc = subprocess.Popen(argv, cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 600
    while len(_records(sweep_dir / "trial-0000")) < 1:
        assert proc.poll() is None and time.time() < deadline, "the trial did not start"
        time.sleep(0.05)
    proc.send_signal(signal.SIGINT)
    err = proc.communicate(timeout=300)[1]
    assert proc.returncode == 130, err
    assert err.strip().splitlines()[-1] == "continue it with: kindling sweep --resume runs/c"
    assert [t.state.name for t in study_of(sweep_dir).get_trials()] == ["RUNNING"]
    assert (sweep_dir / "trial-0000" / "checkpoints" / "last.pt").is_file()
    cwd = os.getcwd()
    os.chdir(tmp_path)
    try:
        assert main(["sweep", "--resume", "runs/c"]) == 0
    finally:
        os.chdir(cwd)
    assert [t.state.name for t in study_of(sweep_dir).get_trials()] == ["COMPLETE"]
    assert [r["epoch"] for r in _records(sweep_dir / "trial-0000")] == list(range(1, 31))
