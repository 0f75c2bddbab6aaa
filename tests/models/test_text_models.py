"""Text models: forward/backward on every registered text model, packing, pretrained vectors, and
end-to-end training (in-process) on generated THUCNews-layout and SMS-like data, recipe included."""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from kindling import data as data_mod
from kindling import models
from kindling.config.load import load_config
from kindling.config.schema import DataConfig
from kindling.errors import UserError

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "data"))  # tests/data/text_files.py
import text_files  # noqa: E402

TEXT_MODELS = ["textrnn", "textcnn", "bow", "linear-ngrams"]
SMALL = {
    "textrnn": {"embed": 16, "hidden": 8},
    "textcnn": {"embed": 16, "filters": 8},
    "bow": {"embed": 8, "buckets": 64},
    "linear-ngrams": {"buckets": 64},
}
RECIPES = Path(__file__).resolve().parents[2] / "recipes"


@pytest.fixture(scope="module")
def thuc(tmp_path_factory) -> data_mod.DataModule:
    root = text_files.write_thucnews(tmp_path_factory.mktemp("thuc") / "data")
    return data_mod.build(DataConfig(name=f"text:{root}", pad_size=12))


@pytest.mark.parametrize("name", TEXT_MODELS)
def test_forward_backward_no_nan(name, thuc):
    model = models.build(name, thuc.signature, SMALL[name])
    assert model.takes_lengths is True
    x, y, lengths = next(thuc.train.batches(16))
    out = model(x, lengths)
    assert out.shape == (16, 3) and torch.isfinite(out).all()
    torch.nn.functional.cross_entropy(out, y).backward()
    grads = [p.grad for p in model.parameters() if p.requires_grad]
    assert all(g is not None and torch.isfinite(g).all() for g in grads)


@pytest.mark.parametrize("name", [m for m in TEXT_MODELS if m != "textcnn"])
def test_padding_does_not_change_the_output(name, thuc):
    """Packed LSTM / masked bag: the same text padded to different lengths gives the same logits.
    (textcnn, as in the THUCNews code, takes its max over the padding too: see the next test.)"""
    model = models.build(name, thuc.signature, SMALL[name]).eval()
    x, _, lengths = next(thuc.train.batches(4))
    wider = torch.nn.functional.pad(x, (0, 7))
    with torch.no_grad():
        a, b = model(x, lengths), model(wider, lengths)
    torch.testing.assert_close(a, b, atol=1e-5, rtol=1e-5)


def test_textcnn_output_of_a_text_does_not_depend_on_its_batch(thuc):
    """Every text is padded to the same pad_size, so a text's logits are the same alone as in a batch
    (what makes predict and serve agree with training for the model that sees its padding)."""
    model = models.build("textcnn", thuc.signature, SMALL["textcnn"]).eval()
    x, _, lengths = next(thuc.train.batches(4))
    with torch.no_grad():
        together = model(x, lengths)
        alone = torch.cat([model(x[i : i + 1], lengths[i : i + 1]) for i in range(len(x))])
    torch.testing.assert_close(together, alone, atol=1e-5, rtol=1e-5)
    assert not torch.allclose(together[0], together[1])  # the texts differ, and so do their logits


def test_textrnn_is_the_thucnews_configuration(thuc):
    model = models.build("textrnn", thuc.signature, {})
    lstm = model.lstm
    assert (model.embedding.embedding_dim, lstm.hidden_size, lstm.num_layers, lstm.bidirectional) == (
        300,
        128,
        2,
        True,
    )
    assert lstm.dropout == 0.5 and model.fc.in_features == 256


def test_text_models_refuse_other_inputs():
    from kindling.data.signature import Signature

    sig = Signature("classification", "image", [1, 8, 8], ["a", "b"])
    with pytest.raises(UserError, match="text data"):
        models.build("textcnn", sig, {})


def test_pretrained_embeddings_npz_and_word2vec(thuc, tmp_path):
    sig = thuc.signature
    vocab = sig.extras["vocab"]
    vectors = np.arange(len(vocab) * 4, dtype=np.float32).reshape(len(vocab), 4)
    np.savez(tmp_path / "vec.npz", embeddings=vectors)
    model = models.build(
        "textcnn", sig, {"embeddings": str(tmp_path / "vec.npz"), "freeze_embeddings": True, "filters": 4}
    )
    assert model.embedding.weight.shape == (len(vocab), 4) and not model.embedding.weight.requires_grad
    torch.testing.assert_close(model.embedding.weight[2:], torch.from_numpy(vectors[2:]))
    assert (
        sig.extras["pretrained_embeddings"]["dim"] == 4
    )  # recorded: a Bundle rebuilds the shape without the file

    w2v = tmp_path / "vec.txt"
    w2v.write_text(f"2 3\n{vocab[2]} 1 2 3\nnotinvocab 4 5 6\n", encoding="utf-8")
    fresh = data_mod.build(
        DataConfig(name=thuc.description.split(": ", 1)[1].join(["text:", ""]), pad_size=12)
    )
    model = models.build("textrnn", fresh.signature, {"embeddings": str(w2v), "hidden": 4})
    assert model.embedding.weight.shape[1] == 3
    assert model.embedding.weight[2].tolist() == [1.0, 2.0, 3.0]

    np.savez(tmp_path / "wrong.npz", embeddings=np.zeros((3, 4), dtype=np.float32))
    with pytest.raises(UserError, match="vocabulary size"):
        models.build("bow", fresh.signature, {"embeddings": str(tmp_path / "wrong.npz")})
    with pytest.raises(UserError, match="does not exist"):
        models.build("bow", fresh.signature, {"embeddings": str(tmp_path / "missing.npz")})


