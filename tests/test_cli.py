"""The CLI contract: a train -> evaluate -> predict round trip, and every user mistake exits 2 in one line."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from kindling.cli.main import main

KINDLING = [sys.executable, "-m", "kindling"]


def run_cli(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([*KINDLING, *args], capture_output=True, text=True, cwd=cwd, timeout=300)


def test_help_does_not_import_torch():
    code = "import sys; from kindling.cli.main import build_parser; build_parser(); print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_every_train_flag_shows_its_default(capsys):
    with pytest.raises(SystemExit):
        main(["train", "--help"])
    text = capsys.readouterr().out
    assert text.count("(default:") >= 30
    assert "--batch-size" in text and "(default: chosen for the data" in text and "(default: 0)" in text


def test_round_trip_train_evaluate_predict(tmp_path, capsys):
    """`kindling train` in its own process, then evaluate and predict in this one (main(argv), what
    `python -m kindling` runs: their start-up would cost more than they do)."""
    run = tmp_path / "digits"
    trained = run_cli("train", "--data", "digits", "--epochs", "1", "--run-dir", str(run), "--threads", "1")
    assert trained.returncode == 0, trained.stderr
    assert "epoch 1/1" in trained.stdout
    for name in [
        "config.yaml",
        "env.json",
        "metrics.jsonl",
        "checkpoints/last.pt",
        "best/model.safetensors",
        "best/bundle.json",
    ]:
        assert (run / name).is_file(), name

    assert main(["evaluate", str(run), "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert {"accuracy", "loss", "n", "per_class_accuracy", "confusion_matrix"} <= set(result)
    assert result["n"] == 450 and sum(map(sum, result["confusion_matrix"])) == 450
    assert set(result["per_class_accuracy"]) == {str(d) for d in range(10)}
    assert result["accuracy"] > 0.5

    from kindling.bundle.rundir import load_saved_config
    from kindling.data import build

    test = build(load_saved_config(run).data).test
    index = int((test.y == 3).nonzero()[0])
    Image.fromarray(test.x[index, 0].numpy()).resize((40, 40)).save(tmp_path / "three.png")
    np.save(tmp_path / "three.npy", test.x[index].numpy())
    argv = ["predict", str(run / "best"), str(tmp_path / "three.png"), str(tmp_path / "three.npy")]
    assert main([*argv, "--json", "--top-k", "2"]) == 0
    preds = json.loads(capsys.readouterr().out)["predictions"]
    assert len(preds) == 2 and all(len(p["top_k"]) == 2 for p in preds)
    assert preds[1]["label_name"] == "3"


def one_line_error(capsys, argv: list[str], match: str) -> None:
    rc = main(argv)
    err = capsys.readouterr().err
    assert rc == 2, err
    assert err.startswith("kindling: ") and err.count("\n") == 1 and "Traceback" not in err, err
    assert match in err, err


def test_user_mistakes_exit_2_with_one_line(tmp_path, capsys, digits_run):
    bad_yaml = tmp_path / "bad.yaml"
    bad_yaml.write_text("train:\n  epochs: [\n")
    not_image = tmp_path / "cat.png"
    not_image.write_text("this is text, not a png")
    corrupt = tmp_path / "corrupt"
    (corrupt / "checkpoints").mkdir(parents=True)
    (corrupt / "config.yaml").write_text((digits_run / "config.yaml").read_text())
    (corrupt / "checkpoints" / "last.pt").write_bytes(b"\x80garbage")
    cases = [
        (["train", "--data", "no-such-data-set"], "unknown data set 'no-such-data-set'"),
        (["train", "--model", "lenett"], "did you mean 'lenet'"),
        (["train", str(bad_yaml)], "bad.yaml:3: invalid YAML"),
        (["train", "--set", "optim.lrr=1"], "did you mean 'lr'"),
        (["train", "--set", "nonsense"], "not of the form"),
        (["train", str(tmp_path / "missing.yaml")], "does not exist"),
        (["evaluate", str(tmp_path / "nope")], "does not exist"),
        (["predict", str(digits_run), str(not_image)], "cat.png is not"),
        (["predict", str(digits_run), str(tmp_path / "absent.png")], "does not exist"),
        (["train", "--resume", str(corrupt)], "truncated or corrupt"),
        (["train", "--run-dir", str(digits_run)], "already holds a run"),
        (
            ["train", "--set", "model.options={depth: 3}", "--run-dir", str(tmp_path / "x")],
            "has no option 'depth'",
        ),
    ]
    for argv, match in cases:
        one_line_error(capsys, argv, match)
    assert not (tmp_path / "x").exists()  # nothing written for a refused run


@pytest.mark.parametrize(
    "argv, told",
    [
        (
            ["train", "--bogus"],
            "kindling train: unrecognized arguments: --bogus (see `kindling train --help`)",
        ),
        (["train", "--epochs", "x"], "kindling train: argument --epochs: invalid int value: 'x'"),
        (["trian"], "kindling: argument COMMAND: invalid choice: 'trian'; did you mean train?"),
        (["report", "--refesh", "r"], "unrecognized arguments: --refesh; did you mean --refresh?"),
        (["evaluate"], "kindling evaluate: the following arguments are required: run"),
    ],
)
def test_command_line_mistakes_are_one_line_with_the_near_miss_named(capsys, argv, told):
    with pytest.raises(SystemExit) as stop:
        main(argv)
    err = capsys.readouterr().err
    assert stop.value.code == 2 and err.count("\n") == 1 and "usage:" not in err, err
    assert told in err, err


def test_subprocess_error_has_no_traceback(tmp_path):
    out = run_cli("train", "--data", "no-such-data-set", cwd=tmp_path)
    assert out.returncode == 2 and "Traceback" not in out.stderr
    assert len(out.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "runs").exists()


def test_the_command_ends_after_its_atexit_handlers_with_its_output_whole(digits_run):
    """entry() ends the process without the interpreter's teardown: atexit handlers still run, piped
    output is flushed whole, and the exit code is main's."""
    script = (
        "import atexit, sys\n"
        "atexit.register(lambda: print('atexit ran'))\n"
        f"sys.argv = ['kindling', 'evaluate', {str(digits_run)!r}, '--json']\n"
        "from kindling.cli.main import entry\n"
        "sys.exit(entry())\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    result, after = done.stdout.rsplit("\n", 2)[0], done.stdout.rsplit("\n", 2)[1]
    assert json.loads(result)["n"] == 450 and after == "atexit ran"
    refused = subprocess.run(
        [*KINDLING, "evaluate", str(digits_run / "nope")], capture_output=True, text=True
    )
    assert refused.returncode == 2 and refused.stderr.startswith("kindling: ")


def test_print_config_round_trips(tmp_path, capsys):
    assert main(["train", "recipes/digits.yaml", "--lr", "0.02", "--print-config"]) == 0
    text = capsys.readouterr().out
    (tmp_path / "resolved.yaml").write_text(text)
    assert main(["train", str(tmp_path / "resolved.yaml"), "--print-config"]) == 0
    assert capsys.readouterr().out == text  # the name saved in the file wins over the file name


def test_an_exit_from_the_users_code_is_one_line_and_a_librarys_is_left_alone(tmp_path):
    """kindling never exits inside a command: a SystemExit raised from the user's file is told as one line
    (main returns 2); one raised by Python's or a library's own code (argparse here) keeps its meaning."""
    import argparse

    from kindling.cli.main import _user_exit

    with pytest.raises(SystemExit) as library:
        argparse.ArgumentParser(prog="x").exit(3)
    assert _user_exit(library.value) is None
    script = tmp_path / "mine.py"
    script.write_text("import sys\n\n\ndef run():\n    sys.exit(7)\n", encoding="utf-8")
    namespace: dict = {}
    exec(compile(script.read_text(), str(script), "exec"), namespace)
    with pytest.raises(SystemExit) as mine:
        namespace["run"]()
    assert _user_exit(mine.value).startswith(f"{script}:5 called sys.exit(7) while kindling ran it")
