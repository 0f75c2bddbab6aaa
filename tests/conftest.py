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
# kindling's own folder (the ledger of trusted code, kindling.codetrust) is the session's, never the
# user's: the runs trained here are recorded there, and child processes inherit it
os.environ["KINDLING_HOME"] = tempfile.mkdtemp(prefix="kindling-home-")
atexit.register(shutil.rmtree, os.environ["KINDLING_HOME"], True)


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
    """Debian's chromium; installed with apt-get when missing (CI machines start without it)."""
    if not Path(CHROMIUM).exists() and shutil.which("apt-get"):
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        subprocess.run(["apt-get", "update", "-qq"], env=env, capture_output=True, timeout=600)
        subprocess.run(
            ["apt-get", "install", "-y", "-qq", "chromium"], env=env, capture_output=True, timeout=900
        )
    if not Path(CHROMIUM).exists():
        pytest.skip("chromium is not installed and apt-get could not install it")
    return CHROMIUM


@pytest.fixture()
def browser(chromium_path):
    """A headless chromium driven by Playwright; closed after the test."""
    playwright = pytest.importorskip("playwright.sync_api")
    with playwright.sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=chromium_path, args=CHROMIUM_ARGS)
        try:
            yield b
        finally:
            b.close()
