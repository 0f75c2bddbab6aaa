"""`--sampler balanced`: classes drawn evenly, seeded, a pure function of (seed, epoch) that leaves the
global random streams alone, sharded like the shuffle under DDP; and an interrupted run resumed with it
(and with class weights) ends with bit-identical weights."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from kindling.cli.verify_resume import verify_resume
from kindling.errors import UserError
from kindling.train.sampler import Balanced, Shuffle, sampler_for

LABELS = torch.tensor([0] * 950 + [1] * 40 + [2] * 10)  # 95% / 4% / 1%


def test_balanced_draws_each_class_about_equally_and_only_its_own_samples():
    sampler = Balanced(LABELS, seed=3, num_classes=4)  # class 3 has no sample: never drawn
    draws = torch.cat([sampler.order(epoch) for epoch in range(20)])
    assert len(sampler.order(0)) == len(LABELS)  # an epoch keeps its length
    counts = torch.bincount(LABELS[draws], minlength=4).double()
    expected = len(draws) / 3
    assert counts[3] == 0
    assert torch.all((counts[:3] - expected).abs() < 5 * (expected * (2 / 3)) ** 0.5)  # within 5 sigma
    rare = set(draws[LABELS[draws] == 2].tolist())
    assert rare == set(range(990, 1000))  # every sample of the rare class is drawn, and only those
    per_sample = torch.bincount(draws[LABELS[draws] == 0], minlength=950)[:950].double()
    assert per_sample.mean() == pytest.approx(expected / 950, rel=0.05)  # uniform within the class


def test_balanced_order_is_a_pure_function_of_seed_and_epoch():
    a, b = Balanced(LABELS, 0, 3), Balanced(LABELS, 0, 3)
    before = torch.get_rng_state()
    first = a.order(5)
    assert torch.equal(torch.get_rng_state(), before)  # the run's own streams do not move
    assert torch.equal(first, b.order(5))
    assert not torch.equal(first, a.order(6)) and not torch.equal(first, Balanced(LABELS, 1, 3).order(5))


def test_balanced_order_is_sharded_like_the_shuffle():
    sampler = Balanced(LABELS, 0, 3)
    whole = sampler.order(2)
    shards = [sampler.order(2, rank, 3) for rank in range(3)]
    assert all(len(s) == 334 for s in shards)  # 1000 draws padded to 1002
    padded = torch.cat([whole, whole[:2]])
    assert all(torch.equal(shards[rank], padded[rank::3]) for rank in range(3))


def test_a_resume_on_other_class_counts_is_refused():
    sampler = Balanced(LABELS, 0, 3)
    saved = sampler.state_dict()
    Balanced(LABELS.clone(), 0, 3).load_state_dict(saved)  # the same data: fine
    with pytest.raises(UserError, match="cannot resume: the checkpoint's sampler drew from other data"):
        Balanced(LABELS[:-1], 0, 3).load_state_dict(saved)
    with pytest.raises(UserError, match="kind balanced -> none"):
        Shuffle(1000, 0).load_state_dict(saved)
    Shuffle(1000, 0).load_state_dict(None)  # a checkpoint from before samplers were recorded
    assert isinstance(sampler_for("none", LABELS, 0, 3), Shuffle)


def _imbalanced_digits_csv(folder) -> str:
    """Digits' 64 pixels and the digit, nines kept at 5% of their samples (seeded): a rare class."""
    from sklearn.datasets import load_digits

    x, y = load_digits(return_X_y=True)
    rng = np.random.default_rng(0)
    keep = (y != 9) | (rng.random(len(y)) < 0.05)
    header = ",".join([f"p{i}" for i in range(64)] + ["digit"])
    rows = [",".join(map(str, [*map(int, row), label])) for row, label in zip(x[keep], y[keep])]
    path = folder / "digits.csv"
    path.write_text(header + "\n" + "\n".join(rows) + "\n")
    return str(path)


def test_mid_epoch_resume_with_the_balanced_sampler_and_class_weights_is_bit_identical(tmp_path):
    sets = [
        f"data.name=csv:{_imbalanced_digits_csv(tmp_path)}",
        "data.target=digit",
        "data.task=classification",
        "model.name=mlp",
        "data.batch_size=64",
        "train.sampler=balanced",
        "train.class_weights=auto",
        "train.logger=none",
        "train.baseline=none",
        "train.threads=1",
    ]
    lines = []
    assert verify_resume(None, sets, epochs=2, echo=lines.append), lines
    assert "bit-identical" in lines[-1]


