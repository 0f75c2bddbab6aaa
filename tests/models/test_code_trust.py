"""A Bundle runs only code its user pointed at (kindling.util.codetrust, kindling.models.recorded).

The crafted Bundles of the bad-input corpus (tests/badinput/cases_codetrust.py) are refused here through
`kindling.load` and a real `kindling serve` process too, and the planted code never runs. The user's
own Bundle loads as before; `--trust-code` uses the Bundle's copy; `--code FILE.py` / `code=` names a
moved file again. The ledger of trusted code is checked on its own: merged by concurrent writers, a
damaged one is one warning and counts as empty, and nothing breaks when it cannot be written.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from badinput import runs
from badinput.cases_codetrust import ATTACKS, USER_NET, craft, planted, sha
from kindling.cli.main import main
from kindling.errors import UserError
from kindling.util import codetrust
from kindling_testing import train_run


@pytest.fixture(scope="module")
def own(tmp_path_factory) -> tuple[Path, Path]:
    """(run, model file): a digits run of the user's own net.py, trained here (so in the ledger)."""
    base = tmp_path_factory.mktemp("own")
    file = base / "net.py"
    file.write_text(USER_NET)
    run = train_run(
        base / "run", "--data", "digits", "--epochs", "1", "--model", f"{file}:Net", "--baseline", "none"
    )
    runs.use_user(run)
    return run, file


@pytest.fixture(autouse=True)
def _nothing_named_again(monkeypatch):
    """`--code` / `code=` name a file for the rest of the process: each test starts with none."""
    monkeypatch.setattr(codetrust, "_POINTED", {})


def cli(capsys, *argv) -> tuple[int, str, str]:
    capsys.readouterr()
    rc = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return rc, out, err


def zeros(folder: Path) -> Path:
    import numpy as np

    np.save(folder / "zeros.npy", np.zeros((1, 8, 8), dtype=np.uint8))
    return folder / "zeros.npy"


# ---------------------------------------------------------------- crafted Bundles


@pytest.mark.parametrize("attack", sorted(ATTACKS))
def test_kindling_load_refuses_a_crafted_bundle(attack, own, tmp_path, monkeypatch):
    import kindling

    marker = tmp_path / "MARKER"
    monkeypatch.setattr(sys.modules["__main__"], "planted_in_main", lambda **_: marker.touch(), raising=False)
    run = craft(tmp_path, ATTACKS[attack][0])
    monkeypatch.chdir(tmp_path)  # the relative path is relative to here
    with pytest.raises(UserError, match=ATTACKS[attack][1]) as caught:
        kindling.load(run)
    assert "\n" not in str(caught.value) and len(str(caught.value)) < 300
    assert not marker.exists()


@pytest.mark.parametrize(
    "attack", ["relative-into-bundle", "symlink-into-bundle", "planted-file", "module-function"]
)
def test_serve_refuses_a_crafted_bundle_before_it_listens(attack, own, tmp_path):
    """The real server process: exit 2 and one line, no worker started, and the planted code never ran."""
    import socket

    run = craft(tmp_path, ATTACKS[attack][0])
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    done = subprocess.run(
        [sys.executable, "-m", "kindling", "serve", str(run), "--port", str(port)],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
    )
    lines = done.stderr.strip().splitlines()
    assert done.returncode == 2 and len(lines) == 1, done.stderr[-2000:]
    assert ATTACKS[attack][1] in lines[0] and "serving" not in done.stderr
    assert not (tmp_path / "MARKER").exists()


def test_trust_code_imports_the_bundles_own_copy(own, tmp_path, capsys, monkeypatch):
    """--trust-code is the user saying "run the Bundle's code": its copy runs (here, planted code)."""
    run = craft(tmp_path, ATTACKS["relative-into-bundle"][0])
    monkeypatch.chdir(tmp_path)
    rc, out, err = cli(capsys, "predict", run, zeros(tmp_path), "--json", "--trust-code")
    assert rc == 0, err
    assert (tmp_path / "MARKER").exists()


# ---------------------------------------------------------------- the user's own Bundles


def test_the_users_own_bundle_loads_as_before(own, tmp_path, capsys):
    import kindling

    run, _ = own
    for argv in (["predict", run, zeros(tmp_path), "--json"], ["evaluate", run, "--json"]):
        rc, _, err = cli(capsys, *argv)
        assert rc == 0 and err == "", err
    assert kindling.load(run).classes == [str(d) for d in range(10)]


def test_a_moved_file_is_named_again_with_code(own, tmp_path, capsys):
    import kindling

    run, file = own
    moved = tmp_path / "elsewhere" / "net.py"
    moved.parent.mkdir()
    file.rename(moved)
    try:
        rc, _, err = cli(capsys, "predict", run, zeros(tmp_path), "--json")
        assert rc == 2 and f"{file} (the code of model 'Net') is missing" in err and "--code FILE.py" in err
        rc, out, err = cli(capsys, "predict", run, zeros(tmp_path), "--json", "--code", moved)
        assert rc == 0, err
        assert json.loads(out)["predictions"][0]["label_name"] in [str(d) for d in range(10)]
        codetrust._POINTED.clear()
        assert kindling.load(run, code=moved).classes[0] == "0"
    finally:
        moved.rename(file)


