"""A sweep end to end, through the real CLI and through `kindling.sweep`: trials as normal runs, the table,
best.yaml, the `best` link that predict / evaluate / export take, the page, continuing and extending."""

from __future__ import annotations

import json
import os
import re

import pytest
import yaml
from sweep_helpers import study_of, write_recipe

import kindling
from kindling.cli.main import main

PARAMS = ["--param", "optim.lr=loguniform:1e-3:3e-2", "--param", "data.augment=choice:none,shift"]


def _sweep(folder, *args) -> int:
    cwd = os.getcwd()
    os.chdir(folder)
    try:
        return main(["sweep", *map(str, args)])
    finally:
        os.chdir(cwd)


@pytest.fixture(scope="module")
def swept(tmp_path_factory):
    """A finished 4-trial sweep of the tiny recipe (shared: read-only)."""
    folder = tmp_path_factory.mktemp("sweep")
    recipe = write_recipe(folder)
    assert _sweep(folder, recipe, *PARAMS, "--trials", 4, "--pruner", "none", "--name", "s") == 0
    return folder, folder / "runs" / "s"


def test_each_trial_is_a_run_and_the_best_one_is_linked(swept, capsys):
    _, sweep_dir = swept
    study = study_of(sweep_dir)
    trials = study.get_trials()
    assert [t.number for t in trials] == [0, 1, 2, 3]
    assert {t.state.name for t in trials} == {"COMPLETE"}
    for t in trials:
        run = sweep_dir / f"trial-{t.number:04d}"
        saved = yaml.safe_load((run / "config.yaml").read_text())
        assert saved["optim"]["lr"] == pytest.approx(t.params["optim.lr"])
        assert saved["data"]["augment"] == t.params["data.augment"]
        records = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
        assert [r["epoch"] for r in records] == [1, 2, 3]
        # the value told to the study is the run's best monitored value
        assert t.value == pytest.approx(max(r["val_acc"] for r in records))
        assert t.intermediate_values == {r["epoch"]: pytest.approx(r["val_acc"]) for r in records}
    best = study.best_trial
    assert (sweep_dir / "best").resolve() == (sweep_dir / f"trial-{best.number:04d}" / "best").resolve()
    assert not (sweep_dir / "trial-0004").exists()


def test_best_yaml_is_a_recipe_of_the_best_settings(swept, capsys):
    folder, sweep_dir = swept
    best = study_of(sweep_dir).best_trial
    capsys.readouterr()
    assert main(["train", str(sweep_dir / "best.yaml"), "--print-config"]) == 0
    cfg = yaml.safe_load(capsys.readouterr().out)
    assert cfg["optim"]["lr"] == best.params["optim.lr"]
    assert cfg["data"]["augment"] == best.params["data.augment"]
    assert cfg["name"] == "s-best" and cfg["run_dir"] is None
    trial_cfg = yaml.safe_load((sweep_dir / f"trial-{best.number:04d}" / "config.yaml").read_text())
    assert {k: v for k, v in cfg.items() if k not in ("name", "run_dir")} == {
        k: v for k, v in trial_cfg.items() if k not in ("name", "run_dir")
    }


