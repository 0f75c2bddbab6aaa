"""Old runs still load: a digits run made by the code before the package moved into folders (git tag
`pre-layout`) is read, unchanged, by evaluate, predict, report and serve.

tests/data_files/old_run_digits is that run as the old code left it (2 epochs of an MLP on digits), less
its TensorBoard events and resume checkpoint; old_run_digits.expected.json holds what the old code's
evaluate and predict answered for it. Every test works on a copy in tmp_path.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from kindling.cli.main import main

FILES = Path(__file__).parent / "data_files"
OLD_RUN = FILES / "old_run_digits"
SEVEN = FILES / "digit_seven.png"
EXPECTED = json.loads((FILES / "old_run_digits.expected.json").read_text())


@pytest.fixture()
def old_run(tmp_path) -> Path:
    return Path(shutil.copytree(OLD_RUN, tmp_path / "old_run_digits"))


def _digests(run: Path) -> dict[str, str]:
    """What training left (config, bundle, metrics): none of it is rewritten by reading the run."""
    files = [run / "config.yaml", run / "metrics.jsonl", *sorted((run / "best").iterdir())]
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in files}


def test_the_test_data_is_the_old_layouts_run():
    assert sorted(p.name for p in (OLD_RUN / "best").iterdir()) == ["bundle.json", "model.safetensors"]
    assert json.loads((OLD_RUN / "best" / "bundle.json").read_text())["env"]["git_sha"].startswith("632647d")
    assert sum(p.stat().st_size for p in OLD_RUN.rglob("*") if p.is_file()) < 400_000


def test_evaluate_reads_an_old_run_and_scores_as_the_old_code_did(old_run, capsys):
    before = _digests(old_run)
    assert main(["evaluate", str(old_run), "--json"]) == 0
    got, want = json.loads(capsys.readouterr().out), EXPECTED["evaluate"]
    assert got["n"] == want["n"] and got["accuracy"] == pytest.approx(want["accuracy"])
    assert got["confusion_matrix"] == want["confusion_matrix"]
    assert got["loss"] == pytest.approx(want["loss"], rel=1e-5)
    assert _digests(old_run) == before


def test_predict_reads_an_old_run(old_run, capsys):
    assert main(["predict", str(old_run), str(SEVEN), "--json", "--top-k", "3"]) == 0
    (got,) = json.loads(capsys.readouterr().out)["predictions"]
    want = EXPECTED["predict"]
    assert got["label"] == want["label"] == 7 and got["label_name"] == want["label_name"]
    assert got["probability"] == pytest.approx(want["probability"], abs=1e-5)
    assert [k["label"] for k in got["top_k"]] == [k["label"] for k in want["top_k"]]


def test_report_reads_an_old_run(old_run):
    before = _digests(old_run)
    assert main(["report", str(old_run)]) == 0
    page = (old_run / "report.html").read_text()
    assert "digits-mlp" in page and "<html" in page.lower()
    assert _digests(old_run) == before


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_serve_reads_an_old_run(old_run):
    requests = pytest.importorskip("requests")
    url = f"http://127.0.0.1:{_free_port()}"
    cmd = [
        sys.executable,
        "-m",
        "kindling",
        "serve",
        str(old_run),
        "--port",
        url.rsplit(":", 1)[1],
        "--workers",
        "1",
    ]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=dict(os.environ))
    try:
        deadline = time.time() + 90
        while True:
            assert proc.poll() is None, (
                f"kindling serve exited with {proc.returncode}: {proc.stderr.read()[-2000:]}"
            )
            try:
                if requests.get(url + "/health", timeout=2).status_code == 200:
                    break
            except (requests.ConnectionError, requests.Timeout):
                pass
            assert time.time() < deadline, "kindling serve was not ready after 90 s"
            time.sleep(0.2)
        r = requests.post(url + "/predict", files={"image": ("seven.png", SEVEN.read_bytes(), "image/png")})
        assert r.status_code == 200, r.text
        body, want = r.json(), EXPECTED["predict"]
        assert body["success"] is True and body["label"] == want["label"] and body["model"] == "mlp"
        assert body["probability"] == pytest.approx(want["probability"], abs=1e-5)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
