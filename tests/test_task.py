"""The Task per kind of problem (loss, activation, prediction, monitor, metrics), the output convention
detected from a real batch, and a wrong output shape refused before training starts."""

from __future__ import annotations

import json

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from kindling.config.schema import RunConfig
from kindling.data.signature import Signature
from kindling.errors import UserError
from kindling.task import Classification, MultiLabel, Regression, task_for

CLASSES = Signature("classification", "vector", [4], ["a", "b", "c"])
VALUES = Signature("regression", "vector", [4], extras={"target_mean": 10.0, "target_std": 2.0})
LABELS = Signature("multilabel", "vector", [4], ["red", "round", "big"])


def _sums(task, out, y) -> dict:
    metrics = task.metrics("cpu")
    metrics.update(task.loss(out, y), out, y)
    return metrics.compute()


# ------------------------------------------------------------------ classification


def test_classification_loss_is_cross_entropy_with_label_smoothing():
    out, y = torch.randn(5, 3), torch.tensor([0, 1, 2, 1, 0])
    task = task_for(CLASSES, label_smoothing=0.1)
    assert isinstance(task, Classification) and task.convention == "logits"
    assert torch.equal(task.loss(out, y), F.cross_entropy(out, y, label_smoothing=0.1))


def test_classification_of_log_probabilities_is_nll_and_exp():
    logp = torch.log_softmax(torch.randn(5, 3), dim=1)
    y = torch.tensor([0, 1, 2, 1, 0])
    task = task_for(CLASSES, convention="log_probs")
    assert torch.equal(task.loss(logp, y), F.nll_loss(logp, y))
    assert torch.allclose(task.probabilities(logp), logp.exp())
    assert torch.equal(task.log_probabilities(logp), logp)
    assert torch.allclose(task_for(CLASSES).log_probabilities(logp * 2), torch.log_softmax(logp * 2, 1))
    assert task.describe_outputs()["to_probabilities"] == "exp"


def test_classification_activation_prediction_and_results():
    out = torch.tensor([[2.0, 0.0, -1.0], [0.0, 3.0, 0.0]])
    task = task_for(CLASSES)
    assert torch.allclose(task.probabilities(out), torch.softmax(out, 1))
    assert task.predictions(out).tolist() == [0, 1]
    first = task.results(out, top_k=2)[0]
    assert first["label_name"] == "a" and len(first["top_k"]) == 2
    assert first["probability"] == pytest.approx(float(torch.softmax(out, 1)[0, 0]))


def test_a_monitor_left_to_kindling_is_the_loss_on_a_small_split_whoever_chose_the_model():
    """Accuracy ties on a small validation split (benchmarks/bench_monitor.py): below SMALL_VAL samples
    `auto` is the loss (MAE for regression), above it the task's default."""
    from kindling.task.problems import SMALL_VAL

    classes = task_for(Signature("classification", "tabular", [4], ["a", "b"]))
    values = task_for(Signature("regression", "tabular", [4]))
    assert classes.monitor_for("auto", 43) == "val_loss" and values.monitor_for("auto", 43) == "val_mae"
    assert (
        classes.monitor_for("auto", SMALL_VAL) == "val_acc"
        and values.monitor_for("auto", SMALL_VAL) == "val_loss"
    )
    assert classes.monitor_for("val_acc", 43) == "val_acc"  # what the user set is kept
    assert classes.monitor_for("auto") == "val_acc"  # a split of unknown size: the default


def test_classification_monitor_and_metrics():
    task = task_for(CLASSES)
    assert task.monitor_for("auto") == "val_acc" and task.mode("auto") == "max"
    assert task.mode("val_loss") == "min"
    with pytest.raises(UserError, match="val_mae does not apply to a classification task"):
        task.monitor_for("val_mae")
    out, y = torch.tensor([[2.0, 0, 0], [0, 2.0, 0], [0, 2.0, 0]]), torch.tensor([0, 1, 2])
    result = _sums(task, out, y)
    assert result["acc"] == pytest.approx(2 / 3)
    assert result["confusion_matrix"] == [[1, 0, 0], [0, 1, 0], [0, 1, 0]]