def test_under_torchrun_the_draws_are_sharded_and_rank_0_chooses_the_threshold(tmp_path):
    """Two processes with the balanced sampler, class weights and `--threshold auto` on a two-class table:
    they train the same global batches as one process (the draws sharded rank by rank), and rank 0 alone
    chooses the threshold once training ends; nobody waits for it forever."""
    import json

    from sklearn.datasets import load_digits
    from test_distributed import kindling

    from kindling.evaluate.evaluation import evaluate

    x, y = load_digits(return_X_y=True)
    keep = (y != 9) | (np.random.default_rng(0).random(len(y)) < 0.4)
    rows = [",".join([*map(str, map(int, r)), "yes" if d == 9 else "no"]) for r, d in zip(x[keep], y[keep])]
    data = tmp_path / "nines.csv"
    data.write_text(",".join([f"p{i}" for i in range(64)] + ["nine"]) + "\n" + "\n".join(rows) + "\n")
    common = [
        "--data",
        f"csv:{data}",
        "--target",
        "nine",
        "--model",
        "mlp",
        "--batch-size",
        "64",
        "--epochs",
        "2",
    ]
    common += ["--sampler", "balanced", "--class-weights", "auto", "--threshold", "auto", "--logger", "none"]
    kindling("train", *common, "--run-dir", str(tmp_path / "one"), "--threads", "1", "--baseline", "none")
    out = kindling(
        "train", *common, "--run-dir", str(tmp_path / "two"), "--devices", "2", "--baseline", "none"
    )
    assert out.stdout.count("chosen on val") == 1  # rank 0 only
    one, two = (json.loads((tmp_path / r / "best" / "bundle.json").read_text()) for r in ("one", "two"))
    assert two["decision"]["positive"] == "yes"
    assert abs(one["metrics"]["val"]["acc"] - two["metrics"]["val"]["acc"]) <= 0.02
    assert evaluate(tmp_path / "two")["threshold"] == two["decision"]["threshold"]


def test_the_trainer_trains_with_the_weights_and_draws_with_the_sampler(tmp_path):
    """What the trainer holds once set up (a dry run): the loss weighted as `auto` computes from the train
    split, and the balanced sampler over the train labels."""
    from kindling.config.load import load_config
    from kindling.runner import train
    from kindling.task.imbalance import auto_weights, class_counts
    from kindling.train.events import Callback

    seen = {}

    class Look(Callback):
        def on_fit_start(self, trainer) -> None:
            counts = class_counts(trainer.train_split.y, len(trainer.sig.class_names))
            seen.update(expected=auto_weights(counts), counts=counts, sampler=trainer.sampler)
            seen["weight"] = trainer.task.loss_fn.weight.tolist()

    keys = {
        "data.name": f"csv:{_imbalanced_digits_csv(tmp_path)}",
        "data.target": "digit",
        "data.task": "classification",
        "model.name": "mlp",
        "run_dir": str(tmp_path / "run"),
        "train.class_weights": "auto",
        "train.sampler": "balanced",
        "train.dry_run": True,
        "train.logger": "none",
        "train.threads": 1,
    }
    train(load_config(None, keys), echo=lambda *a: None, callbacks=[Look()])
    assert seen["weight"] == pytest.approx(seen["expected"], rel=1e-6)
    assert seen["weight"][9] > 2 * seen["weight"][0]  # the rare nines weigh more
    assert isinstance(seen["sampler"], Balanced) and seen["sampler"].counts.tolist() == seen["counts"]


def test_a_damaged_sampler_state_or_other_class_weights_refuse_the_resume():
    from types import SimpleNamespace

    from kindling.train.persist import _check_weights

    with pytest.raises(UserError, match="the checkpoint's sampler state is a str, not a record"):
        Balanced(LABELS, 0, 3).load_state_dict("balanced")
    trainer = SimpleNamespace(class_weights=[0.5, 2.0], tc=SimpleNamespace(class_weights="w.json"))
    _check_weights(trainer, {"class_weights": [0.5, 2.0]})
    _check_weights(trainer, {})  # a checkpoint from before weights were recorded
    with pytest.raises(UserError, match=r"class weights are now \[0.5, 2\], the run started with \[0.5, 3\]"):
        _check_weights(trainer, {"class_weights": [0.5, 3.0]})
    with pytest.raises(UserError, match="the run started with damaged weights"):
        _check_weights(trainer, {"class_weights": "x"})