def test_the_sweep_folder_serves_predict_evaluate_and_export(swept, capsys, tmp_path):
    from PIL import Image

    _, sweep_dir = swept
    image = tmp_path / "digit.png"
    Image.new("L", (8, 8), 0).save(image)
    capsys.readouterr()
    assert main(["predict", str(sweep_dir), str(image), "--json"]) == 0
    assert len(json.loads(capsys.readouterr().out)["predictions"]) == 1
    assert main(["evaluate", str(sweep_dir), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["accuracy"] > 0.5
    assert main(["export", str(sweep_dir), "--format", "onnx", "--output", str(tmp_path / "m.onnx")]) == 0
    assert (tmp_path / "m.onnx").stat().st_size > 0
    assert kindling.load(sweep_dir).classes == [str(i) for i in range(10)]


def test_the_page_shows_every_trial_and_three_plots(swept):
    _, sweep_dir = swept
    page = (sweep_dir / "sweep.html").read_text()
    assert page.count('data-state="complete"') == 4
    assert len(re.findall(r'<img alt="[^"]+" src="data:image/png;base64,', page)) == 3
    assert "http://" not in page and "https://" not in page  # self-contained


def test_printed_table_and_train_command(tmp_path, capsys):
    recipe = write_recipe(tmp_path, epochs=2)
    capsys.readouterr()
    assert _sweep(tmp_path, recipe, *PARAMS, "--trials", 2, "--name", "t") == 0
    out = capsys.readouterr().out
    header = next(line for line in out.splitlines() if line.split()[:2] == ["trial", "state"])
    assert header.split()[:5] == ["trial", "state", "val_acc", "epochs", "seconds"]
    command = next(line for line in out.splitlines() if line.startswith("train it: "))
    assert command.startswith(f"train it: kindling train {recipe} --set optim.lr=")
    # the same command again continues the sweep: nothing is left to run, nothing runs twice
    assert _sweep(tmp_path, recipe, *PARAMS, "--trials", 2, "--name", "t") == 0
    assert "starts" not in capsys.readouterr().out
    # --resume with more trials runs only the new ones
    assert _sweep(tmp_path, "--resume", "runs/t", "--trials", 3) == 0
    assert re.findall(r"trial (\d+) starts", capsys.readouterr().out) == ["2"]
    assert len(study_of(tmp_path / "runs" / "t").get_trials()) == 3


def test_python_api_with_a_recipe_section_prunes_and_returns_the_best_run(tmp_path, capsys):
    """kindling.sweep on a recipe whose sweep: section holds the space; a learning rate too small to
    learn in 4 epochs is pruned once the median of the earlier trials is known."""
    section = (
        "sweep:\n  params: {optim.lr: 'choice:0.00001,0.01'}\n  trials: 8\n  pruner: median\n  name: api\n"
    )
    recipe = write_recipe(tmp_path, epochs=4, extra=section)
    cwd = os.getcwd()
    os.chdir(tmp_path)
    try:
        run = kindling.sweep(recipe, echo=lambda line: None)
    finally:
        os.chdir(cwd)
    study = study_of(tmp_path / "runs" / "api")
    best = study.best_trial
    assert run.dir == (tmp_path / "runs" / "api" / f"trial-{best.number:04d}").resolve()
    assert best.params["optim.lr"] == 0.01
    states = [t.state.name for t in study.get_trials()]
    assert len(states) == 8 and "PRUNED" in states and "RUNNING" not in states
    for t in study.get_trials(states=(study.get_trials()[0].state.__class__.PRUNED,)):
        assert t.params["optim.lr"] == 0.00001 and max(t.intermediate_values) < 4
    # `kindling train` takes the same recipe and leaves its sweep: section to `kindling sweep`
    assert main(["train", str(recipe), "--print-config"]) == 0
    assert "sweep" not in yaml.safe_load(capsys.readouterr().out)


def test_workers_share_one_study_on_this_machine(tmp_path):
    recipe = write_recipe(tmp_path, epochs=2)
    assert (
        _sweep(tmp_path, recipe, *PARAMS, "--trials", 4, "--workers", 2, "--pruner", "none", "--name", "w")
        == 0
    )
    trials = study_of(tmp_path / "runs" / "w").get_trials()
    assert sorted(t.number for t in trials) == [0, 1, 2, 3]
    assert {t.state.name for t in trials} == {"COMPLETE"}
    assert len({t.user_attrs["kindling.pid"] for t in trials}) <= 2
    assert all(t.user_attrs["kindling.pid"] != os.getpid() for t in trials)  # in the worker processes
    runs = sorted(p.name for p in (tmp_path / "runs" / "w").glob("trial-*"))
    assert runs == ["trial-0000", "trial-0001", "trial-0002", "trial-0003"]


def test_timeout_starts_no_trial_after_it_and_resume_runs_the_rest(tmp_path, capsys):
    recipe = write_recipe(tmp_path, epochs=2)
    assert _sweep(tmp_path, recipe, *PARAMS, "--trials", 3, "--timeout", 0.001, "--name", "o") == 0
    assert "no trial has finished yet" in capsys.readouterr().out
    assert {t.state.name for t in study_of(tmp_path / "runs" / "o").get_trials()} == {"WAITING"}
    assert _sweep(tmp_path, "--resume", "runs/o", "--timeout", 600) == 0
    assert {t.state.name for t in study_of(tmp_path / "runs" / "o").get_trials()} <= {"COMPLETE", "PRUNED"}


def test_without_optuna_the_line_names_the_pip_extra(tmp_path):
    """A Python where `import optuna` fails (sys.modules holds None for it, as for a missing package)."""
    import subprocess
    import sys

    recipe = write_recipe(tmp_path)
    code = "import sys; sys.modules['optuna'] = None; from kindling.cli.main import main; sys.exit(main(sys.argv[1:]))"
    done = subprocess.run(
        [sys.executable, "-c", code, "sweep", str(recipe), *PARAMS],
        cwd=tmp_path,
        capture_output=True,
        text=True,
    )
    assert done.returncode == 2
    assert done.stderr.strip() == (
        "kindling: kindling sweep needs Optuna, which is not installed; run: pip install 'kindling[sweep]'"
    )
    assert sorted(p.name for p in tmp_path.iterdir()) == ["tiny.yaml"]