def test_the_model_attribute_marks_log_probabilities():
    model = nn.Linear(4, 3)
    model.outputs_log_probs = True
    assert task_for(CLASSES, model).convention == "log_probs"
    assert task_for(VALUES, model).convention == "value"  # a mark that cannot apply is ignored


def test_log_probabilities_are_detected_from_a_batch():
    task = task_for(CLASSES)
    logits = torch.randn(8, 3) * 3
    assert task.detect_convention(logits) == "logits"
    assert task.detect_convention(torch.log_softmax(logits, 1)) == "log_probs"


def test_a_wrong_output_shape_names_the_model_and_both_shapes():
    task = task_for(CLASSES)
    task.check_outputs("mine", torch.zeros(4, 3), 4)
    with pytest.raises(UserError) as info:
        task.check_outputs("mine", torch.zeros(4, 10), 4)
    message = str(info.value)
    assert "\n" not in message
    assert message == (
        "model mine gives outputs of shape (B, 10) but the data has 3 classes, which needs (B, 3); "
        "change its last layer"
    )
    with pytest.raises(UserError, match="returns a tuple"):
        task.check_outputs("mine", (torch.zeros(4, 3),), 4)


# ------------------------------------------------------------------ regression


def test_regression_scales_targets_and_unscales_predictions():
    task = task_for(VALUES)
    assert isinstance(task, Regression) and task.target_scale == (10.0, 2.0)
    y = torch.tensor([10.0, 12.0, 6.0])
    assert task.target(y).view(-1).tolist() == [0.0, 1.0, -2.0]
    out = torch.tensor([[0.5], [1.0], [-1.0]])
    assert torch.equal(task.loss(out, y), F.mse_loss(out, task.target(y)))
    assert torch.equal(task.loss(out.view(-1), y), task.loss(out, y))  # (N,) outputs read as (N, 1)
    assert task.values(out).tolist() == [11.0, 12.0, 8.0]
    assert task.results(out)[0] == {"value": 11.0}
    assert task.describe_outputs()["target_std"] == 2.0


def test_regression_monitor_metrics_and_shapes():
    task = task_for(VALUES)
    assert task.monitor_for("auto") == "val_loss" and task.mode("val_r2") == "max"
    with pytest.raises(UserError, match="val_acc does not apply to a regression task"):
        task.monitor_for("val_acc")
    result = _sums(task, torch.tensor([[0.5], [1.0]]), torch.tensor([10.0, 14.0]))
    assert result["mae"] == pytest.approx(1.5) and result["rmse"] == pytest.approx((5 / 2) ** 0.5)
    task.check_outputs("net", torch.zeros(2, 1), 2)
    task.check_outputs("net", torch.zeros(2), 2)
    with pytest.raises(
        UserError,
        match=r"model net gives outputs of shape \(B, 3\) but regression needs 1 value\(s\) per sample, \(B, 1\)",
    ):
        task.check_outputs("net", torch.zeros(2, 3), 2)


def test_a_task_that_is_not_known_is_a_user_error():
    with pytest.raises(UserError, match="task 'ranking' is not one of"):
        task_for(Signature("ranking", "vector", [4]))


# ------------------------------------------------------------------ multi-label


def test_multilabel_loss_activation_and_threshold():
    task = task_for(LABELS)
    assert isinstance(task, MultiLabel)
    out = torch.tensor([[2.0, -1.0, 0.1], [-3.0, 0.0, 4.0]])
    y = torch.tensor([[1, 0, 1], [0, 1, 1]])
    assert torch.equal(task.loss(out, y), F.binary_cross_entropy_with_logits(out, y.float()))
    assert torch.allclose(task.probabilities(out), out.sigmoid())
    assert task.predictions(out).tolist() == [[1, 0, 1], [0, 0, 1]]  # sigmoid(0) = 0.5 is not over 0.5
    assert task.results(out)[0]["labels"] == ["red", "big"]
    assert task.monitor_for("auto") == "val_f1" and task.mode("val_f1") == "max"


