"""`kindling export`: ONNX and TorchScript files that reproduce PyTorch's outputs, a preprocessing
description good enough to use the model without kindling, and nothing written when a check fails."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from kindling.cli.main import main
from kindling_testing import train_run, write_sentiment_tsv


@pytest.fixture()
def run_copy(digits_run, tmp_path) -> Path:
    """A private copy of the shared digits run (export writes into RUN/export/)."""
    shutil.copytree(digits_run / "best", tmp_path / "digits" / "best")
    shutil.copy(digits_run / "config.yaml", tmp_path / "digits" / "config.yaml")
    return tmp_path / "digits"


def _digit(run: Path, label: int = 3):
    from kindling import data
    from kindling.bundle.rundir import load_saved_config

    test = data.build(load_saved_config(run).data).test
    return test.x[int((test.y == label).nonzero()[0][0])].numpy()  # uint8 1,8,8


def test_onnx_export_is_checked_and_usable_from_its_description_alone(run_copy, capsys):
    ort = pytest.importorskip("onnxruntime")
    from kindling.predict.predictor import Predictor

    assert main(["export", str(run_copy), "--format", "onnx", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    model_file = run_copy / "export" / "model.onnx"
    assert report["output"] == str(model_file) and model_file.stat().st_size > 10_000
    assert report["check"]["max_abs_diff"] < 1e-4 and "test split" in report["check"]["inputs"]
    assert set(report["latency_ms"]) == {"batch_1", "batch_64"}
    assert (
        report["latency_ms"]["batch_1"]["export"] > 0
        and report["size_bytes"]["onnx"] == model_file.stat().st_size
    )

    desc = json.loads((run_copy / "export" / "model.onnx.json").read_text())
    pre = desc["preprocess"]
    raw = _digit(run_copy)[None].astype(np.float32)  # what decoding + resizing give: 1,1,8,8 in 0..255
    x = (raw * pre["scale"] - np.array(pre["mean"]).reshape(1, -1, 1, 1)) / np.array(pre["std"]).reshape(
        1, -1, 1, 1
    )
    session = ort.InferenceSession(str(model_file), providers=["CPUExecutionProvider"])
    logits = session.run(None, {desc["inputs"][0]["name"]: x.astype(np.float32)})[0]
    probs = np.exp(logits) / np.exp(logits).sum(1, keepdims=True)
    expected = Predictor.load(run_copy).predict_batch(_digit(run_copy)[None], top_k=1)[0]
    assert desc["postprocess"]["class_names"][int(probs.argmax())] == expected["label_name"]
    assert probs.max() == pytest.approx(expected["probability"], abs=1e-4)


@pytest.mark.filterwarnings("ignore::FutureWarning")  # torch.jit.load is deprecated, still the way to load it
def test_torchscript_export_matches_pytorch(run_copy, tmp_path):
    import torch

    from kindling.bundle.files import load_bundle
    from kindling.task.inputs import make_preprocess

    out = tmp_path / "digits.pt"
    assert main(["export", str(run_copy), "--format", "torchscript", "--output", str(out)]) == 0
    assert (tmp_path / "digits.pt.json").is_file()
    loaded = torch.jit.load(str(out))
    bundle = load_bundle(run_copy)
    x = make_preprocess(bundle.signature)(torch.from_numpy(_digit(run_copy)[None]))
    with torch.no_grad():
        assert (loaded(x) - bundle.model(x)).abs().max() < 1e-4


def test_a_failed_check_writes_nothing(run_copy, monkeypatch, capsys):
    import kindling.predict.export as export

    monkeypatch.setattr(export, "TOLERANCE", 0.0)  # no export matches float32 to 0: the check must fail
    assert main(["export", str(run_copy), "--format", "onnx"]) == 2
    assert "nothing was written" in capsys.readouterr().err
    assert not (run_copy / "export").exists()


def test_user_mistakes_are_one_line_errors(run_copy, tmp_path, capsys):
    assert main(["export", str(run_copy), "--format", "onnx", "--output", str(tmp_path / "m.pt")]) == 2
    assert "*.onnx" in capsys.readouterr().err
    assert main(["export", str(tmp_path / "missing"), "--format", "onnx"]) == 2
    assert "does not exist" in capsys.readouterr().err
    assert not (tmp_path / "m.pt").exists()


def test_table_model_exports_to_onnx(tmp_path):
    pytest.importorskip("onnxruntime")
    from kindling.predict.export import export_run

    run = tmp_path / "wine"
    train_run(run, "--data", "wine", "--model", "mlp", "--epochs", "1", "--set", "model.options.numbers=plr")
    report = export_run(run, "onnx", samples=16)  # the number embeddings' sin, cos and einsum included
    assert report["check"]["max_abs_diff"] < 1e-4 and report["check"]["n"] == 16
    desc = json.loads(Path(report["preprocess"]).read_text())
    assert desc["preprocess"]["kind"] == "tabular" and desc["signature_extras"]["encoders"]


def test_text_model_exports_with_lengths(tmp_path):
    from kindling.predict.export import export_run

    write_sentiment_tsv(tmp_path / "t.tsv")
    run = tmp_path / "text"
    args = [
        "train",
        "--data",
        f"text:{tmp_path / 't.tsv'}",
        "--model",
        "bow",
        "--epochs",
        "1",
        "--threads",
        "1",
    ]
    assert main([*args, "--run-dir", str(run)]) == 0
    for fmt in ("onnx", "torchscript"):
        report = export_run(run, fmt, samples=8)
        assert report["check"]["max_abs_diff"] < 1e-4
    desc = json.loads(Path(report["preprocess"]).read_text())
    assert [i["name"] for i in desc["inputs"]] == ["input", "lengths"] and "vocab" in desc["signature_extras"]
