"""A model written in a script's `__main__` serves from the shell: its Bundle carries an ONNX graph.

Seed 002's `Net` (log-softmax outputs) and a Dataset are defined in a script, trained with
`kindling.fit(...)` in a subprocess, as a learner runs it; then `kindling predict`, `serve` and
`kindling.load` in other processes give the predictions the PyTorch model gave in the training process.
`evaluate`, `export` and the refusals run `kindling.cli.main.main(argv)` in this process, which has no
`__main__.Net` either. A model with data-dependent control flow gets one line at the end of training
instead.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

TESTS = Path(__file__).resolve().parent
sys.path.insert(0, str(TESTS / "serve"))  # tests/serve/serve_helpers.py

pytest.importorskip("onnxruntime")

DATA_AND_NET = '''
import json
import sys

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from PIL import Image
from sklearn.datasets import load_digits
from torch.utils.data import Dataset

import kindling


class Digits28(Dataset):
    """scikit-learn's 8x8 digits at MNIST's 28x28: (1x28x28 floats in [0, 1], label)."""

    def __init__(self, part):
        d = load_digits()
        x = torch.from_numpy(d.images.astype(np.float32) / 16.0).unsqueeze(1)
        x = F.interpolate(x, size=(28, 28), mode="bilinear", align_corners=False).clamp(0, 1)
        rows = slice(0, 600) if part == "train" else slice(600, 760)
        self.x, self.y = x[rows], d.target[rows]
        self.classes = [str(i) for i in range(10)]

    def __len__(self):
        return len(self.y)

    def __getitem__(self, i):
        return self.x[i], int(self.y[i])


def parts():
    """The same data from a file, for `kindling evaluate RUN --data py:THIS.py:parts`."""
    return {"train": Digits28("train"), "test": Digits28("test")}
'''

SEED_002_NET = """

class Net(nn.Module):
    def __init__(self):
        super(Net, self).__init__()
        self.conv1 = nn.Conv2d(1, 20, 5, 1)
        self.conv2 = nn.Conv2d(20, 50, 5, 1)
        self.fc1 = nn.Linear(4 * 4 * 50, 500)
        self.fc2 = nn.Linear(500, 10)

    def forward(self, x):
        x = F.relu(self.conv1(x))
        x = F.max_pool2d(x, 2, 2)
        x = F.relu(self.conv2(x))
        x = F.max_pool2d(x, 2, 2)
        x = x.view(-1, 4 * 4 * 50)
        x = F.relu(self.fc1(x))
        x = self.fc2(x)
        return F.log_softmax(x, dim=1)
"""

BRANCHY_NET = """

class Net(nn.Module):
    def __init__(self, num_classes=10):
        super().__init__()
        self.fc = nn.Linear(28 * 28, num_classes)

    def forward(self, x):
        x = torch.flatten(x, 1)
        if x.mean() > 0.2:  # a Python decision on the data: no graph can hold it
            return self.fc(x)
        return -self.fc(x)
"""

TRAIN = """

if __name__ == "__main__":
    run_dir, out = sys.argv[1], sys.argv[2]
    train, test = Digits28("train"), Digits28("test")
    run = kindling.fit(
        data=train, test=test, model=Net(), epochs=1, threads=1, run_dir=run_dir, baseline="none"
    )
    images = []
    for i in range(4):
        images.append(f"{out}/digit{i}.png")
        Image.fromarray((test.x[i, 0].numpy() * 255).round().astype(np.uint8)).save(images[-1])
    model = kindling.load(run.dir)  # this session: the class itself
    result = {
        "model_type": type(model.bundle.model).__name__,
        "predictions": model.predict(images),
        "evaluate": run.evaluate("test"),
    }
    with open(f"{out}/session.json", "w") as f:
        json.dump(result, f)