def test_multilabel_metrics():
    task = task_for(LABELS)
    out = torch.tensor([[2.0, -1.0, 0.1], [-3.0, 0.0, 4.0]])
    y = torch.tensor([[1, 0, 1], [0, 1, 1]])
    result = _sums(task, out, y)
    # predicted [[1,0,1],[0,0,1]]: tp 3, fp 0, fn 1 -> micro F1 6/7; one row exactly right
    assert result["f1"] == pytest.approx(6 / 7) and result["acc"] == pytest.approx(0.5)
    assert result["macro_f1"] == pytest.approx((1 + 0 + 1) / 3)


# ------------------------------------------------------------------ the trainer asks the Task


class LogSoftmaxNet(nn.Module):
    """A user's model in seed 002's style: log_softmax outputs, and no `outputs_log_probs` mark."""

    def __init__(self, features: int, classes: int):
        super().__init__()
        self.fc = nn.Linear(features, classes)

    def forward(self, x):
        return torch.log_softmax(self.fc(x), dim=1)


def _fit(tmp_path, model):
    from kindling import data as data_mod
    from kindling.train.settle import settle
    from kindling.train.trainer import Trainer

    cfg = RunConfig()
    cfg.data.name, cfg.model.name = "wine", "mine"
    cfg.train.epochs, cfg.train.threads = 1, 1
    data = data_mod.build(cfg.data, quiet=True)
    cfg, _ = settle(cfg, data, model_given=True)  # the Trainer takes a settled config
    trainer = Trainer(cfg, tmp_path / "run", echo=lambda *a: None)
    return trainer, trainer.fit(model, data), data


def test_the_trainer_refuses_a_wrong_output_shape_before_training(tmp_path):
    with pytest.raises(
        UserError, match=r"model mine gives outputs of shape \(B, 10\) but the data has 3 classes"
    ):
        _fit(tmp_path, nn.Linear(13, 10))
    assert not (tmp_path / "run" / "checkpoints").exists()


def test_the_trainer_detects_log_probabilities_and_the_bundle_keeps_them(tmp_path):
    trainer, summary, data = _fit(tmp_path, LogSoftmaxNet(13, 3))
    assert trainer.task.convention == "log_probs" and isinstance(trainer.task.loss_fn, nn.NLLLoss)
    assert trainer.monitor == "val_loss" and summary["best"] is not None  # wine: a small validation split
    meta = json.loads((tmp_path / "run" / "best" / "bundle.json").read_text())
    assert meta["metrics"]["outputs"] == "log_probs"
    assert "outputs_log_probs" not in vars(trainer.model)  # detected, not marked on the model


def test_regression_trains_on_the_small_split_monitor(tmp_path):
    """`kindling train --data csv:temps.csv --target actual` with a model of the user's picks val_mae (a
    validation split of a few rows), not classification's val_acc."""
    import yaml

    from kindling.data.tables.synth import temps_frame
    from kindling_testing import train_run

    csv = tmp_path / "temps.csv"
    temps_frame(days=60, seed=3).to_csv(csv, index=False)
    run = train_run(
        tmp_path / "run", "--data", f"csv:{csv}", "--target", "actual", "--model", "mlp", "--epochs", "1"
    )
    saved = yaml.safe_load((run / "config.yaml").read_text())
    assert saved["train"]["monitor"] == "val_mae"
    assert json.loads((run / "best" / "bundle.json").read_text())["metrics"]["monitor"] == "val_mae"


# ------------------------------------------------------------------ the input kinds


