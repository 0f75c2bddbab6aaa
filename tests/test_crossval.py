"""Cross-validation and the fold ensemble (issue 25 part 4): seeded, stratified folds, each a run directory;
mean ± std printed and the page written; the ensemble Bundle through evaluate, predict, serve (a real
request), export (onnxruntime against PyTorch) and kindling.load, from the CLI and from Python; a cv killed
mid-fold (SIGKILL) resumes at that fold and step, and ends bit-identical to one never killed."""

from __future__ import annotations

import dataclasses
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch

from kindling.data.folds import fold_indices

QUIET = ["--threads", "1", "--baseline", "none", "--logger", "none"]


@pytest.fixture(scope="module")
def wine_csv(tmp_path_factory) -> Path:
    from sklearn.datasets import load_wine

    bunch = load_wine(as_frame=True)
    frame = bunch.frame.copy()
    frame["target"] = np.asarray(bunch.target_names)[bunch.target.to_numpy()]
    path = tmp_path_factory.mktemp("wine") / "wine.csv"
    frame.to_csv(path, index=False)
    return path


@pytest.fixture(scope="module")
def wine_cv(tmp_path_factory, wine_csv):
    """`kindling cv --folds 3 --ensemble` on the wine table, through the CLI; -> (folder, its stdout)."""
    import contextlib
    import io

    from kindling.cli.main import main

    cv_dir = tmp_path_factory.mktemp("cv") / "wine"
    out = io.StringIO()
    args = ["cv", "--data", f"csv:{wine_csv}", "--target", "target", "--folds", "3", "--ensemble"]
    with contextlib.redirect_stdout(out):
        rc = main([*args, "--epochs", "4", "--lr", "0.01", "--run-dir", str(cv_dir), *QUIET])
    assert rc == 0, out.getvalue()[-2000:]
    return cv_dir, out.getvalue()


def test_folds_partition_the_pool_stratified_and_seeded():
    labels = np.array([0] * 20 + [1] * 9 + [2] * 5)
    parts = fold_indices(labels, 4, seed=3, stratify=True)
    assert sorted(np.concatenate(parts).tolist()) == list(range(len(labels)))  # a partition
    assert max(len(p) for p in parts) - min(len(p) for p in parts) <= 1
    for c in (0, 1, 2):
        counts = [int((labels[p] == c).sum()) for p in parts]
        assert max(counts) - min(counts) <= 1, (c, counts)  # every class in proportion
    again = fold_indices(labels, 4, seed=3, stratify=True)
    assert all(np.array_equal(a, b) for a, b in zip(parts, again))  # the same folds twice
    other = fold_indices(labels, 4, seed=4, stratify=True)
    assert not all(np.array_equal(a, b) for a, b in zip(parts, other))


def test_each_fold_is_a_run_directory_holding_its_own_part(wine_cv):
    from kindling import data as data_mod
    from kindling.bundle.rundir import load_saved_config
    from kindling.config.schema import DataConfig

    cv_dir, out = wine_cv
    held_out = []
    for i in range(3):
        run = cv_dir / f"fold-{i}"
        cfg = load_saved_config(run)
        assert (cfg.data.folds, cfg.data.fold) == (3, i)
        assert (run / "best" / "model.safetensors").is_file() and (run / "metrics.jsonl").is_file()
        dm = data_mod.build(cfg.data, quiet=True)
        held_out.append({tuple(r) for r in dm.val.x.tolist()})
        assert not held_out[-1] & {tuple(r) for r in dm.train.x.tolist()}
    base = data_mod.build(DataConfig(name=cfg.data.name, target="target"), quiet=True)
    pool = {tuple(r) for split in (base.train, base.val) for r in split.x.tolist()}
    assert set().union(*held_out) == pool and sum(map(len, held_out)) == len(pool)
    assert "3-fold cross-validation, held-out folds: accuracy" in out and "±" in out
    state = json.loads((cv_dir / "cv.json").read_text())
    accuracy = state["summary"]["val"]["accuracy"]
    values = [state["done"][str(i)]["val"]["accuracy"] for i in range(3)]
    assert accuracy["mean"] == pytest.approx(np.mean(values)) and accuracy["std"] == pytest.approx(
        np.std(values, ddof=1)
    )
    assert f"accuracy {accuracy['mean']:.4f} ± {accuracy['std']:.4f}" in out


def test_the_page_compares_the_folds(wine_cv):
    from kindling.cli.main import main

    cv_dir, _ = wine_cv
    page = (cv_dir / "report.html").read_text()
    state = json.loads((cv_dir / "cv.json").read_text())
    for i in range(3):
        value = state["done"][str(i)]["val"]["accuracy"]
        assert f'data-key="fold {i + 1}:held-out accuracy" data-value="{value!r}"' in page
    assert 'data-row="mean"' in page and 'data-row="ensemble"' in page and "Curves of the runs" in page
    (cv_dir / "report.html").unlink()
    assert main(["report", str(cv_dir)]) == 0 and (cv_dir / "report.html").is_file()