# ---------------------------------------------------------------- end to end (in-process)


def _train(
    tmp_path: Path, recipe: str | None = None, flags: dict | None = None, sets: tuple = (), said=None
) -> Path:
    from kindling.runner import train

    cfg = load_config(
        recipe, {"run_dir": str(tmp_path / "run"), "train.threads": 1, **(flags or {})}, list(sets)
    )
    return train(cfg, echo=(said.append if said is not None else lambda *a: None))


@pytest.mark.parametrize("name", TEXT_MODELS)
def test_train_one_epoch_then_evaluate_and_predict(name, tmp_path):
    from kindling.bundle.files import load_bundle
    from kindling.data.text import encode_texts
    from kindling.evaluate.evaluation import evaluate, format_table

    root = text_files.write_thucnews(tmp_path / "thuc", sizes=(90, 21, 21))
    sets = [f"model.options={json.dumps(SMALL[name])}"]
    # batch 128 > every split: the last (only) batch is short; nothing divides by a zero batch count
    run = _train(
        tmp_path,
        flags={
            "data.name": f"text:{root}",
            "model.name": name,
            "train.epochs": 1,
            "data.batch_size": 128,
            "optim.name": "adam",
            "optim.lr": 0.01,
        },
        sets=sets,
    )
    result = evaluate(run)
    assert result["n"] == 21 and 0.0 <= result["accuracy"] <= 1.0
    assert set(result["report"]) == set(text_files.CLASSES_ZH)
    assert {"precision", "recall", "f1", "support"} <= set(result["report"]["体育"])
    assert "precision" in format_table(result, text_files.CLASSES_ZH)

    bundle = load_bundle(run)
    ids, lengths = encode_texts(bundle.signature, ["球队比赛进球", ""])
    with torch.no_grad():
        out = bundle.model(torch.from_numpy(ids), torch.from_numpy(lengths))
    assert out.shape == (2, 3) and torch.isfinite(out).all()


def test_textrnn_learns_and_early_stops_by_steps(tmp_path):
    root = text_files.write_thucnews(tmp_path / "thuc", sizes=(240, 45, 45))
    said: list[str] = []
    run = _train(
        tmp_path,
        flags={
            "data.name": f"text:{root}",
            "model.name": "textrnn",
            "train.epochs": 30,
            "data.batch_size": 16,
            "optim.name": "adam",
            "optim.lr": 0.01,
            "train.val_every_steps": 5,
            "train.patience_steps": 20,
            "train.monitor": "val_acc",
        },
        sets=["model.options={embed: 16, hidden: 16}"],
        said=said,
    )
    from kindling.evaluate.evaluation import evaluate

    records = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert len(records) < 30  # stopped by patience_steps long before 30 epochs
    assert any("no improvement of val_acc in 20 steps" in line for line in said)
    assert evaluate(run)["accuracy"] >= 0.8  # the topics are separable by their characters


def test_thucnews_recipe_trains_unchanged(tmp_path, monkeypatch):
    """The recipe's own path (THUCNews/data, relative) holding generated Chinese titles; one dry-run pass."""
    text_files.write_thucnews(tmp_path / "THUCNews" / "data", sizes=(140, 20, 20))
    monkeypatch.chdir(tmp_path)
    run = _train(tmp_path, recipe=str(RECIPES / "thucnews-textrnn.yaml"), flags={"train.dry_run": True})
    meta = json.loads((run / "best" / "bundle.json").read_text(encoding="utf-8"))
    assert meta["signature"]["input_shape"] == [32] and meta["signature"]["extras"]["tokenizer"] == "char"
    assert meta["model"]["name"] == "textrnn"


def test_sms_recipe_trains_on_a_headerless_tsv(tmp_path, monkeypatch):
    text_files.write_sms_tsv(tmp_path / "SMSSpamCollection", 200)
    monkeypatch.chdir(tmp_path)
    run = _train(tmp_path, recipe=str(RECIPES / "sms-spam.yaml"))  # unchanged: 8 short epochs
    from kindling.evaluate.evaluation import evaluate

    assert evaluate(run)["accuracy"] >= 0.9
    shutil.rmtree(run)


def test_the_default_text_model_trains_predicts_and_exports(tmp_path):
    """Bare `--data text:FILE`: kindling picks linear-ngrams; its Bundle predicts and exports to ONNX."""
    from kindling.bundle.files import load_bundle
    from kindling.data.text import encode_texts
    from kindling.predict.export import export_run
    from kindling_testing import write_sentiment_tsv

    write_sentiment_tsv(tmp_path / "t.tsv", rows=120)
    said: list[str] = []
    run = _train(tmp_path, flags={"data.name": f"text:{tmp_path / 't.tsv'}"}, said=said)
    assert any("kindling chose linear-ngrams" in line for line in said)
    bundle = load_bundle(run)
    assert bundle.name == "linear-ngrams"
    ids, lengths = encode_texts(bundle.signature, ["a very good film", "bad"])
    with torch.no_grad():
        out = bundle.model(torch.from_numpy(ids), torch.from_numpy(lengths))
    assert out.shape == (2, 2) and torch.isfinite(out).all()
    report = export_run(run, "onnx", samples=8)
    assert report["check"]["max_abs_diff"] < 1e-4
