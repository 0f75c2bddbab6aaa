"""Every documented command and flag, run as the user runs it.

The README lists them: lr-find, verify-resume, list recipes, tensorboard, inspect, `--help` for every
command (with no torch imported), the flags --seed, --deterministic and --vocab, and `make demo`'s
scripts/demo_image.py. Each is kept small (tiny data, one or two epochs). What depends on the process
runs in its own `python -m kindling` (the help without torch, TensorBoard's server and its Ctrl-C, the
first of two deterministic runs, the demo's script); the rest call `kindling.cli.main.main(argv)`, what
that process runs, in this one: a child's start-up (torch, scikit-learn) costs more than the command.
"""

from __future__ import annotations

import json
import os
import pickle
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests
from safetensors import safe_open

ROOT = Path(__file__).resolve().parents[1]
KINDLING = [sys.executable, "-m", "kindling"]
sys.path.insert(0, str(ROOT / "tests" / "data"))  # text_files.py
import text_files  # noqa: E402

DOCUMENTED = {  # README: "Around the four commands ..." and the plug-in commands
    *("train", "evaluate", "predict", "serve", "report", "compare", "export", "data", "inspect"),
    *("lr-find", "tensorboard", "verify-resume", "list", "baseline", "cv"),
}


def kindling(*args: str, cwd: Path = ROOT, timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run([*KINDLING, *args], capture_output=True, text=True, cwd=cwd, timeout=timeout)


HELP_EVERY_COMMAND = """
import argparse, contextlib, io, json, sys
from kindling.cli.main import build_parser, main
parser = build_parser()
report = {}
for verb, sub in parser.commands.items():
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        try:
            main([verb, "--help"])
            code = None
        except SystemExit as exc:
            code = exc.code
    undocumented = [
        a.option_strings[0] for a in sub._actions
        if a.option_strings and not isinstance(a, argparse._HelpAction)
        and "default" not in (a.help or "") and not a.required
    ]
    report[verb] = {"code": code, "text": out.getvalue(), "torch": "torch" in sys.modules,
                    "no_default_shown": undocumented}
print(json.dumps(report))
"""


def test_every_command_answers_help_with_its_defaults_and_no_torch():
    """One process asks every command for --help in turn: each answers (exit 0, its usage), each option
    shows its default, and torch is still not imported after the last of them."""
    done = subprocess.run(
        [sys.executable, "-c", HELP_EVERY_COMMAND], capture_output=True, text=True, check=True, timeout=120
    )
    report = json.loads(done.stdout)
    assert DOCUMENTED <= set(report), DOCUMENTED - set(report)
    for verb, seen in report.items():
        assert seen["code"] == 0 and seen["text"].startswith(f"usage: kindling {verb}"), (verb, seen)
        assert not seen["torch"], f"`kindling {verb} --help` imported torch"
        assert seen["no_default_shown"] == [], (verb, seen["no_default_shown"])


BUILTIN_FIRST = ["train", "evaluate", "predict", "list", "inspect", "verify-resume"]  # --help's order

EVERY_VERB_FROM_AN_ENTRY_POINT = """
import contextlib, io, json, sys
from importlib.metadata import entry_points
from kindling.cli.main import build_parser, main
out = io.StringIO()
with contextlib.redirect_stdout(out):
    try:
        main(["--help"])
    except SystemExit:
        pass
torch_after_help = "torch" in sys.modules
parser = build_parser()
entries = {e.name: {"module": e.value.split(":")[0], "attr": e.attr, "package": e.dist.name if e.dist else None}
           for e in entry_points(group="kindling.commands")}
handlers = {verb: sub.get_default("handler").__module__ for verb, sub in parser.commands.items()}
origins = {verb: plugin.name for verb, plugin in parser.origins.items()}
print(json.dumps({"help": out.getvalue(), "torch": torch_after_help, "entries": entries,
                  "handlers": handlers, "origins": origins, "order": list(parser.commands)}))
"""


def test_every_builtin_verb_is_a_kindling_cli_module_registered_as_a_plugin():
    """No verb is wired by hand: each of kindling's own comes from a `kindling.commands` entry point (as
    another package's does) whose module is in kindling.cli, and its handler lives there too. `kindling
    --help` imports no torch and lists the verbs in their usual order."""
    done = subprocess.run(
        [sys.executable, "-c", EVERY_VERB_FROM_AN_ENTRY_POINT],
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    seen = json.loads(done.stdout)
    assert not seen["torch"], "`kindling --help` imported torch"
    ours = {name: e for name, e in seen["entries"].items() if e["package"] == "kindling"}
    for name, entry in ours.items():
        assert entry["module"].startswith("kindling.cli.") and entry["attr"] == "add_commands", (name, entry)
    for verb, module in seen["handlers"].items():
        origin = seen["origins"].get(verb)
        assert origin is not None, f"`kindling {verb}` was not added by an entry point"
        if origin in ours:
            assert module.startswith("kindling.cli.") and module == ours[origin]["module"], (verb, module)
    assert DOCUMENTED <= set(seen["handlers"]) and set(BUILTIN_FIRST) <= set(ours)
    assert seen["order"][: len(BUILTIN_FIRST)] == BUILTIN_FIRST
    listed = [
        line.split()[0] for line in seen["help"].splitlines() if line.startswith("    ") and line[4] != " "
    ]
    assert listed[: len(BUILTIN_FIRST)] == BUILTIN_FIRST and set(listed) == set(seen["order"])


def test_list_recipes_names_every_recipe_with_its_description(kindling_here):
    done = kindling_here("list", "recipes")
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    recipes = sorted((ROOT / "recipes").glob("*.yaml"))
    assert len(lines) == len(recipes) and len(recipes) >= 13
    for line, path in zip(lines, recipes):
        description = path.read_text(encoding="utf-8").splitlines()[0].removeprefix("# ")
        assert line.split()[0] == f"recipes/{path.name}" and line.endswith(description), line


def test_inspect_prints_each_layers_output_shape_and_the_parameter_count(kindling_here):
    done = kindling_here("inspect", "lenet", "--input-shape", "3x32x32", "--classes", "10")
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0] == "lenet: input [1, 3, 32, 32] -> output [1, 10]"
    rows = {line.split()[0]: line for line in lines[2:] if line.startswith(("features.", "classifier."))}
    assert "[1, 16, 28, 28]" in rows["features.0"] and "[1, 32, 5, 5]" in rows["features.5"]
    params = sum(int(line.split("]")[1].split()[0].replace(",", "")) for line in rows.values())
    assert params == 121_182  # seed 000's LeNet: 1216 + 12832 + 96120 + 10164 + 850
    assert "total parameters: 121,182 (121,182 trainable)" in done.stdout


def test_lr_find_writes_the_plot_and_suggests_a_rate_in_the_range(tmp_path, kindling_here):
    plot = tmp_path / "lr.png"
    sets = ["--set", "data.name=digits", "--set", "model.name=mlp", "--set", "train.threads=1"]
    argv = ["lr-find", *sets, "--steps", "30", "--output", str(plot), "--json"]
    done = kindling_here(*argv, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    lrs = result["lr"]
    assert lrs[0] == pytest.approx(1e-7) and all(a < b for a, b in zip(lrs, lrs[1:]))
    assert result["steps"] == len(lrs) == len(result["loss"]) <= 30
    assert lrs[0] <= result["suggested_lr"] <= lrs[-1]
    assert result["plot"] == str(plot) and plot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_verify_resume_reports_bit_identical_weights(tmp_path, kindling_here):
    sets = ["--set", "data.name=digits", "--set", "model.name=mlp", "--set", "train.threads=1"]
    done = kindling_here("verify-resume", *sets, "--epochs", "2", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "resume verified: interrupted at step" in done.stdout and "bit-identical" in done.stdout


def test_tensorboard_serves_the_runs_logs(digits_run):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    proc = subprocess.Popen(
        [*KINDLING, "tensorboard", str(digits_run), "--port", str(port)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,  # its TensorBoard child is ended with it
    )
    try:
        deadline, runs = time.time() + 120, None
        while runs is None and time.time() < deadline:
            assert proc.poll() is None, proc.stderr.read()[-2000:]
            try:
                runs = requests.get(f"http://127.0.0.1:{port}/data/runs", timeout=5).json()
            except requests.ConnectionError:
                time.sleep(0.5)
        assert runs is not None, "TensorBoard did not answer"
        assert any(run.startswith(digits_run.name) for run in runs), runs
        status = Path(f"/proc/{proc.pid}/status").read_text().splitlines()
        signals = [line for line in status if line.startswith(("SigIgn", "SigBlk", "SigCgt"))]
        proc.send_signal(signal.SIGINT)  # Ctrl-C
        # communicate, not wait: TensorBoard shares the pipes, and a full one would block whoever writes next
        out, err = proc.communicate(timeout=60)
        assert proc.returncode == 130, (signals, err[-2000:])
        assert out.startswith(f"TensorBoard on http://127.0.0.1:{port}/")
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def _weights(run: Path) -> dict:
    with safe_open(run / "best" / "model.safetensors", "pt") as f:
        return {k: f.get_tensor(k) for k in f.keys()}


def test_seed_and_deterministic_flags(tmp_path):
    """--seed 7 --deterministic twice, in another process and in this one, gives bit-identical weights and
    config.yaml keeps both flags; seed 8 gives other weights."""
    import torch
    import yaml

    from kindling.cli.main import main

    args = [
        "train",
        "--data",
        "wine",
        "--model",
        "mlp",
        "--epochs",
        "2",
        "--threads",
        "1",
        "--baseline",
        "none",
    ]
    done = kindling(*args, "--seed", "7", "--deterministic", "--run-dir", str(tmp_path / "a"))
    assert done.returncode == 0, done.stderr
    assert main([*args, "--seed", "7", "--deterministic", "--run-dir", str(tmp_path / "b")]) == 0
    assert main([*args, "--seed", "8", "--run-dir", str(tmp_path / "c")]) == 0
    saved = yaml.safe_load((tmp_path / "a" / "config.yaml").read_text())
    assert saved["train"]["seed"] == 7 and saved["train"]["deterministic"] is True
    a, b, c = (_weights(tmp_path / name) for name in ("a", "b", "c"))
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    assert any(not torch.equal(a[k], c[k]) for k in a)


def test_vocab_flag_reads_the_seeds_vocab_pkl(tmp_path, kindling_here):
    root = text_files.write_thucnews(tmp_path / "THUCNews" / "data", sizes=(60, 15, 15))
    vocab, _ = text_files.write_seed_vocab_and_vectors(root / "train.txt", tmp_path / "seed")
    run = tmp_path / "run"
    args = ["--data", f"text:{root}", "--vocab", str(vocab), "--model", "bow", "--epochs", "1"]
    done = kindling_here("train", *args, "--threads", "1", "--baseline", "none", "--run-dir", str(run))
    assert done.returncode == 0, done.stderr
    vocab_dic = pickle.loads(vocab.read_bytes())  # the test's own file
    extras = json.loads((run / "best" / "bundle.json").read_text(encoding="utf-8"))["signature"]["extras"]
    assert extras["vocab"] == ["<PAD>", "<UNK>", *list(vocab_dic)[:-2]]  # its ids, <PAD> and <UNK> first
    assert extras["vocab_file"]["file"] == str(vocab)


def test_make_demo_writes_a_seven_that_the_model_reads_as_one(digits_run, tmp_path, kindling_here):
    """`make demo`: scripts/demo_image.py RUN demo/seven.png, then `kindling predict RUN demo/seven.png`."""
    from PIL import Image

    out = tmp_path / "demo" / "seven.png"
    done = subprocess.run(
        [sys.executable, "scripts/demo_image.py", str(digits_run), str(out)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith(f"wrote {out}: test sample ") and "true class 7" in done.stdout
    with Image.open(out) as img:
        assert img.size == (64, 64) and img.mode == "L"
    predicted = kindling_here("predict", str(digits_run), str(out), "--json")
    assert predicted.returncode == 0, predicted.stderr
    assert json.loads(predicted.stdout)["predictions"][0]["label_name"] == "7"