def test_image_inputs_scale_and_normalise_per_channel():
    import numpy as np

    from kindling.task import inputs_for

    sig = Signature("classification", "image", [2, 2, 2], ["a", "b"], mean=[0.5, 0.25], std=[0.5, 0.25])
    x = torch.randint(0, 256, (3, 2, 2, 2), dtype=torch.uint8)
    got = inputs_for(sig).preprocess()(x)
    mean, std = torch.tensor([0.5, 0.25]).view(1, -1, 1, 1), torch.tensor([0.5, 0.25]).view(1, -1, 1, 1)
    assert torch.allclose(got, (x.float() / 255 - mean) / std, atol=1e-6)
    described = task_for(sig).inputs.describe()
    assert described["layout"] == "NCHW" and described["formula"] == "input = (x * scale - mean) / std"
    raw, lengths = inputs_for(sig).random_batch(4, torch.Generator().manual_seed(0))
    assert raw.dtype == torch.uint8 and list(raw.shape) == [4, 2, 2, 2] and lengths is None
    stacked, _ = inputs_for(sig).collate([np.zeros((2, 2, 2), np.uint8)] * 3)
    assert stacked.shape == (3, 2, 2, 2)


def test_vector_and_text_inputs():
    from kindling.task import inputs_for

    sig = Signature("regression", "vector", [2], mean=[1.0, 2.0], std=[2.0, 4.0])
    x = torch.tensor([[3.0, 6.0]])
    assert inputs_for(sig).preprocess()(x).tolist() == [[1.0, 1.0]]
    assert inputs_for(sig).describe()["formula"] == "input = (x - mean) / std"
    text = Signature("classification", "text", [5], ["neg", "pos"], extras={"vocab": ["<pad>", "a", "b"]})
    tokens = torch.tensor([[1, 2, 0, 0, 0]])
    assert torch.equal(inputs_for(text).preprocess()(tokens), tokens)
    assert inputs_for(text).dtype == "int64" and inputs_for(text).describe() == {"kind": "text"}
    raw, lengths = inputs_for(text).random_batch(3, torch.Generator().manual_seed(0))
    assert raw.dtype == torch.int64 and int(raw.max()) < 3 and lengths.tolist() == [5, 5, 5]


def test_one_class_outputs_are_never_read_as_log_probabilities():
    one = Signature("classification", "vector", [4], ["only"])
    assert task_for(one).detect_convention(torch.zeros(4, 1)) == "logits"


def test_a_model_that_does_not_fit_the_input_is_one_line_before_training(tmp_path):
    with pytest.raises(
        UserError, match=r"model mine fails on a batch of this data's shape \(B, 13\): RuntimeError"
    ):
        _fit(tmp_path, nn.Linear(7, 3))


def test_the_mark_wins_over_what_a_batch_looks_like():
    logp = torch.log_softmax(torch.randn(4, 3), 1)
    marked = nn.Linear(4, 3)
    marked.outputs_log_probs = False
    assert task_for(CLASSES, marked).settled(marked, logp).convention == "logits"
    assert task_for(CLASSES).settled(nn.Linear(4, 3), logp).convention == "log_probs"


# ------------------------------------------------------------------ what the report draws from


def test_per_sample_results_of_classification_are_cross_entropy_and_the_chosen_probability():
    out, y = torch.tensor([[2.0, 0.0, -1.0], [0.0, 3.0, 0.0]]), torch.tensor([0, 2])
    pred, loss, p_pred = task_for(CLASSES).per_sample(out, y)
    assert pred.tolist() == [0, 1]
    assert torch.allclose(loss, F.cross_entropy(out, y, reduction="none"))
    assert torch.allclose(p_pred, torch.softmax(out, 1).max(1).values)
    logp = torch.log_softmax(out, 1)  # a log_softmax head gives the same numbers
    same = task_for(CLASSES, convention="log_probs").per_sample(logp, y)
    assert all(torch.allclose(a, b) for a, b in zip(same, (pred, loss, p_pred)))


def test_per_sample_results_of_regression_and_multilabel():
    value, loss, p_pred = task_for(VALUES).per_sample(
        torch.tensor([[0.5], [-1.0]]), torch.tensor([10.0, 9.0])
    )
    assert value.tolist() == [11.0, 8.0] and loss.tolist() == [1.0, 1.0] and p_pred is None
    out, y = torch.tensor([[2.0, -2.0, 0.5]]), torch.tensor([[1, 0, 0]])
    pred, loss, p_pred = task_for(LABELS).per_sample(out, y)
    assert pred.tolist() == [[1, 0, 1]] and p_pred is None
    assert loss.tolist() == pytest.approx([float(F.binary_cross_entropy_with_logits(out, y.float()))])


