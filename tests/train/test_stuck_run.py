"""A run killed before its first checkpoint goes forward: `train` starts it again, `--resume` says how.

The advice of each refusal is followed to the letter and must succeed.
"""

from __future__ import annotations

import shlex
from pathlib import Path

from kindling.cli.main import main
from kindling.config.load import load_config

ARGS = ["--data", "digits", "--epochs", "1", "--threads", "1", "--logger", "none", "--baseline", "none"]


def stuck_run(run_dir: Path) -> Path:
    """What a SIGKILL in a run's first seconds leaves: its config (and env) written, no checkpoint."""
    cfg = load_config(
        None,
        {
            "data.name": "digits",
            "train.epochs": 1,
            "train.threads": 1,
            "train.baseline": "none",
            "run_dir": str(run_dir),
        },
    )
    run_dir.mkdir(parents=True)
    (run_dir / "config.yaml").write_text(cfg.to_yaml())
    (run_dir / "env.json").write_text("{}")
    return run_dir


def test_train_restarts_a_run_without_checkpoint(tmp_path, capsys):
    run = stuck_run(tmp_path / "run")
    assert main(["train", "--run-dir", str(run), *ARGS]) == 0
    out = capsys.readouterr().out
    assert "stopped before its first checkpoint; starting it again" in out
    assert (run / "checkpoints" / "last.pt").is_file() and (run / "best").is_dir()


def test_resume_without_checkpoint_advises_a_command_that_works(tmp_path, capsys):
    run = stuck_run(tmp_path / "run")
    assert main(["train", "--resume", str(run)]) == 2
    line = capsys.readouterr().err.strip()
    assert len(line.splitlines()) == 1 and "drop --resume" in line, line
    advice = shlex.split(line.split("start it again: ", 1)[1])
    assert advice[:2] == ["kindling", "train"]
    assert main(advice[1:]) == 0
    assert (run / "checkpoints" / "last.pt").is_file()


def test_a_run_with_a_checkpoint_is_still_refused_and_its_advice_works(tmp_path, capsys):
    run = tmp_path / "run"
    assert main(["train", "--run-dir", str(run), *ARGS]) == 0
    capsys.readouterr()
    assert main(["train", "--run-dir", str(run), *ARGS]) == 2
    line = capsys.readouterr().err.strip()
    assert "already holds a run" in line and "--overwrite" in line, line
    assert main(["train", "--run-dir", str(run), *ARGS, "--overwrite"]) == 0
    advice = shlex.split(line.split("continue it with `", 1)[1].split("`", 1)[0])
    assert main([*advice[1:], "--epochs", "2"]) == 0  # resuming a finished run with more epochs goes on


def test_a_run_killed_while_writing_its_config_starts_again(tmp_path, capsys):
    """Only the temp file of config.yaml's atomic write is there: ours, and it goes."""
    run = tmp_path / "run"
    run.mkdir()
    (run / ".config.yaml.abc123.tmp").write_text("name: half")
    assert main(["train", "--run-dir", str(run), *ARGS]) == 0
    assert "starting it again" in capsys.readouterr().out
    assert not (run / ".config.yaml.abc123.tmp").exists()


def test_a_folder_of_other_files_is_not_taken_for_a_run(tmp_path, capsys):
    run = tmp_path / "mine"
    run.mkdir()
    (run / "notes.txt").write_text("keep me")
    assert main(["train", "--run-dir", str(run), *ARGS]) == 2
    assert "holds other files, not a kindling run" in capsys.readouterr().err
    assert (run / "notes.txt").read_text() == "keep me"