"""


def run_script(folder: Path, net: str) -> subprocess.CompletedProcess:
    folder.mkdir(parents=True, exist_ok=True)
    script = folder / "train_net.py"
    script.write_text(DATA_AND_NET + net + TRAIN)
    return subprocess.run(
        [sys.executable, str(script), str(folder / "run"), str(folder)],
        capture_output=True,
        text=True,
        cwd=folder,
        timeout=600,
    )


@pytest.fixture(scope="module")
def trained(tmp_path_factory) -> tuple[Path, subprocess.CompletedProcess, dict]:
    """(the folder: script, run, digit PNGs; the training process; what that process predicted)."""
    folder = tmp_path_factory.mktemp("script")
    done = run_script(folder, SEED_002_NET)
    assert done.returncode == 0, done.stderr[-3000:]
    return folder, done, json.loads((folder / "session.json").read_text())


def kindling_cli(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "kindling", *args], capture_output=True, text=True, cwd=cwd, timeout=300
    )


def images(folder: Path) -> list[str]:
    return [str(folder / f"digit{i}.png") for i in range(4)]


def assert_same(found: list[dict], expected: list[dict]) -> None:
    assert [p["label_name"] for p in found] == [p["label_name"] for p in expected]
    for got, want in zip(found, expected):
        assert got["probability"] == pytest.approx(want["probability"], abs=1e-4)
        assert [t["label"] for t in got["top_k"]] == [t["label"] for t in want["top_k"]]


def test_training_names_the_data_and_writes_a_checked_graph(trained):
    folder, done, session = trained
    lines = done.stdout + done.stderr
    assert "on Digits28 (a Dataset):" in lines and "objects:" not in lines
    said = [line for line in done.stdout.splitlines() if "model.onnx" in line]
    assert len(said) == 1 and said[0].startswith("model Net is defined in this session"), done.stdout
    assert "display_name: Digits28 (a Dataset)" in (folder / "run" / "config.yaml").read_text()
    assert session["model_type"] == "Net"  # the session that trained it keeps the real class
    from kindling.bundle.files import read_meta

    graph = read_meta(folder / "run" / "best")["graph"]
    data = (folder / "run" / "best" / "model.onnx").read_bytes()
    assert graph["sha256"] == hashlib.sha256(data).hexdigest()
    assert graph["check"]["max_abs_diff"] < 1e-4 and graph["check"]["n"] > 1


def test_predict_and_load_in_another_process_use_the_graph(trained):
    folder, _, session = trained
    done = kindling_cli("predict", str(folder / "run"), *images(folder), "--json", cwd=folder)
    assert done.returncode == 0, done.stderr
    assert_same(json.loads(done.stdout)["predictions"], session["predictions"])
    code = (
        "import json, sys, kindling\n"
        "model = kindling.load(sys.argv[1])\n"
        "print(json.dumps([type(model.bundle.model).__name__, model.predict(sys.argv[2:])]))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code, str(folder / "run"), *images(folder)], capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    kind, predictions = json.loads(done.stdout)
    assert kind == "GraphModel"
    assert_same(predictions, session["predictions"])


def test_evaluate_from_the_shell(trained, kindling_here):
    folder, _, session = trained
    done = kindling_here("evaluate", str(folder / "run"), cwd=folder)  # the objects are in no process now
    assert done.returncode == 2 and len(done.stderr.strip().splitlines()) == 1
    assert "Digits28 (a Dataset)" in done.stderr and "--data py:" in done.stderr
    done = kindling_here(
        "evaluate", str(folder / "run"), "--data", "py:train_net.py:parts", "--json", cwd=folder
    )
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["n"] == session["evaluate"]["n"] == 160
    assert result["accuracy"] == session["evaluate"]["accuracy"]
    assert result["loss"] == pytest.approx(session["evaluate"]["loss"], abs=1e-4)


def test_export_copies_the_checked_graph(trained, kindling_here):
    folder, _, _ = trained
    done = kindling_here("export", str(folder / "run"), "--format", "onnx", "--json", cwd=folder)
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert Path(report["output"]).read_bytes() == (folder / "run" / "best" / "model.onnx").read_bytes()
    assert report["check"]["max_abs_diff"] < 1e-4 and "end of training" in report["check"]["inputs"]
    done = kindling_here("export", str(folder / "run"), "--format", "torchscript", cwd=folder)
    assert done.returncode == 2 and len(done.stderr.strip().splitlines()) == 1
    assert "--format onnx" in done.stderr and "Traceback" not in done.stderr


def test_serve_uses_the_graph(trained):
    import requests
    from serve_helpers import start_server, stop_server

    folder, _, session = trained
    server = start_server(folder / "run", "--workers", "1", "--threads", "1")
    try:
        image = Path(images(folder)[0]).read_bytes()
        reply = requests.post(server.url + "/predict", files={"file": image}, timeout=30)
        assert reply.status_code == 200, reply.text
        found, expected = reply.json()["predictions"], session["predictions"][0]["top_k"]  # one image's top k
        assert [p["label"] for p in found] == [p["label"] for p in expected]
        assert [p["probability"] for p in found] == pytest.approx(
            [p["probability"] for p in expected], abs=1e-4
        )
    finally:
        stop_server(server)


def test_a_swapped_or_missing_graph_is_refused(trained, tmp_path, kindling_here):
    import shutil

    folder, _, _ = trained
    run = shutil.copytree(folder / "run" / "best", tmp_path / "best")
    graph = run / "model.onnx"
    graph.write_bytes(graph.read_bytes()[:-8] + b"\0" * 8)  # other weights, same size
    done = kindling_here("predict", str(run), *images(folder), cwd=tmp_path)
    assert done.returncode == 2 and "does not match the sha256" in done.stderr, done.stderr
    graph.unlink()
    done = kindling_here("predict", str(run), *images(folder), cwd=tmp_path)
    assert done.returncode == 2 and "is missing" in done.stderr, done.stderr
    assert len(done.stderr.strip().splitlines()) == 1


def test_data_dependent_control_flow_gets_one_line(tmp_path, kindling_here):
    done = run_script(tmp_path, BRANCHY_NET)
    assert done.returncode == 0, done.stderr[-3000:]
    said = [line for line in done.stdout.splitlines() if "graph" in line]
    assert len(said) == 1 and "cannot be saved as a graph (dynamic control flow" in said[0], done.stdout
    assert "--model FILE.py:Net" in said[0] and len(said[0]) <= 300
    assert not (tmp_path / "run" / "best" / "model.onnx").exists()
    done = kindling_here("predict", str(tmp_path / "run"), str(tmp_path / "digit0.png"), cwd=tmp_path)
    assert done.returncode == 2 and "Net" in done.stderr, done.stderr
    assert os.path.getsize(tmp_path / "session.json") > 0  # the session itself still predicts


def test_without_onnxruntime_the_end_of_training_says_how_to_get_the_graph(tmp_path, monkeypatch, capsys):
    import numpy as np
    import torch

    import kindling

    class SessionLinear(torch.nn.Module):
        def __init__(self, in_features, num_classes):
            super().__init__()
            self.fc = torch.nn.Linear(in_features, num_classes)

        def forward(self, x):
            return self.fc(x)

    SessionLinear.__module__, SessionLinear.__qualname__ = (
        "__main__",
        "SessionLinear",
    )  # as a notebook makes it
    monkeypatch.setattr(sys.modules["__main__"], "SessionLinear", SessionLinear, raising=False)
    monkeypatch.setitem(sys.modules, "onnxruntime", None)  # `import onnxruntime` fails, as when not installed
    rng = np.random.default_rng(0)
    X = rng.normal(size=(120, 5)).astype(np.float32)
    run = kindling.fit(
        data=(X, (X[:, 0] > 0).astype(int)),
        model=SessionLinear,
        epochs=1,
        threads=1,
        baseline="none",
        run_dir=str(tmp_path / "run"),
    )
    said = [line for line in capsys.readouterr().out.splitlines() if "kindling[export]" in line]
    assert len(said) == 1 and said[0].startswith("note: model SessionLinear is defined in this session"), said
    assert "pip install" in said[0] and len(said[0]) <= 300
    assert not (run.dir / "best" / "model.onnx").exists()
    assert kindling.load(run.dir).predict(X[:2])[0]["label_name"] in ("0", "1")  # this session still can
