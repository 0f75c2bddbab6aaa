"""The seed TextRNN lesson's vocab.pkl + embedding_*.npz, in their exact formats (pkl.dump of a dict,
np.savez_compressed): kindling uses that vocabulary, the embedding starts as the file's rows (mapped
through the re-indexing), tokens the vocabulary or the vectors lack are counted, and the trained run
predicts with that vocabulary."""

from __future__ import annotations

import json
import pickle
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from kindling import data as data_mod
from kindling import models
from kindling.config.load import load_config
from kindling.config.schema import DataConfig

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "data"))  # tests/data/text_files.py
import text_files  # noqa: E402

LEFT_OUT = "球银芯"  # in the data, not in the vocabulary: read as <UNK>
EXTRA = "猫狗"  # in the vocabulary, never in the data


@pytest.fixture
def seed_pair(tmp_path):
    root = text_files.write_thucnews(tmp_path / "thuc", sizes=(60, 12, 12))
    vocab, vectors = text_files.write_seed_vocab_and_vectors(
        root / "train.txt", tmp_path / "emb", leave_out=LEFT_OUT, extra=EXTRA
    )
    return root, vocab, vectors


def _embedding_weight(model) -> torch.Tensor:
    return model.bag.weight[: model.vocab_size] if hasattr(model, "bag") else model.embedding.weight


def _assert_rows_match(weight: torch.Tensor, sig, vocab_pkl: Path, vectors: Path) -> None:
    """Every token's row is the file's row for that token's id in vocab.pkl; <PAD> is zero."""
    vocab_dic = pickle.loads(vocab_pkl.read_bytes())  # the test's own file
    rows = np.load(vectors)["embeddings"].astype(np.float32)
    itos = sig.extras["vocab"]
    assert sorted(itos) == sorted(vocab_dic) and itos[:2] == ["<PAD>", "<UNK>"]
    for i, tok in enumerate(itos):
        expected = np.zeros(rows.shape[1], np.float32) if tok == "<PAD>" else rows[vocab_dic[tok]]
        np.testing.assert_allclose(weight[i].detach().numpy(), expected, rtol=0, atol=1e-6)


def test_the_seed_vocabulary_is_used_and_its_unknowns_counted(seed_pair, capsys):
    root, vocab, _ = seed_pair
    dm = data_mod.build(DataConfig(name=f"text:{root}", vocab=str(vocab)))
    said = capsys.readouterr().err
    vocab_dic = pickle.loads(vocab.read_bytes())
    # re-indexed: <PAD> 0, <UNK> 1, then the file's tokens in the order of their ids
    assert dm.signature.extras["vocab"] == ["<PAD>", "<UNK>", *list(vocab_dic)[:-2]]
    assert dm.signature.extras["vocab_file"]["size"] == len(vocab_dic)
    assert f"vocabulary {len(vocab_dic)} tokens from vocab.pkl (data.vocab;" in said
    assert f"{len(LEFT_OUT)} distinct, are not in it" in said
    x, _, _ = next(dm.train.batches(60))
    assert (x == 1).any()  # the left-out characters read as <UNK>


@pytest.mark.parametrize("name", ["textrnn", "textcnn", "bow"])
def test_the_embedding_starts_as_the_files_rows(name, seed_pair, capsys):
    root, vocab, vectors = seed_pair
    dm = data_mod.build(DataConfig(name=f"text:{root}", vocab=str(vocab)))
    options = {"embeddings": str(vectors), "hidden": 4, "filters": 4, "buckets": 16}
    options = {k: v for k, v in options.items() if k in ("embeddings",) or k in _options_of(name)}
    model = models.build(name, dm.signature, options)
    assert _embedding_weight(model).shape == (len(dm.signature.extras["vocab"]), 8)  # dim from the file
    _assert_rows_match(_embedding_weight(model), dm.signature, vocab, vectors)
    said = capsys.readouterr().err
    total = len(dm.signature.extras["vocab"])
    assert f"embeddings: {total} of {total} vocabulary entries found in embedding_Test.npz (8 dims" in said


def _options_of(name: str) -> set[str]:
    import inspect

    return set(inspect.signature(models.get(name)).parameters)


