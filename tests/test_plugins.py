"""Plug-ins through entry points: another package's model, data source and command are used by the CLI
exactly as kindling's own; a broken entry is one warning line; listing imports no torch."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from importlib.metadata import EntryPoint
from pathlib import Path

import pytest

from kindling import plugins
from kindling.errors import UserError
from kindling.models import registry

PLUGIN_SOURCE = Path(__file__).parent / "plugin_pkg"
PLUGIN = "kindling-test-plugin"


def kindling(*args: str, path: list[Path], code: str | None = None) -> subprocess.CompletedProcess:
    """Run `python -m kindling ARGS` (or `python -c CODE`) with `path` on PYTHONPATH, where the plug-in
    distributions are installed."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(str(p) for p in path)}
    command = [sys.executable, "-c", code] if code else [sys.executable, "-m", "kindling", *args]
    return subprocess.run(command, capture_output=True, text=True, env=env, timeout=300)


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> Path:
    """tests/plugin_pkg installed by pip into a folder of its own, as a user would install a plug-in."""
    source = tmp_path_factory.mktemp("source") / "plugin_pkg"
    # setuptools writes build/ and egg-info/ next to the source: keep them out of the repository
    shutil.copytree(
        PLUGIN_SOURCE, source, ignore=shutil.ignore_patterns("build", "*.egg-info", "__pycache__")
    )
    target = tmp_path_factory.mktemp("site")
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--no-build-isolation", "--no-index"]
        + ["--target", str(target), str(source)],
        check=True,
        capture_output=True,
    )
    return target


@pytest.fixture(scope="module")
def broken(tmp_path_factory) -> Path:
    """An installed distribution with three bad entries: a command whose module raises ImportError, a
    model whose module is not there, and a data source that takes kindling's own name."""
    site = tmp_path_factory.mktemp("broken")
    (site / "broken_plugin.py").write_text('raise ImportError("needs libfoo")\n')
    info = site / "broken_plugin-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: broken-plugin\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text(
        "[kindling.commands]\noops = broken_plugin:add_commands\n\n"
        "[kindling.models]\nghost = no_such_module:ghost\n\n"
        "[kindling.data]\ndigits = broken_plugin:digits\n"
    )
    return site


def test_listings_show_the_plugin_and_its_package_without_importing_torch(installed):
    # the plug-in's data module imports torch at its top: listing must read it without importing it
    code = (
        "import sys; from kindling.cli.main import main\n"
        "for what in ('models', 'datasets', 'commands'): main(['list', what])\n"
        "print('torch imported:', 'torch' in sys.modules)"
    )
    out = kindling(path=[installed], code=code)
    assert out.returncode == 0, out.stderr
    assert out.stderr == ""
    lines = out.stdout.splitlines()
    assert lines[-1] == "torch imported: False"
    row = {line.split()[0]: line.split(None, 2)[1:] for line in lines[:-1] if line.strip()}
    assert row["tiny"] == [PLUGIN, "A one-hidden-layer perceptron from the kindling-test-plugin package."]
    assert row["blobs"] == [
        PLUGIN,
        "Three well-separated Gaussian blobs in 4 dimensions (generated, 3 classes).",
    ]
    assert row["hello"] == [PLUGIN, "say hello from the kindling-test-plugin package"]
    assert row["lenet"][0] == row["digits"][0] == row["serve"][0] == row["train"][0] == "kindling"
    assert row["folder:"][1].startswith("images: folder:DIR")


def test_the_plugins_model_data_and_command_work_through_the_cli(installed, tmp_path):
    hello = kindling("hello", "--name", "plug-in", path=[installed])
    assert (hello.returncode, hello.stdout, hello.stderr) == (0, "hello, plug-in\n", "")

    run = tmp_path / "blobs"
    trained = kindling(
        "train", "--data", "blobs", "--model", "tiny", "--epochs", "2", "--lr", "0.05",
        "--threads", "1", "--run-dir", str(run), path=[installed],
    )  # fmt: skip
    assert trained.returncode == 0, trained.stderr
    assert "warning" not in trained.stderr
    last = json.loads((run / "metrics.jsonl").read_text().splitlines()[-1])
    accuracy = next(v for k, v in last.items() if k.startswith("val") and "acc" in k)
    assert accuracy > 0.8  # three blobs four standard deviations apart: chance is 0.33
    bundle = json.loads((run / "best" / "bundle.json").read_text())
    assert "tiny" in json.dumps(bundle)


def test_a_broken_plugin_is_one_warning_line_and_the_command_goes_on(installed, broken):
    oops = (
        "kindling: warning: plugin 'oops' from package 'broken-plugin' failed to load "
        "(ImportError: needs libfoo); skipped"
    )
    ghost = (
        "kindling: warning: plugin 'ghost' from package 'broken-plugin' failed to load "
        "(ModuleNotFoundError: No module named 'no_such_module'); skipped"
    )
    clash = "kindling: warning: plugin 'digits' from package 'broken-plugin' clashes with the one from 'kindling'; skipped"

    listed = kindling("list", "commands", path=[installed, broken])  # every command line loads the commands
    assert (listed.returncode, listed.stderr.splitlines()) == (0, [oops])
    assert "hello" in listed.stdout and "train" in listed.stdout and "oops" not in listed.stdout

    models = kindling("list", "models", path=[installed, broken])
    assert (models.returncode, models.stderr.splitlines()) == (0, [oops, ghost])
    assert "tiny" in models.stdout and "ghost" not in models.stdout

    datasets = kindling("list", "datasets", path=[installed, broken])
    assert (datasets.returncode, datasets.stderr.splitlines()) == (0, [oops, clash])
    assert [line.split()[:2] for line in datasets.stdout.splitlines() if line.startswith("digits")] == [
        ["digits", "kindling"]
    ]


def test_a_model_from_a_plugin_that_fails_is_one_line_naming_the_package():
    entry = EntryPoint("ghost", "no_such_module:ghost", plugins.MODELS)
    plugin = plugins.Plugin("ghost", "broken-plugin", entry)
    with pytest.raises(
        UserError, match=r"plugin 'ghost' from package 'broken-plugin' failed to load \(ModuleNotFoundError"
    ):
        plugins.load(plugin)


def test_a_spec_with_a_colon_is_the_users_own_code_and_an_unknown_name_a_did_you_mean():
    with pytest.raises(
        UserError, match=r"models\.py does not exist; check the path in --model models\.py:Net"
    ):
        registry.get("models.py:Net")
    with pytest.raises(UserError, match="did you mean 'lenet'"):
        registry.get("lenett")
