"""Test-time augmentation (issue 25 part 3): the views follow the training augmentation, the output is the
average of the views' probabilities as documented, it is recorded (JSON included), and it composes with a
model that averages its mirror image itself (photo-cnn)."""

from __future__ import annotations

import json

import pytest
import torch

from kindling.data.signature import Signature
from kindling.data.tta import shifted, views_for
from kindling.errors import UserError
from kindling.models.classic import photo_cnn
from kindling.task import task_for
from kindling_testing import train_run


def image_sig(side: int = 8, channels: int = 1) -> Signature:
    return Signature(
        "classification", "image", [channels, side, side], ["a", "b"], [0.5] * channels, [0.25] * channels
    )


@pytest.fixture(scope="module")
def shifted_digits(tmp_path_factory):
    """Digits trained 2 epochs with the shift augmentation: its test-time views are 1-pixel shifts."""
    run = tmp_path_factory.mktemp("tta") / "digits"
    return train_run(run, "--data", "digits", "--epochs", "2", "--augment", "shift", "--baseline", "none")


def test_views_follow_the_training_augmentation():
    sig = image_sig(80, 3)
    names = lambda augment: views_for(augment, sig)[0]  # noqa: E731
    assert [n for n, _ in names("flip")] == ["identity", "hflip"]
    assert [n for n, _ in names("shift")] == ["identity"] + [
        f"shift {d} 5px" for d in ("up", "down", "left", "right")
    ]
    assert [n for n, _ in names("light")][:2] == ["identity", "hflip"] and len(names("light")) == 6
    assert [n for n, _ in names("hflip,vflip,rotate=15")] == [
        "identity",
        "hflip",
        "vflip",
    ]  # no view for turns
    assert names("shift=0.2")[1][0] == "shift up 8px"  # half the largest training shift
    assert views_for("shift", image_sig(8))[0][1][0] == "shift up 1px"  # at least one pixel
    with pytest.raises(UserError, match="data.augment=none"):
        views_for("none", sig)
    with pytest.raises(UserError, match="data.augment=rotate=10"):
        views_for("rotate=10", sig)
    table = Signature("classification", "tabular", [4], ["a", "b"])
    with pytest.raises(UserError, match="drop --tta"):
        views_for("light", table)


def test_a_shift_moves_the_picture_and_fills_as_training_did():
    x = torch.arange(16.0).view(1, 1, 4, 4)
    fill = torch.tensor([-9.0])
    right = shifted(x, 0, 1, fill)
    assert torch.equal(right[..., :, 1:], x[..., :, :-1]) and bool((right[..., :, 0] == -9).all())
    up = shifted(x, -2, 0, fill)
    assert torch.equal(up[..., :2, :], x[..., 2:, :]) and bool((up[..., 2:, :] == -9).all())
    # the shift preset pads with zeros after normalisation, the others with black (-mean / std)
    sig = image_sig(8)
    plain = dict(views_for("shift", sig)[0])["shift down 1px"](torch.ones(1, 1, 8, 8))
    black = dict(views_for("light", sig)[0])["shift down 1px"](torch.ones(1, 1, 8, 8))
    assert float(plain[0, 0, 0, 0]) == 0.0 and float(black[0, 0, 0, 0]) == pytest.approx(-0.5 / 0.25)


def test_the_average_is_of_probabilities_in_the_tasks_own_convention():
    torch.manual_seed(0)
    a, b = torch.randn(5, 3), torch.randn(5, 3)
    sig = Signature("classification", "vector", [4], ["x", "y", "z"])
    for convention, to_p in (("logits", lambda o: o.softmax(1)), ("log_probs", lambda o: o.exp())):
        task = task_for(sig, convention=convention)
        outs = [a.log_softmax(1), b.log_softmax(1)] if convention == "log_probs" else [a, b]
        mean = (to_p(outs[0]) + to_p(outs[1])) / 2
        assert torch.allclose(task.probabilities(task.average(outs)), mean, atol=1e-6)
    regression = task_for(Signature("regression", "vector", [4], [], extras={"target_std": 3.0}))
    assert torch.allclose(
        regression.values(regression.average([a[:, :1], b[:, :1]])), (a[:, 0] + b[:, 0]) * 1.5
    )