def test_serve_workers_use_the_file_named_again(own, tmp_path):
    """`kindling serve --code FILE.py`: each worker process names the file again, and serves."""
    import requests

    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "serve"))
    from serve_helpers import Server, digit_png, free_port, stop_server

    run, file = own
    png, _ = digit_png(run)
    moved = tmp_path / "net.py"
    file.rename(moved)
    port = free_port()
    argv = ["serve", run, "--port", port, "--workers", "2", "--threads", "1", "--code", moved]
    proc = subprocess.Popen([sys.executable, "-m", "kindling", *map(str, argv)], stderr=subprocess.PIPE)
    server = Server(f"http://127.0.0.1:{port}", proc)
    try:
        answered = []
        deadline = time.time() + 180  # two workers loading torch on a busy machine
        while len(answered) < 6 and time.time() < deadline and proc.poll() is None:
            try:  # both workers answer in turn once each has loaded the model from the moved file
                reply = requests.post(server.url + "/predict", files={"image": ("x.png", png)}, timeout=30)
                answered += [reply.status_code] if reply.status_code != 503 else []
            except requests.RequestException:
                time.sleep(0.5)
        assert answered and set(answered) == {200}, (answered, proc.poll())
    finally:
        stop_server(server)
        moved.rename(file)


def test_code_naming_another_file_is_one_line(own, tmp_path, capsys):
    run, file = own
    other = tmp_path / "other.py"
    other.write_text(USER_NET + "\n# another version\n")
    moved = file.with_suffix(".bak")
    file.rename(moved)
    try:
        rc, _, err = cli(capsys, "evaluate", run, "--code", other)
    finally:
        moved.rename(file)
    assert rc == 2 and len(err.strip().splitlines()) == 1, err
    assert f"--code {other} is not the code of this Bundle" in err and "--trust-code" in err


def test_code_gives_no_function_the_file_only_imports(own, tmp_path, capsys, monkeypatch):
    """A header naming `system` in a file the user names again: that file imports it, does not define it."""
    mine = tmp_path / "mine.py"
    mine.write_text("from os import system\n" + USER_NET)
    fields = {
        "file": str(mine),
        "sha256": sha(mine),
        "name": "system",
        "options": {"command": "touch MARKER"},
    }
    run = craft(tmp_path, lambda folder, run, marker: fields)
    monkeypatch.chdir(tmp_path)
    rc, _, err = cli(capsys, "evaluate", run, "--code", mine)
    assert rc == 2 and "neither an nn.Module subclass nor a function defined there" in err, err
    assert not (tmp_path / "MARKER").exists()


def test_a_module_trained_here_loads_and_is_located_without_running(tmp_path, capsys, monkeypatch):
    from kindling.models.recorded import locate_module

    monkeypatch.chdir(tmp_path)
    (tmp_path / "mymodels").mkdir()
    (tmp_path / "mymodels" / "__init__.py").write_text(f"open({str(tmp_path / 'RAN')!r}, 'w')\n")
    (tmp_path / "mymodels" / "nets.py").write_text(USER_NET)
    assert locate_module("mymodels.nets") == (tmp_path / "mymodels" / "nets.py").resolve()
    assert not (tmp_path / "RAN").exists() and "mymodels" not in sys.modules
    run = train_run(
        tmp_path / "run",
        "--data",
        "digits",
        "--epochs",
        "1",
        "--model",
        "mymodels.nets:Net",
        "--baseline",
        "none",
    )
    for name in [m for m in sys.modules if m.startswith("mymodels")]:
        monkeypatch.delitem(sys.modules, name)
    rc, _, err = cli(capsys, "predict", run, zeros(tmp_path), "--json")
    assert rc == 0, err


def test_a_data_function_trained_here_is_rebuilt_by_evaluate(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "mydata.py").write_text(
        "from sklearn.datasets import load_digits\n\n\ndef make():\n"
        "    d = load_digits()\n    return d.data.astype('float32'), d.target\n"
    )
    run = train_run(tmp_path / "run", "--data", "py:mydata.py:make", "--epochs", "1", "--baseline", "none")
    rc, _, err = cli(capsys, "evaluate", run, "--json")
    assert rc == 0, err
    (tmp_path / "mydata.py").write_text((tmp_path / "mydata.py").read_text() + "\n# edited\n")
    rc, _, err = cli(capsys, "evaluate", run, "--json")
    assert rc == 2 and "mydata.py (the run's data source) is not a file you trained with here" in err, err
    rc, _, err = cli(capsys, "evaluate", run, "--json", "--data", "py:mydata.py:make")  # named again
    assert rc == 0, err


# ---------------------------------------------------------------- the rules and the ledger


