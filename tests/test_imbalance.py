"""Imbalanced classes, the parts that need no training: the class weights in the loss (computed by hand
on a tiny case), the weights files, the threshold chosen to maximise balanced accuracy, and every metric
evaluate gives under imbalance against scikit-learn's."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
import torch
from sklearn import metrics as skm

from kindling.data.signature import Signature
from kindling.errors import UserError
from kindling.evaluate.evaluation import Evaluation
from kindling.task import task_for
from kindling.task.imbalance import advice, auto_weights, class_weights, read_weights
from kindling.task.threshold import (
    check_decision,
    choose_threshold,
    confusion_scores,
    imbalance_metrics,
    onnx_with_decision,
)


def _sig(names):
    return Signature("classification", "vector", [3], list(names))


# ---------------------------------------------------------------- the loss


def test_weighted_loss_is_the_weighted_mean_computed_by_hand():
    """Three samples, two classes weighing 1 and 3: sum_i w_{y_i} * (-log softmax(out_i)[y_i]) / sum_i w_{y_i}."""
    out = torch.tensor([[2.0, 0.0], [0.5, 1.5], [1.0, 1.0]])
    y = torch.tensor([0, 1, 1])
    weights = [1.0, 3.0]

    def nll(row, target):
        return -(row[target] - math.log(sum(math.exp(v) for v in row)))

    rows = out.tolist()
    by_hand = sum(weights[t] * nll(r, t) for r, t in zip(rows, y.tolist())) / sum(
        weights[t] for t in y.tolist()
    )
    plain = sum(nll(r, t) for r, t in zip(rows, y.tolist())) / 3
    task = task_for(_sig("ab"), class_weights=weights)
    assert task.loss(out, y).item() == pytest.approx(by_hand, rel=1e-6)
    assert task_for(_sig("ab")).loss(out, y).item() == pytest.approx(plain, rel=1e-6)
    assert by_hand != pytest.approx(plain, rel=1e-3)  # the weights change it
    # the same weights with a log_softmax head (NLL), the convention kept when the task is settled
    log_probs = task.with_convention("log_probs")
    assert log_probs.class_weights == weights
    assert log_probs.loss(torch.log_softmax(out, 1), y).item() == pytest.approx(by_hand, rel=1e-6)


def test_auto_weights_are_inverse_square_root_frequency_averaging_one_per_sample():
    counts = [90, 10, 0]
    weights = auto_weights(counts)
    raw = [91**-0.5, 11**-0.5, 1.0]
    scale = 100 / (90 * raw[0] + 10 * raw[1])
    assert weights == pytest.approx([r * scale for r in raw])
    assert sum(n * w for n, w in zip(counts, weights)) == pytest.approx(100)
    assert weights[1] / weights[0] == pytest.approx(math.sqrt(91 / 11))  # tempered: 2.9x, not 9x
    assert class_weights("none", ["a", "b"], [5, 5]) is None


# ---------------------------------------------------------------- weights files


@pytest.mark.parametrize(
    ("name", "text"),
    [
        ("w.json", '{"spam": 4, "ham": 0.5}'),
        ("w.yaml", "spam: 4\nham: 0.5\n"),
        ("w.csv", "class,weight\nspam,4\nham,0.5\n"),
        ("w.tsv", "spam\t4\nham\t0.5\n"),
    ],
)
def test_a_weights_file_maps_class_names_to_weights(tmp_path, name, text):
    path = tmp_path / name
    path.write_text(text)
    assert read_weights(path, ["eggs", "ham", "spam"]) == [1.0, 0.5, 4.0]  # eggs: not listed, weighs 1


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ('{"spma": 4}', "class 'spma' is not one of the data's classes (did you mean 'spam'?)"),
        ('{"spam": -1}', "the weight of class 'spam' is -1; a weight must be a finite number >= 0"),
        ('{"spam": "lots"}', "the weight of class 'spam' is 'lots'"),
        ('{"spam": .nan}', "the weight of class 'spam' is nan"),
        ('{"spam": 0, "ham": 0}', "every class weighs 0"),
        ("[4, 1]", "holds a list, not a mapping"),
        ("", "names no class"),
        ("{spam: [", "is not valid JSON or YAML"),
    ],
)
def test_a_bad_weights_file_is_one_line_naming_it(tmp_path, text, fragment):
    path = tmp_path / "w.yaml"
    path.write_text(text)
    with pytest.raises(UserError, match=None) as exc:
        read_weights(path, ["ham", "spam"])
    assert fragment in str(exc.value) and str(path) in str(exc.value)
    assert "\n" not in str(exc.value)


def test_a_csv_line_of_three_fields_names_its_line(tmp_path):
    path = tmp_path / "w.csv"
    path.write_text("spam,4\nham,1,2\n")
    with pytest.raises(UserError, match=r"w\.csv:2: 3 fields"):
        read_weights(path, ["ham", "spam"])


def test_advice_names_the_flags_only_when_a_class_is_under_a_tenth():
    names = ["ham", "spam"]
    assert advice([100, 11], names) is None  # 11 of 100: not under a tenth
    line = advice([100, 9], names)
    assert "smallest class (spam, 9 train samples)" in line and "(ham, 100)" in line
    assert "--class-weights auto or --sampler balanced and --threshold auto" in line
    assert "--threshold" not in advice([100, 9, 50], ["a", "b", "c"])  # three classes: no threshold


# ---------------------------------------------------------------- the threshold


def _balanced(y, scores, t):
    return skm.balanced_accuracy_score(y, (scores >= t).astype(int))


def test_the_chosen_threshold_maximises_balanced_accuracy():
    rng = np.random.default_rng(0)
    y = (rng.random(400) < 0.1).astype(int)  # 10% positives
    scores = np.clip(0.15 + 0.3 * y + rng.normal(0, 0.12, 400), 0, 1)  # positives rarely pass 0.5
    t, score = choose_threshold(scores, y)
    candidates = np.unique(np.concatenate([scores, [0.0, 1.0]]))
    best = max(_balanced(y, scores, c) for c in candidates)
    assert score == pytest.approx(best) and _balanced(y, scores, t) == pytest.approx(best)
    assert _balanced(y, scores, t) > _balanced(y, scores, 0.5) + 0.1  # argmax misses most positives
    assert 0 < t < 0.5 and not np.any(scores == t)  # between two scores, never on one


def test_a_threshold_between_perfectly_separated_scores_is_halfway_and_one_class_gives_none():
    y = np.array([0, 0, 0, 1])
    t, score = choose_threshold(np.array([0.1, 0.2, 0.3, 0.9]), y)
    assert t == pytest.approx(0.6) and score == 1.0
    assert choose_threshold(np.array([0.1, 0.2]), np.array([1, 1])) is None


@pytest.mark.parametrize("decision", [{"threshold": 1.5}, {"threshold": "0.3"}, {"threshold": None}, [0.3]])
def test_a_damaged_threshold_in_a_bundle_is_one_line(decision):
    with pytest.raises(UserError, match="field 'decision.threshold'"):
        check_decision(decision, "best/model.safetensors")
    with pytest.raises(UserError, match="is for two classes, the model has 3"):
        check_decision({"threshold": 0.3}, "best/model.safetensors", num_classes=3)


def test_the_threshold_decides_predictions_results_and_the_export_description():
    task = task_for(_sig(["ham", "spam"]), threshold=0.2)
    out = torch.log(torch.tensor([[0.7, 0.3], [0.9, 0.1]]))
    assert task.predictions(out).tolist() == [1, 0]  # 0.3 >= 0.2: spam, though ham is likelier
    first = task.results(out, top_k=2)[0]
    assert first["label_name"] == "spam" and first["probability"] == pytest.approx(0.3)
    assert first["top_k"][0]["label_name"] == "ham" and first["threshold"] == 0.2  # top_k: by probability
    assert task.describe_outputs()["threshold"] == 0.2
    assert task_for(_sig(["ham", "spam"])).predictions(out).tolist() == [0, 0]


def test_the_onnx_file_carries_the_decision_in_its_metadata_props():
    onnx = pytest.importorskip("onnx")
    from onnx import TensorProto, helper

    graph = helper.make_graph(
        [helper.make_node("Identity", ["x"], ["y"])],
        "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 2])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 2])],
    )
    data = helper.make_model(graph).SerializeToString()
    assert onnx_with_decision(data, None) == data
    decision = {"threshold": 0.25, "positive": "spam", "how": "auto"}
    props = {p.key: p.value for p in onnx.load_from_string(onnx_with_decision(data, decision)).metadata_props}
    assert props["kindling.threshold"] == "0.25" and props["kindling.positive_class"] == "spam"


# ---------------------------------------------------------------- evaluate's metrics against scikit-learn


def _evaluate(names, logits, y, threshold=None, batch=7):
    task = task_for(_sig(names), threshold=threshold)
    evaluation = Evaluation(None, _sig(names), task=task)
    for lo in range(0, len(y), batch):
        evaluation.update(logits[lo : lo + batch], y[lo : lo + batch])
    return evaluation.result("test")


@pytest.mark.parametrize("threshold", [None, 0.3])
def test_two_class_metrics_equal_scikit_learns(threshold):
    gen = torch.Generator().manual_seed(1)
    y = (torch.rand(60, generator=gen) < 0.2).long()
    logits = torch.randn(60, 2, generator=gen) + torch.stack([1 - y, y], 1) * 1.2
    result = _evaluate(["ham", "spam"], logits, y, threshold)
    p1 = torch.softmax(logits, 1)[:, 1].numpy()
    pred = logits.argmax(1).numpy() if threshold is None else (p1 >= threshold).astype(int)
    truth = y.numpy()
    assert result["accuracy"] == pytest.approx(skm.accuracy_score(truth, pred))
    assert result["balanced_accuracy"] == pytest.approx(skm.balanced_accuracy_score(truth, pred))
    assert result["macro_f1"] == pytest.approx(skm.f1_score(truth, pred, average="macro"))
    precision, recall, _, _ = skm.precision_recall_fscore_support(truth, pred, zero_division=0)
    for i, name in enumerate(["ham", "spam"]):
        assert result["report"][name]["precision"] == pytest.approx(precision[i])
        assert result["report"][name]["recall"] == pytest.approx(recall[i])
    assert result["roc_auc"] == pytest.approx(skm.roc_auc_score(truth, p1))
    assert result["pr_auc"] == pytest.approx(skm.average_precision_score(truth, p1))
    assert result.get("threshold") == threshold
    assert confusion_scores(result["confusion_matrix"]) == pytest.approx(
        {"balanced_accuracy": result["balanced_accuracy"], "macro_f1": result["macro_f1"]}
    )


def test_many_class_metrics_equal_scikit_learns_and_have_no_curves():
    gen = torch.Generator().manual_seed(2)
    y = torch.cat([torch.zeros(40), torch.ones(15), torch.full((5,), 2), torch.full((3,), 3)]).long()
    logits = torch.randn(len(y), 4, generator=gen) + torch.nn.functional.one_hot(y, 4) * 1.5
    result = _evaluate(list("abcd"), logits, y)
    pred, truth = logits.argmax(1).numpy(), y.numpy()
    assert result["balanced_accuracy"] == pytest.approx(skm.balanced_accuracy_score(truth, pred))
    f1 = skm.f1_score(truth, pred, average="macro", labels=[0, 1, 2, 3], zero_division=0)
    assert result["macro_f1"] == pytest.approx(f1)
    assert "roc_auc" not in result and "pr_auc" not in result and "threshold" not in result


@pytest.mark.parametrize("seed", range(4))
def test_balanced_accuracy_is_scikit_learns_when_a_predicted_class_is_absent_from_the_truth(seed):
    rng = np.random.default_rng(seed)
    truth = rng.choice([0, 2, 3], size=50, p=[0.7, 0.2, 0.1])  # class 1 never true, sometimes predicted
    pred = np.where(rng.random(50) < 0.6, truth, rng.integers(0, 4, size=50))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # scikit-learn warns about class 1
        expected = skm.balanced_accuracy_score(truth, pred)
    assert imbalance_metrics(truth, pred, None, 4)["balanced_accuracy"] == pytest.approx(expected)
