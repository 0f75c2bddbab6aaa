"""Shared fixtures: a tiny trained digits run, and Debian's chromium for browser tests."""

from __future__ import annotations

import atexit
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

from kindling_testing import train_run

os.environ.setdefault("KINDLING_TEST", "1")
# pytest-xdist's workers set COLUMNS=80; kindling reads the terminal's width as it would in a user's shell
# (no terminal: 200), and the tests that want a narrow one say so
os.environ.pop("COLUMNS", None)
# kindling's own folder (the ledger of trusted code, kindling.util.codetrust) is the session's, never the
# user's: the runs trained here are recorded there, and child processes inherit it
os.environ["KINDLING_HOME"] = tempfile.mkdtemp(prefix="kindling-home-")
atexit.register(shutil.rmtree, os.environ["KINDLING_HOME"], True)


# The files that take longest (their tests' seconds summed in a full run, --durations=0), longest first.
# `make test` hands whole files to its workers (--dist loadfile) in collection order
# (--no-loadscope-reorder): these go first, so the run does not end with one worker on a long file while
# the other has nothing left. Without it xdist orders files by their number of tests, which put these
# (few tests, long ones) last. A file missing here only runs later; order is never correctness.
LONGEST_FIRST = [  # by their time in a full run (--durations=0); the files not named are the short ones
    "tests/train/test_slurm_cluster.py",  # first: mostly waiting on Slurm (and apt-get where it is missing)
    "tests/sweeps/test_sweep_postgres.py",  # early too: it waits on PostgreSQL (and apt-get where it is missing)
    "tests/train/test_distributed.py",
    "tests/models/test_user_models.py",
    "tests/test_session_graph.py",
    "tests/test_notebook.py",
    "tests/serve/test_ready.py",
    "tests/test_multilabel.py",
    "tests/models/test_code_trust.py",
    "tests/data/test_tables_raw.py",
    "tests/train/test_slurm.py",
    "tests/train/test_signals.py",
    "tests/test_crossval.py",
    "tests/test_api_docs.py",
    "tests/train/test_resume.py",
    "tests/sweeps/test_sweep_resume.py",
    "tests/sweeps/test_sweep_run.py",
    "tests/test_last_mile.py",
    "tests/test_commands.py",
    "tests/train/test_userfns.py",
    "tests/test_cli.py",
    "tests/train/test_sampler.py",
    "tests/serve/test_browser.py",
    "tests/report/test_mlflow.py",
    "tests/badinput/test_hostile.py",
    "tests/serve/test_metrics.py",
]


def pytest_collection_modifyitems(config, items) -> None:
    rank = {name: i for i, name in enumerate(LONGEST_FIRST)}
    # a stable sort: the files not named keep their order, after the named ones
    items.sort(key=lambda item: rank.get(item.nodeid.split("::")[0], len(rank)))


@pytest.fixture
def kindling_here(capsys, monkeypatch):
    """`kindling_here(*args, cwd=...)`: `kindling ARGS` run in this process from `cwd` (main(argv), what
    `python -m kindling` runs) -> a CompletedProcess with its exit code and output, as a subprocess.run
    of the command gives. For what does not depend on the process: a child's start-up (torch,
    scikit-learn) costs more than most commands."""
    from kindling.cli.main import main

    def run(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
        capsys.readouterr()
        if cwd is not None:
            monkeypatch.chdir(cwd)
        code = main([str(a) for a in args])
        out, err = capsys.readouterr()
        return subprocess.CompletedProcess(args, code, out, err)

    return run


@pytest.fixture(scope="session")
def digits_run(tmp_path_factory) -> Path:
    """A digits run trained for 2 epochs (shared: treat it as read-only)."""
    return train_run(tmp_path_factory.mktemp("runs") / "digits", "--data", "digits", "--epochs", "2")


CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]


@pytest.fixture(scope="session")
def chromium_path() -> str:
    """Debian's chromium. `make test` installs it first (the Makefile's `chromium` target); a bare pytest
    as root installs it here with apt-get. Where neither can, the browser tests fail saying so: they are
    never skipped, so a green run means the pages were driven in a real browser."""
    if not Path(CHROMIUM).exists() and shutil.which("apt-get") and os.geteuid() == 0:
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        subprocess.run(["apt-get", "update", "-qq"], env=env, capture_output=True, timeout=600)
        subprocess.run(
            ["apt-get", "install", "-y", "-qq", "chromium"], env=env, capture_output=True, timeout=900
        )
    if not Path(CHROMIUM).exists():
        pytest.fail(
            f"the browser tests need Debian's chromium at {CHROMIUM}: run `make test` as root, or "
            "`apt-get install chromium`",
            pytrace=False,
        )
    return CHROMIUM


@pytest.fixture()
def browser(chromium_path):
    """A headless chromium driven by Playwright (a dev dependency); closed after the test."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=chromium_path, args=CHROMIUM_ARGS)
        try:
            yield b
        finally:
            b.close()