def test_recorded_paths_are_refused_by_shape(tmp_path):
    bundle = tmp_path / "run" / "best"
    (bundle / "code").mkdir(parents=True)
    (tmp_path / "run" / "config.yaml").write_text("{}")
    (bundle / "code" / "net.py").write_text(USER_NET)
    (tmp_path / "net.py").write_text(USER_NET)
    (tmp_path / "link.py").symlink_to(tmp_path / "net.py")
    refused = {
        "code/net.py": "relative path",
        f"{tmp_path}/run/../net.py": "'..'",
        f"{tmp_path}/./net.py": "'..'",
        str(bundle / "code" / "net.py"): "inside the Bundle",
        str(tmp_path / "run" / "config.yaml"): "inside the Bundle",
        str(tmp_path / "link.py"): "symlink",
        None: "not a path",
    }
    for text, expect in refused.items():
        with pytest.raises(UserError, match=expect):
            codetrust.check_recorded_path(text, bundle)
    assert codetrust.check_recorded_path(str(tmp_path / "net.py"), bundle) == tmp_path / "net.py"


def test_the_ledger_keeps_versions_and_names(tmp_path, monkeypatch):
    monkeypatch.setenv("KINDLING_HOME", str(tmp_path / "home"))
    file = tmp_path / "net.py"
    codetrust.remember(file, "a" * 64, "Net")
    codetrust.remember(file, "a" * 64, "Other")
    assert codetrust.known(file, "a" * 64, "Net") and codetrust.known(file, "a" * 64, "Other")
    assert not codetrust.known(file, "a" * 64, "system") and not codetrust.known(file, "b" * 64, "Net")
    for i in range(codetrust.VERSIONS_KEPT + 3):
        codetrust.remember(file, f"{i:064x}", "Net")
    assert not codetrust.known(file, "a" * 64, "Net")  # the oldest version went first
    assert codetrust.known(file, f"{codetrust.VERSIONS_KEPT + 2:064x}", "Net")


def _remember_many(home: str, worker: int) -> None:
    os.environ["KINDLING_HOME"] = home
    for i in range(15):
        codetrust.remember(Path(f"/w{worker}/f{i}.py"), "c" * 64, "Net")


def test_concurrent_writers_lose_no_entry(tmp_path):
    import multiprocessing

    home = str(tmp_path / "home")
    context = multiprocessing.get_context("spawn")
    workers = [context.Process(target=_remember_many, args=(home, w)) for w in range(4)]
    for w in workers:
        w.start()
    for w in workers:
        w.join(120)
        assert w.exitcode == 0
    files = json.loads((Path(home) / codetrust.LEDGER_NAME).read_text())["files"]
    assert len(files) == 60


def test_a_damaged_ledger_is_one_warning_and_counts_as_empty(own, tmp_path, capsys, monkeypatch):
    run, file = own
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("KINDLING_HOME", str(home))
    monkeypatch.setattr(codetrust, "_WARNED", set())
    (home / codetrust.LEDGER_NAME).write_text('{"files": [1, 2')
    rc, _, err = cli(capsys, "evaluate", run, "--json")
    lines = err.strip().splitlines()
    assert rc == 2 and len(lines) == 2, err
    assert lines[0].startswith(f"kindling: warning: {home / codetrust.LEDGER_NAME} cannot be read")
    assert f"{file} is not a file you trained with here; use --code FILE.py" in lines[1]
    rc, _, err = cli(capsys, "evaluate", run, "--json", "--code", file)
    assert rc == 0, err
    codetrust._POINTED.clear()  # a new process: the file named once is in the (rewritten) ledger now
    rc, _, err = cli(capsys, "evaluate", run, "--json")
    assert rc == 0 and err == "", err
    rc, _, err = cli(capsys, "evaluate", run, "--code", tmp_path / "nothere.py")
    assert rc == 2 and "--code" in err and "does not exist" in err, err


def test_an_unwritable_ledger_costs_a_warning_not_the_run(tmp_path, capsys, monkeypatch):
    (tmp_path / "home").write_text("a file where the folder should be")
    monkeypatch.setenv("KINDLING_HOME", str(tmp_path / "home"))
    monkeypatch.setattr(codetrust, "_WARNED", set())
    codetrust.remember(tmp_path / "net.py", "d" * 64, "Net")
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("kindling: warning: could not record")


def test_the_ledger_is_in_kindlings_own_folder(monkeypatch):
    monkeypatch.delenv("KINDLING_HOME")
    assert codetrust.ledger_path() == Path("~/.cache/kindling/trusted-code.json").expanduser()
    from kindling.config.schema import DataConfig

    assert DataConfig().data_dir == codetrust.HOME_DEFAULT


def test_planted_code_in_the_test_helpers_runs_when_imported(tmp_path):
    """The corpus's planted code does leave its marker when imported (so its absence means something)."""
    file = tmp_path / "p.py"
    file.write_text(planted(tmp_path / "MARKER"))
    subprocess.run([sys.executable, str(file)], check=True, capture_output=True)
    assert (tmp_path / "MARKER").exists()