def test_photo_cnn_averages_its_mirror_image_so_tta_leaves_the_flip_out():
    sig = image_sig(16, 3)
    model = photo_cnn(sig, width=4).eval()
    x = torch.randn(2, 3, 16, 16)
    with torch.no_grad():
        assert torch.allclose(model(x), model(x.flip(3)), atol=1e-5)  # a flip view would be the same view
    views, record = views_for("hflip,shift=0.1,scale=0.3", sig, model)
    assert "hflip" not in [n for n, _ in views] and len(views) == 5
    assert "mirror image" in record["note"]


def _manual_tta_probabilities(run, x_raw: torch.Tensor) -> torch.Tensor:
    """What --tta documents, by hand: the model's softmax on each view of the preprocessed batch, averaged."""
    import kindling

    predictor = kindling.load(run)
    views, _ = views_for("shift", predictor.sig, predictor.bundle.model)
    x = predictor.preprocess(x_raw)
    with torch.no_grad():
        probs = [predictor.bundle.model(view(x)).softmax(1) for _, view in views]
    return torch.stack(probs).mean(0)


def test_evaluate_tta_changes_the_output_as_documented_and_records_it(shifted_digits, capsys):
    from kindling import data as data_mod
    from kindling.cli.main import main
    from kindling.config.schema import DataConfig

    assert main(["evaluate", str(shifted_digits), "--json"]) == 0
    plain = json.loads(capsys.readouterr().out)
    assert main(["evaluate", str(shifted_digits), "--json", "--tta"]) == 0
    tta = json.loads(capsys.readouterr().out)
    assert tta["tta"]["views"] == [
        "identity",
        "shift up 1px",
        "shift down 1px",
        "shift left 1px",
        "shift right 1px",
    ]
    assert tta["tta"]["from"] == "data.augment=shift" and tta["tta"]["averaged"] == "softmax probabilities"
    assert "tta" not in plain and tta["loss"] != plain["loss"]
    test = data_mod.build(DataConfig(name="digits"), quiet=True).test
    probs = _manual_tta_probabilities(shifted_digits, test.x)
    expected_loss = float(torch.nn.functional.nll_loss(probs.log(), test.y))
    assert tta["loss"] == pytest.approx(expected_loss, rel=1e-5)
    assert tta["accuracy"] == pytest.approx(float((probs.argmax(1) == test.y).float().mean()))
    assert (shifted_digits / "metrics_test_tta.json").is_file()  # beside metrics_test.json, not over it
    assert main(["evaluate", str(shifted_digits), "--tta"]) == 0
    assert "test-time augmentation: softmax probabilities averaged over 5 views" in capsys.readouterr().out


def test_predict_tta_averages_and_says_so_in_json_csv_and_python(shifted_digits, tmp_path, capsys):
    import numpy as np

    import kindling
    from kindling.cli.main import main

    sample = np.random.default_rng(0).integers(0, 256, (1, 8, 8), dtype=np.uint8)
    np.save(tmp_path / "x.npy", sample)
    assert (
        main(["predict", str(shifted_digits), str(tmp_path / "x.npy"), "--json", "--tta", "--top-k", "10"])
        == 0
    )
    out = json.loads(capsys.readouterr().out)
    assert len(out["tta"]["views"]) == 5 and out["predictions"][0]["tta_views"] == 5
    probs = _manual_tta_probabilities(shifted_digits, torch.from_numpy(sample[None]))[0]
    got = {t["label"]: t["probability"] for t in out["predictions"][0]["top_k"]}
    assert all(got[i] == pytest.approx(float(probs[i]), abs=1e-6) for i in range(10))
    assert (
        main(
            [
                "predict",
                str(shifted_digits),
                str(tmp_path / "x.npy"),
                "--tta",
                "--output",
                str(tmp_path / "p.csv"),
            ]
        )
        == 0
    )
    assert capsys.readouterr().err.count("test-time augmentation") == 1
    assert (tmp_path / "p.csv").read_text().splitlines()[0].endswith(",tta_views")
    python = kindling.load(shifted_digits, tta=True).predict(sample)
    assert python[0]["probability"] == pytest.approx(out["predictions"][0]["probability"], abs=1e-6)
    assert kindling.Run(shifted_digits).evaluate(tta=True)["tta"]["views"][0] == "identity"
    assert "tta_views" not in kindling.load(shifted_digits).predict(sample)[0]