def test_a_dict_without_unk_and_pad_gets_them_and_counts_them_missing(tmp_path, capsys):
    root = text_files.write_thucnews(tmp_path / "thuc", sizes=(30, 6, 6))
    tokens = sorted({ch for line in (root / "train.txt").read_text("utf-8").splitlines() for ch in line[:-2]})
    with open(tmp_path / "vocab.pkl", "wb") as f:
        pickle.dump({t: i for i, t in enumerate(tokens)}, f)
    np.savez_compressed(tmp_path / "e.npz", embeddings=np.random.default_rng(1).random((len(tokens), 8)))
    dm = data_mod.build(DataConfig(name=f"text:{root}", vocab=str(tmp_path / "vocab.pkl")))
    model = models.build("textrnn", dm.signature, {"embeddings": str(tmp_path / "e.npz"), "hidden": 4})
    assert dm.signature.extras["vocab"] == ["<PAD>", "<UNK>", *tokens]
    assert "2 missing" in capsys.readouterr().err  # <PAD> and <UNK>: random rows
    rows = np.load(tmp_path / "e.npz")["embeddings"].astype(np.float32)
    np.testing.assert_allclose(model.embedding.weight[2:].detach().numpy(), rows, atol=1e-6)


def test_a_word2vec_file_maps_through_the_seed_vocabulary(seed_pair, capsys):
    root, vocab, _ = seed_pair
    dm = data_mod.build(DataConfig(name=f"text:{root}", vocab=str(vocab)))
    w2v = root.parent / "vec.txt"
    w2v.write_text("2 3\n比 1 2 3\n猫 4 5 6\n", encoding="utf-8")
    model = models.build("textrnn", dm.signature, {"embeddings": str(w2v), "hidden": 4})
    itos = dm.signature.extras["vocab"]
    assert model.embedding.weight[itos.index("猫")].tolist() == [4.0, 5.0, 6.0]
    assert f"2 of {len(itos)} vocabulary entries found in vec.txt (3 dims); {len(itos) - 2} missing" in (
        capsys.readouterr().err
    )


def _train(tmp_path: Path, root: Path, name: str, sets: list[str]) -> Path:
    from kindling.runner import train

    flags = {
        "run_dir": str(tmp_path / f"run-{name}"),
        "train.threads": 1,
        "data.name": f"text:{root}",
        "model.name": name,
        "train.epochs": 1,
        "data.batch_size": 32,
        "optim.name": "adam",
        "optim.lr": 0.01,
        "train.logger": "none",
    }
    return train(load_config(None, flags, sets), echo=lambda *a: None)


@pytest.mark.parametrize("name, options", [("textrnn", "{hidden: 8}"), ("bow", "{buckets: 32}")])
def test_seed_files_train_one_epoch_then_predict(name, options, seed_pair, tmp_path, capsys):
    from kindling.bundle.files import load_bundle
    from kindling.cli.main import main

    root, vocab, vectors = seed_pair
    sets = [
        f"model.options={options}",
        f"data.vocab={vocab}",
        f"model.options.embeddings={vectors}",
        "model.options.freeze_embeddings=true",
    ]
    run = _train(tmp_path, root, name, sets)
    said = capsys.readouterr().err
    assert f"{len(LEFT_OUT)} distinct, are not in it" in said and "0 missing" in said

    bundle = load_bundle(run)
    assert bundle.signature.extras["vocab_file"]["file"] == str(vocab)
    # frozen: the trained model still holds the file's rows, rebuilt from the Bundle without the files
    kept = tmp_path / "kept"
    kept.mkdir()
    vectors.rename(kept / vectors.name)
    vocab.rename(kept / vocab.name)
    weight = _embedding_weight(load_bundle(run).model)
    _assert_rows_match(weight, bundle.signature, kept / vocab.name, kept / vectors.name)
    assert main(["predict", str(run), "--text", "比赛球队冠军", "--text", "猫", "--json"]) == 0
    predictions = json.loads(capsys.readouterr().out)["predictions"]
    assert [p["input"] for p in predictions] == ["比赛球队冠军", "猫"]
    assert all(p["label_name"] in text_files.CLASSES_ZH for p in predictions)


def test_a_vocabulary_without_vectors_is_fine(seed_pair):
    root, vocab, _ = seed_pair
    dm = data_mod.build(DataConfig(name=f"text:{root}", vocab=str(vocab)))
    model = models.build("textrnn", dm.signature, {"hidden": 4})
    assert model.embedding.weight.shape == (len(pickle.loads(vocab.read_bytes())), 300)