def test_regression_values_stay_float64_when_the_outputs_are():
    """The report's table rows predict in float64, as their actual values are."""
    out = torch.tensor([[0.1], [0.2]], dtype=torch.float64)
    values = task_for(VALUES).values(out)
    assert values.dtype == torch.float64 and values.tolist() == [0.1 * 2.0 + 10.0, 0.2 * 2.0 + 10.0]
    assert task_for(VALUES).values(out.half()).dtype == torch.float32


def test_each_task_names_the_report_views_and_whether_targets_are_classes():
    assert task_for(CLASSES).report_views[:2] == ("confusion matrix", "per-class accuracy")
    assert task_for(VALUES).report_views == ("regression",)
    assert task_for(LABELS).report_views == ("per-label scores", "label grid", "label top losses")
    assert task_for(CLASSES).class_targets and not task_for(VALUES).class_targets
    assert not task_for(LABELS).class_targets


def test_each_input_kind_says_how_its_samples_arrive():
    from kindling.task import inputs_for

    image = inputs_for(Signature("classification", "image", [1, 2, 2], ["a", "b"]))
    text = inputs_for(Signature("classification", "text", [5], ["a", "b"]))
    rows = inputs_for(CLASSES)
    assert (image.pictures, image.json_field) == (True, None)
    assert (text.text_lines, text.json_field, rows.json_field) == (True, "texts", "rows")
    x, lengths = image.blank_batch(3)
    assert x.shape == (3, 1, 2, 2) and str(x.dtype) == "uint8" and lengths is None
    x, lengths = text.blank_batch(2)
    assert x.shape == (2, 5) and str(x.dtype) == "int64" and lengths.tolist() == [5, 5]
    assert str(rows.blank_batch(1)[0].dtype) == "float32"


# ------------------------------------------------------------------ a user's model, checked when built


def _check(model, sig=CLASSES):
    from kindling.models.common import forward
    from kindling.task.probe import check_user_model

    check_user_model(task_for(sig), model, "'mine.py:Net'", forward)
    return model


def test_a_user_model_with_log_softmax_outputs_is_marked_and_one_with_logits_is_not():
    marked = _check(nn.Sequential(nn.Linear(4, 3), nn.LogSoftmax(1)))
    assert marked.outputs_log_probs and task_for(CLASSES, marked).convention == "log_probs"
    assert "outputs_log_probs" not in vars(_check(nn.Linear(4, 3)))
    assert "outputs_log_probs" not in vars(_check(nn.Linear(4, 1), VALUES))


def test_a_user_model_with_probabilities_nan_or_a_wrong_shape_is_refused():
    with pytest.raises(UserError, match="'mine.py:Net' returns probabilities"):
        _check(nn.Sequential(nn.Linear(4, 3), nn.Softmax(1)))
    nan = nn.Linear(4, 3)
    nn.init.constant_(nan.bias, float("nan"))
    with pytest.raises(UserError, match="gives NaN or infinite outputs"):
        _check(nan)
    with pytest.raises(UserError, match=r"gives outputs of shape \(B, 2\) but the data has 3 classes"):
        _check(nn.Linear(4, 2))
    with pytest.raises(UserError, match=r"fails on a batch of this data's shape \(B, 4\): RuntimeError"):
        _check(nn.Linear(7, 3))


def test_the_probe_leaves_the_model_in_training_mode_and_the_random_stream_alone():
    model = nn.Sequential(nn.Linear(4, 3), nn.Dropout(0.5))
    torch.manual_seed(1)
    before = torch.random.get_rng_state()
    _check(model)
    assert model.training and torch.equal(torch.random.get_rng_state(), before)
