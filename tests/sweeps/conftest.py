"""Sweep fixtures: a tiny digits recipe, and a real PostgreSQL server on a loopback port.

The server is Debian's `postgresql` (installed with apt-get when missing, as root, as CI runs), started
with initdb / pg_ctl in a temporary folder as an unprivileged user (the package's `postgres` account, or
`nobody`) and stopped when the session ends. A machine where it cannot be installed or started fails
the tests that need it: a sweep shared between machines is a promise, and it is tested for real.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

import pytest

# ---------------------------------------------------------------------------------------------- postgres


def _pg_bin() -> Path | None:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    return Path(found[-1]).parent if found else None


def _install_postgres() -> None:
    if _pg_bin() is None and shutil.which("apt-get") and os.geteuid() == 0:
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        subprocess.run(["apt-get", "update", "-qq"], env=env, capture_output=True, timeout=600)
        subprocess.run(
            ["apt-get", "install", "-y", "-qq", "postgresql"], env=env, capture_output=True, timeout=900
        )


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _account() -> dict:
    """Who runs the server: initdb refuses root, so root hands it to an unprivileged account."""
    if os.geteuid() != 0:
        return {}
    for name in ("postgres", "nobody"):
        try:
            entry = pwd.getpwnam(name)
        except KeyError:
            continue
        return {"user": entry.pw_uid, "group": entry.pw_gid}
    pytest.fail("no unprivileged account (postgres or nobody) to run PostgreSQL as")


@pytest.fixture(scope="session")
def postgres_url():
    """postgresql://kindling@127.0.0.1:PORT/sweeps on a server of its own, for this test session."""
    _install_postgres()
    bindir = _pg_bin()
    if bindir is None:
        pytest.fail(
            "PostgreSQL is not installed and apt-get could not install it (apt-get install postgresql)"
        )
    account = _account()
    root = Path(tempfile.mkdtemp(prefix="kindling-pg-"))
    if account:
        os.chown(root, account["user"], account["group"])
    data, port = root / "data", _free_port()
    env = {**os.environ, "LC_ALL": "C"}

    def as_server(*args, **kwargs):
        return subprocess.run(
            [str(a) for a in args], env=env, capture_output=True, text=True, timeout=120, **account, **kwargs
        )

    init = as_server(bindir / "initdb", "-D", data, "-U", "kindling", "--auth=trust", "-E", "UTF8")
    if init.returncode:
        pytest.fail(f"initdb failed: {init.stderr[-800:]}")
    options = f"-p {port} -k {root} -c listen_addresses=127.0.0.1 -c fsync=off"
    start = as_server(bindir / "pg_ctl", "-D", data, "-o", options, "-l", root / "server.log", "-w", "start")
    if start.returncode:
        log = (root / "server.log").read_text() if (root / "server.log").exists() else ""
        pytest.fail(f"pg_ctl start failed: {start.stderr[-400:]} {log[-800:]}")
    try:
        made = as_server(bindir / "createdb", "-h", "127.0.0.1", "-p", port, "-U", "kindling", "sweeps")
        if made.returncode:
            pytest.fail(f"createdb failed: {made.stderr[-800:]}")
        yield f"postgresql://kindling@127.0.0.1:{port}/sweeps"
    finally:
        as_server(bindir / "pg_ctl", "-D", data, "-m", "fast", "-w", "stop")
        time.sleep(0.2)
        shutil.rmtree(root, ignore_errors=True)