def _fold_probabilities(cv_dir: Path, x: torch.Tensor) -> torch.Tensor:
    import kindling

    probs = []
    for i in range(3):
        predictor = kindling.load(cv_dir / f"fold-{i}")
        with torch.no_grad():
            probs.append(predictor.task.probabilities(predictor.bundle.model(predictor.preprocess(x))))
    return torch.stack(probs).mean(0)


def test_the_ensemble_bundle_averages_the_folds_for_evaluate_predict_and_load(wine_cv, wine_csv, capsys):
    from safetensors import safe_open

    import kindling
    from kindling.cli.main import main

    cv_dir, _ = wine_cv
    with safe_open(str(cv_dir / "best" / "model.safetensors"), "pt") as f:
        keys, meta = list(f.keys()), json.loads(f.metadata()["kindling"])
    assert {k.split(".")[0] for k in keys} == {"fold0", "fold1", "fold2"}
    assert meta["model"]["name"] == "ensemble" and len(meta["model"]["options"]["members"]) == 3
    predictor = kindling.load(cv_dir)
    test = predictor.sig  # the members' Signature, shared
    assert test.to_dict() == kindling.load(cv_dir / "fold-0").sig.to_dict()
    from kindling import data as data_mod
    from kindling.bundle.rundir import data_config_for

    split = data_mod.build(data_config_for(predictor.bundle), quiet=True).test
    expected = _fold_probabilities(cv_dir, split.x)
    assert main(["evaluate", str(cv_dir), "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    nll = float(torch.nn.functional.nll_loss(expected.log(), split.y))
    assert result["n"] == len(split.y) and result["loss"] == pytest.approx(nll, rel=1e-5)
    assert result["accuracy"] == pytest.approx(float((expected.argmax(1) == split.y).float().mean()))
    assert main(["predict", str(cv_dir), str(wine_csv), "--json", "--top-k", "3"]) == 0
    rows = json.loads(capsys.readouterr().out)["predictions"]
    assert len(rows) == 178
    python = kindling.CrossValidation(cv_dir).predict(str(wine_csv))
    assert [r["label_name"] for r in python] == [r["label_name"] for r in rows]
    import pandas as pd

    records = pd.read_csv(wine_csv).drop(columns="target").head(5).to_dict("records")
    loaded = predictor.predict(records)
    assert [r["probability"] for r in loaded] == pytest.approx([r["probability"] for r in rows[:5]], abs=1e-6)
    assert kindling.CrossValidation(cv_dir).ensemble


def test_the_ensemble_exports_as_one_onnx_graph_equal_to_pytorch(wine_cv, tmp_path):
    ort = pytest.importorskip("onnxruntime")
    import kindling
    from kindling.predict.export import export_run, real_inputs

    cv_dir, _ = wine_cv
    report = export_run(cv_dir, "onnx", tmp_path / "ensemble.onnx", samples=16)
    assert report["check"]["max_abs_diff"] < 1e-4
    predictor = kindling.load(cv_dir)
    raw, _, _ = real_inputs(predictor.bundle, 16)
    x = predictor.preprocess(raw)
    session = ort.InferenceSession(str(tmp_path / "ensemble.onnx"), providers=["CPUExecutionProvider"])
    (got,) = session.run(None, {session.get_inputs()[0].name: x.numpy()})
    with torch.no_grad():
        expected = predictor.bundle.model(x)
    assert np.allclose(got, expected.numpy(), atol=1e-5)
    description = json.loads(Path(report["preprocess"]).read_text())
    assert description["postprocess"]["to_probabilities"] == "exp"  # averaged probabilities, as logs


def test_the_ensemble_serves_a_real_request(wine_cv, wine_csv):
    import pandas as pd
    import requests

    sys.path.insert(0, str(Path(__file__).resolve().parent / "serve"))
    from serve_helpers import start_server, stop_server

    cv_dir, _ = wine_cv
    rows = pd.read_csv(wine_csv).drop(columns="target").head(2).to_dict("records")
    server = start_server(cv_dir, "--workers", "1")
    try:
        r = requests.post(server.url + "/predict?top_k=3", json={"rows": rows}, timeout=30)
    finally:
        stop_server(server)
    assert r.status_code == 200, r.text
    import kindling

    local = kindling.load(cv_dir).predict(rows)
    served = r.json()["results"]
    assert [s["label_name"] for s in served] == [x["label_name"] for x in local]
    assert served[0]["predictions"][0]["probability"] == pytest.approx(local[0]["probability"], abs=1e-5)


def test_python_cv_is_fit_with_folds(tmp_path):
    from sklearn.datasets import load_breast_cancer

    import kindling

    x, y = load_breast_cancer(return_X_y=True)
    result = kindling.cv(data=(x[:200], y[:200]), folds=2, ensemble=True, epochs=2, run_dir=str(tmp_path / "bc"),
                         threads=1, baseline="none", logger="none", threshold="auto")  # fmt: skip
    assert isinstance(result, kindling.CrossValidation) and len(result.folds) == 2
    # each fold chose a two-class threshold on its held-out part: the ensemble keeps their median
    decision = kindling.load(result.dir).bundle.meta["decision"]
    folds = [kindling.load(r.dir).bundle.meta["decision"]["threshold"] for r in result.folds]
    assert decision["threshold"] == pytest.approx(float(np.median(folds))) and "median" in decision["how"]
    assert set(result.summary["val"]) >= {"accuracy", "loss"} and result.ensemble
    assert all(isinstance(r, kindling.Run) and r.dir.name == f"fold-{i}" for i, r in enumerate(result.folds))
    assert result.evaluate()["n"] > 0 and len(result.load().predict(x[:1].astype(np.float32))) == 1
    with pytest.raises(kindling.UserError, match="at least 2 folds"):
        kindling.cv(data="wine", folds=1)


def test_a_folds_pictures_are_drawn_when_its_report_is_asked_for(tmp_path, capsys):
    """A fold leaves its evidence and evaluation but no picture (a small table's default trains five
    folds); `kindling report FOLD` draws them from those files."""
    from kindling.cli.main import main

    cv_dir = tmp_path / "wine"
    argv = [
        "cv",
        "--data",
        "wine",
        "--folds",
        "2",
        "--epochs",
        "1",
        "--run-dir",
        str(cv_dir),
        "--threads",
        "1",
    ]
    assert main([*argv, "--baseline", "none", "--logger", "csv"]) == 0
    assert "plots in" not in capsys.readouterr().out
    plots = cv_dir / "fold-1" / "plots"
    assert (plots / "evidence.json").is_file() and (plots / "report.json").is_file()
    assert not list(plots.glob("*.png")) and not (plots / "index.json").exists()
    assert main(["report", str(cv_dir / "fold-1")]) == 0
    assert (plots / "confusion_matrix.png").is_file() and (plots / "learning_curves.png").is_file()


# ---------------------------------------------------------------- SIGKILL mid-fold, then --resume

CV_ARGS = ["--data", "digits", "--folds", "2", "--model", "digits-cnn", "--set", "model.options.width=8",
           "--epochs", "2", "--batch-size", "32", "--save-every-steps", "3", "--deterministic", *QUIET]  # fmt: skip


def _kindling(*args: str, **kw) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "kindling", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        **kw,
    )


def test_a_cv_killed_mid_fold_resumes_at_that_fold_and_step_exactly(tmp_path):
    from kindling.train.checkpoint import load

    killed, whole = tmp_path / "killed", tmp_path / "whole"
    proc = _kindling("cv", *CV_ARGS, "--run-dir", str(killed))
    last = killed / "fold-1" / "checkpoints" / "last.pt"
    deadline = time.time() + 600
    while not last.is_file() and proc.poll() is None and time.time() < deadline:
        time.sleep(0.005)
    os.kill(proc.pid, signal.SIGSTOP)  # frozen at once: what it had written is what a SIGKILL leaves
    reached = load(last)["progress"]
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    state = json.loads((killed / "cv.json").read_text())
    assert list(state["done"]) == ["0"] and reached["step"] > 0, (state, reached)  # killed inside fold 2
    fold0 = (killed / "fold-0" / "best" / "model.safetensors").read_bytes()
    resumed = _kindling("cv", "--resume", str(killed))
    out, _ = resumed.communicate(timeout=900)
    assert resumed.returncode == 0, out[-3000:]
    assert f"resuming fold 2 from {last}" in out and "== fold 1 of 2" not in out
    assert (killed / "fold-0" / "best" / "model.safetensors").read_bytes() == fold0  # kept, not trained again
    history = [json.loads(line) for line in (killed / "fold-1" / "metrics.jsonl").read_text().splitlines()]
    assert [r["epoch"] for r in history] == [1, 2]
    from kindling.cli.main import main

    assert main(["cv", *CV_ARGS, "--run-dir", str(whole)]) == 0
    for i in range(2):
        a = (killed / f"fold-{i}" / "best" / "model.safetensors").read_bytes()
        b = (whole / f"fold-{i}" / "best" / "model.safetensors").read_bytes()
        assert _weights(a) == _weights(b), f"fold {i} differs from the run never killed"
    killed_state, whole_state = (json.loads((d / "cv.json").read_text()) for d in (killed, whole))
    assert killed_state["summary"] == whole_state["summary"]


def _weights(data: bytes) -> dict:
    from safetensors.torch import load

    return {k: v.numpy().tobytes() for k, v in load(data).items()}


def test_a_cv_stopped_by_sigterm_names_the_cv_resume(tmp_path):
    run = tmp_path / "stopped"
    proc = _kindling("cv", *CV_ARGS, "--run-dir", str(run))
    last = run / "fold-0" / "checkpoints" / "last.pt"
    deadline = time.time() + 600
    while not last.is_file() and proc.poll() is None and time.time() < deadline:
        time.sleep(0.01)
    proc.send_signal(signal.SIGTERM)
    out, _ = proc.communicate(timeout=300)
    assert proc.returncode == 130, out[-2000:]
    assert f"resume with: kindling cv --resume {run}" in out
    assert "kindling train --resume" not in out


def test_print_config_shows_the_fold_count(capsys):
    from kindling.cli.main import main

    assert main(["cv", "--data", "wine", "--folds", "4", "--print-config"]) == 0
    assert "folds: 4" in capsys.readouterr().out


NET = """import torch.nn as nn


class Net(nn.Module):
    def __init__(self, in_features=13, num_classes=3):
        super().__init__()
        self.body = nn.Sequential(nn.Linear(in_features, 8), nn.ReLU(), nn.Linear(8, num_classes))

    def forward(self, x):
        return self.body(x)
"""


TOP2 = """

def top2(outputs, targets):
    return (outputs.topk(2, 1).indices == targets[:, None]).any(1).float().mean()
"""


def test_an_ensemble_of_your_own_model_keeps_its_code(tmp_path, capsys):
    from kindling.cli.main import main

    (tmp_path / "net.py").write_text(NET + TOP2)
    cv_dir = tmp_path / "own"
    args = ["cv", "--data", "wine", "--folds", "2", "--ensemble", "--model", f"{tmp_path / 'net.py'}:Net"]
    args += ["--metric", f"{tmp_path / 'net.py'}:top2"]  # and a metric of your own
    assert main([*args, "--epochs", "1", "--run-dir", str(cv_dir), *QUIET]) == 0
    assert "top2" in json.loads((cv_dir / "cv.json").read_text())["summary"]["val"]
    assert (cv_dir / "best" / "code" / "net.py").read_text() == NET + TOP2
    members = json.loads((cv_dir / "best" / "bundle.json").read_text())["model"]["options"]["members"]
    assert [m["code"]["name"] for m in members] == ["Net", "Net"]
    capsys.readouterr()
    for extra in ([], ["--trust-code"]):  # from the file trained with, and from the Bundle's copy
        assert main(["evaluate", str(cv_dir), "--json", *extra]) == 0
        result = json.loads(capsys.readouterr().out)
        assert result["n"] == 45 and 0 <= result["user_metrics"]["top2"] <= 1


@pytest.mark.parametrize("source", ["digits", "wine", "text", "folder", "folder-with-val"])
def test_folds_compose_with_every_source_of_one_training_pool(source, tmp_path, capsys):
    sys.path.insert(0, str(Path(__file__).resolve().parent / "data"))
    from image_files import write_folder

    from kindling import data as data_mod
    from kindling.bundle.rundir import load_saved_config
    from kindling.cli.main import main
    from kindling_testing import write_sentiment_tsv

    spec = {
        "digits": lambda: "digits",
        "wine": lambda: "wine",
        "text": lambda: f"text:{write_sentiment_tsv(tmp_path / 's.tsv', 60)}",
        "folder": lambda: (
            f"folder:{write_folder(tmp_path / 'p', per_class=9, size=16, channels=3, splits=())}"
        ),
        "folder-with-val": lambda: f"folder:{write_folder(tmp_path / 'q', per_class=6, size=16, channels=3)}",
    }[source]()
    cv_dir = tmp_path / "cv"
    assert (
        main(
            [
                "cv",
                "--data",
                spec,
                "--folds",
                "3",
                "--ensemble",
                "--dry-run",
                "--run-dir",
                str(cv_dir),
                *QUIET,
            ]
        )
        == 0
    )
    sizes = [
        len(data_mod.build(load_saved_config(cv_dir / f"fold-{i}").data, quiet=True).val) for i in range(3)
    ]
    whole = data_mod.build(dataclasses.replace(load_saved_config(cv_dir).data, folds=None), quiet=True)
    assert sum(sizes) == len(whole.train) + len(whole.val) and max(sizes) - min(sizes) <= 1
    split = "test" if whole.test is not None else "val"  # train/ and val/ folders: no test split
    assert main(["evaluate", str(cv_dir), "--json", "--split", split]) == 0
    assert json.loads(capsys.readouterr().out.splitlines()[-1])["n"] > 0
