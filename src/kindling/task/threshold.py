"""The decision threshold of a two-class model, and the metrics that mean something under imbalance.

    t, val_score = choose_threshold(scores, y)         # scores: p(second class) on val
    meta["decision"] = decision_record(t, "auto", sig, ...)   # kept in the Bundle's header
    imbalance_metrics(y, pred, scores, k)              # balanced accuracy, ROC-AUC, PR-AUC (scikit-learn)

A two-class model predicts its second class (`class_names[1]`, the positive class) when the probability
of it is >= the threshold, else the first; without one, the larger probability wins (0.5). `auto` picks
the threshold that maximises balanced accuracy on the validation split (Youden's J = TPR - FPR on the ROC
curve, the same point). Why balanced accuracy rather than F1: it treats both classes alike, so it needs no
choice of which class is positive and does not move when the class names are swapped, and it is what an
imbalanced problem's headline number is here (evaluate, the report, the benchmarks); F1 of the rare class
would reward predicting it eagerly and ignores the true negatives. The threshold is placed halfway between
the two validation scores around the best cut (no validation decision changes, and the margin is as wide
as the data allows); among equally good cuts the one nearest 0.5 wins. Training metrics (val_acc ...) are
at argmax; the Bundle's threshold is used by evaluate, predict, serve, the report and the exported model's
description. torch is not imported here; scikit-learn only inside the functions.
"""

from __future__ import annotations

import json

import numpy as np

from kindling.errors import UserError

HOW = "auto: maximises balanced accuracy on val"


def choose_threshold(scores: np.ndarray, y: np.ndarray) -> tuple[float, float] | None:
    """(threshold, balanced accuracy there) that maximises balanced accuracy of `scores` (the positive
    class's probability) against `y` (0/1); None when `y` holds one class only (nothing to balance)."""
    from sklearn.metrics import roc_curve  # lazy: sklearn

    scores, y = np.asarray(scores, dtype=np.float64), np.asarray(y).astype(np.int64)
    if len(np.unique(y)) < 2:
        return None
    fpr, tpr, cuts = roc_curve(y, scores, drop_intermediate=False)  # cuts: decreasing, cuts[0] = inf
    youden = tpr - fpr
    best = np.flatnonzero(youden >= youden.max() - 1e-12)
    lows = np.append(cuts[1:], 0.0)  # the next lower score after each cut (0 below the lowest)
    highs = np.minimum(cuts, 1.0)
    middles = np.clip((highs[best] + lows[best]) / 2, 0.0, 1.0)
    pick = int(np.argmin(np.abs(middles - 0.5)))
    return float(middles[pick]), float((youden[best[pick]] + 1) / 2)


def decision_record(threshold: float, how: str, class_names: list[str], **facts) -> dict:
    """What the Bundle's header keeps (`meta["decision"]`), read by `kindling.task.task_of_bundle`."""
    return {
        "threshold": float(threshold),
        "positive": class_names[1],
        "rule": f"{class_names[1]} when its probability >= threshold, else {class_names[0]}",
        "how": how,
        **facts,
    }


def check_decision(decision, file, num_classes: int = 2) -> float | None:
    """The header's threshold: a number in [0, 1] of a two-class model, else one line naming the field
    (a Bundle is user input: `kindling.bundle.check` calls this when any reader loads one)."""
    if decision is None:
        return None
    value = decision.get("threshold") if isinstance(decision, dict) else None
    damaged = "the bundle is damaged: retrain or restore it"
    if not isinstance(value, (int, float)) or isinstance(value, bool) or not 0.0 <= float(value) <= 1.0:
        raise UserError(
            f"{file}: field 'decision.threshold' is {str(value)[:40]}; it must be a number in [0, 1]; {damaged}"
        )
    if num_classes != 2:
        raise UserError(
            f"{file}: field 'decision' is for two classes, the model has {num_classes}; {damaged}"
        )
    return float(value)


def confusion_scores(confusion: list[list[int]]) -> dict:
    """balanced_accuracy (mean recall over the classes that have samples, as scikit-learn's
    `balanced_accuracy_score`) and macro_f1 (over every class, 0 where undefined) from a confusion matrix
    (rows: truth): what the Bundle keeps of the best epoch's validation, beside its accuracy."""
    k = len(confusion)
    truth = [sum(row) for row in confusion]
    said = [sum(confusion[t][p] for t in range(k)) for p in range(k)]
    recalls = [confusion[i][i] / truth[i] for i in range(k) if truth[i]]
    f1 = [2 * confusion[i][i] / (truth[i] + said[i]) if truth[i] + said[i] else 0.0 for i in range(k)]
    return {
        "balanced_accuracy": sum(recalls) / len(recalls) if recalls else 0.0,
        "macro_f1": sum(f1) / k if k else 0.0,
    }


def imbalance_metrics(y: np.ndarray, pred: np.ndarray, scores: np.ndarray | None, num_classes: int) -> dict:
    """balanced_accuracy (the mean recall over the classes y holds, as scikit-learn's
    `balanced_accuracy_score`), and for two classes with both present ROC-AUC and PR-AUC (average
    precision, scikit-learn) of the positive class's probability: threshold-free, the ranking's quality.
    The balanced accuracy is `confusion_scores`' own; scikit-learn (1.4 s to import) is loaded for the
    curves only, so evaluating a many-class model does not wait for it."""
    if len(y) == 0:
        return {}
    k = max(num_classes, int(max(y.max(), pred.max())) + 1)
    confusion = np.bincount(y * k + pred, minlength=k * k).reshape(k, k).tolist()
    out = {"balanced_accuracy": float(confusion_scores(confusion)["balanced_accuracy"])}
    if num_classes == 2 and scores is not None and len(np.unique(y)) == 2:
        from sklearn.metrics import average_precision_score, roc_auc_score  # lazy: sklearn

        out["roc_auc"] = float(roc_auc_score(y, scores))
        out["pr_auc"] = float(average_precision_score(y, scores))
    return out


def onnx_with_decision(graph: bytes, decision: dict | None) -> bytes:
    """An ONNX model that carries the Bundle's decision in its `metadata_props` (`kindling.threshold`,
    `kindling.positive_class`, `kindling.decision` as JSON), for a reader without kindling's JSON beside
    it; unchanged without a decision."""
    if not decision:
        return graph

    import onnx  # lazy: onnx

    model = onnx.load_from_string(graph)
    props = {
        "kindling.threshold": repr(float(decision["threshold"])),
        "kindling.positive_class": str(decision.get("positive", "")),
        "kindling.decision": json.dumps(decision, sort_keys=True),
    }
    kept = [p for p in model.metadata_props if p.key not in props]
    del model.metadata_props[:]
    model.metadata_props.extend(kept)
    for key, value in props.items():
        model.metadata_props.add(key=key, value=value)
    return model.SerializeToString()
