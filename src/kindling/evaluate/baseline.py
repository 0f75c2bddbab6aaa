"""The classical baseline beside every run: the obvious scikit-learn model, on the same splits.

A network that loses to three lines of scikit-learn is not a model worth keeping, and the user should
know. After training (and with `kindling baseline RUN`) kindling fits, on exactly the run's train split:

- tables: histogram gradient boosting and a linear model (logistic / ridge), the better on validation;
- text: TF-IDF over the run's own tokens (character 1-2-grams for character tokens, word 1-2-grams
  otherwise, as the run's tokeniser chose) with a linear SVM, C chosen on validation;
- images: logistic regression on the images shrunk to at most 16x16 pixels, and (given the network,
  when its passes over the splits fit the time left) on the network's own penultimate features: the
  input of its last linear layer, a linear probe that tells a weak head from weak features,

and scores it on the split `evaluate` reports (test, else val). The time is bounded: candidates are tried
cheapest first and the search stops once `budget_s` is spent (a fitted candidate is always kept).
The splits arrive as tensors and leave as numpy arrays; scikit-learn is imported only here.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from kindling.errors import UserError
from kindling.task import inputs_for, task_for
from kindling.task.inputs import make_preprocess


class BaselineSkipped(Exception):
    """The baseline cannot be fitted (one class in train, over the memory budget ...): say why, go on."""


@dataclass
class Arrays:
    x_train: object
    y_train: np.ndarray
    x_val: object
    y_val: np.ndarray
    x_eval: object
    y_eval: np.ndarray
    eval_split: str
    parts: list  # the train, val and evaluation splits the arrays came from

    def with_features(self, xs: list) -> Arrays:
        return Arrays(xs[0], self.y_train, xs[1], self.y_val, xs[2], self.y_eval, self.eval_split, self.parts)


NETWORK_FEATURES = "logistic regression on the network's features"


def fit_baseline(data, budget_s: float = 60.0, max_features: int = 2_000_000, network=None) -> dict:
    """-> {"model", "split", <metric>, "seconds", "chosen_on", "tried_on_val": {candidate: its validation
    score (accuracy, or minus the MAE)}}; raises BaselineSkipped with the reason.
    `network`: the run's best model (eval mode, CPU), for the linear probe on its features (images)."""
    t0 = time.perf_counter()
    sig = data.signature
    arrays = _arrays(data, sig, max_features)
    task = task_for(sig)
    if task.class_targets and len(np.unique(arrays.y_train)) < 2:
        raise BaselineSkipped("the train split holds a single class")
    if arrays.y_train.ndim == 2 and (arrays.y_train.min(0) == arrays.y_train.max(0)).any():
        raise BaselineSkipped("a label is on every training sample or on none (one-vs-rest needs both)")
    kind = _features_kind(task.inputs)
    tries = [(name, make, lambda: arrays) for name, make in CANDIDATES[(kind, task.name)]]
    if network is not None and kind == "image" and task.name != "regression":
        probe = CANDIDATES[("features", task.name)][0][1]
        tries.append((NETWORK_FEATURES, probe, lambda: _probe_arrays(network, sig, arrays, t0 + budget_s)))
    best, tried = None, {}
    for name, make, features in tries:
        if best is not None and time.perf_counter() - t0 > budget_s:
            break
        xs = features()
        if xs is None:  # the network's passes would not fit the time left
            continue
        model = make()
        model.fit(xs.x_train, xs.y_train)
        score = _score(task, model, xs.x_val, xs.y_val)
        tried[name] = round(score, 4)
        if best is None or score > best[0]:
            best = (score, name, model, xs)
    _, name, model, xs = best
    result = {"model": name, "split": arrays.eval_split, "chosen_on": "val", "tried_on_val": tried}
    result.update(_metrics(task, model, xs.x_eval, xs.y_eval))
    result["seconds"] = round(time.perf_counter() - t0, 3)
    return result


def _score(task, model, x, y) -> float:
    """Higher is better: accuracy, micro-F1 (multi-label), or minus the mean absolute error."""
    pred = model.predict(x)
    if task.class_targets:
        return float((pred == y).mean())
    if task.name == "multilabel":
        return _micro_f1(pred, y)
    return -float(np.abs(pred - y).mean())


def _micro_f1(pred, y) -> float:
    from sklearn.metrics import f1_score  # lazy: loads sklearn

    return float(f1_score(y, pred, average="micro", zero_division=0))


def _metrics(task, model, x, y) -> dict:
    pred = model.predict(x)
    if task.class_targets:
        return {"accuracy": float((pred == y).mean())}
    if task.name == "multilabel":
        from sklearn.metrics import accuracy_score, f1_score  # lazy: loads sklearn

        return {
            "micro_f1": _micro_f1(pred, y),
            "macro_f1": float(f1_score(y, pred, average="macro", zero_division=0)),
            "subset_accuracy": float(accuracy_score(y, pred)),
        }
    err = pred - y
    ss_tot = float(((y - y.mean()) ** 2).sum()) or 1.0
    return {
        "mae": float(np.abs(err).mean()),
        "rmse": float(np.sqrt((err**2).mean())),
        "r2": 1.0 - float((err**2).sum()) / ss_tot,
    }


# ---------------------------------------------------------------- features per input kind


def _arrays(data, sig, max_features: int) -> Arrays:
    if data.train is None or len(data.train) == 0:
        raise BaselineSkipped("the train split is empty")
    eval_name = "test" if data.test is not None and len(data.test) else "val"
    evaluation = data.test if eval_name == "test" else data.val
    val = data.val if data.val is not None and len(data.val) else None
    if evaluation is None or len(evaluation) == 0:
        raise BaselineSkipped("there is no validation or test split to score it on")
    val = val if val is not None else data.train  # no val split: choose on train (the network does too)
    parts = [data.train, val, evaluation]
    kind = _features_kind(inputs_for(sig))
    if kind == "text":
        xs = _text_features(parts, sig, max_features)
    elif kind == "image":
        xs = [_pixels(p.x) for p in parts]
    else:
        xs = [p.x.float().reshape(len(p), -1).numpy() for p in parts]
    ys = [p.y.numpy() for p in parts]
    if task_for(sig).name == "regression":  # values: one float per sample
        ys = [y.astype(np.float64).reshape(len(y), -1)[:, 0] for y in ys]
    return Arrays(xs[0], ys[0], xs[1], ys[1], xs[2], ys[2], eval_name, parts)


def _features_kind(inputs) -> str:
    """The input kind's baseline features: TF-IDF on text, pixels of images, a table's columns."""
    return "text" if inputs.text_lines else "image" if inputs.pictures else "table"


def _pixels(x) -> np.ndarray:
    """uint8 (N, C, H, W) -> (N, C*h*w) floats in [0, 1], shrunk by area averaging to at most 16x16."""
    import torch.nn.functional as F  # lazy: torch

    h, w = x.shape[-2:]
    size = (min(16, h), min(16, w))
    small = F.adaptive_avg_pool2d(x.float(), size) / 255.0
    return small.reshape(len(x), -1).numpy()


def _probe_arrays(network, sig, arrays: Arrays, deadline: float) -> Arrays | None:
    """The input of the network's last nn.Linear for every sample of the three splits (averaged over the
    views one forward makes, e.g. a photo and its mirror image); None when the network has no linear
    layer or its passes over the splits would not end by `deadline` (perf_counter; projected from the
    batches done so far)."""
    import torch  # lazy: torch
    from torch import nn  # lazy: torch

    from kindling.models.common import forward  # lazy: torch

    linear = [m for m in network.modules() if isinstance(m, nn.Linear)]
    if not linear:
        return None
    seen: list = []
    hook = linear[-1].register_forward_pre_hook(lambda _, args: seen.append(args[0].detach().flatten(1)))
    preprocess, started, done = make_preprocess(sig, "cpu"), time.perf_counter(), 0
    total = sum(len(p) for p in arrays.parts)
    xs = []
    try:
        with torch.no_grad():
            for part in arrays.parts:
                rows = []
                for x, _, lengths in part.batches(256):
                    seen.clear()
                    forward(network, preprocess(x), lengths)
                    rows.append(torch.stack(seen).mean(0).float())
                    done += len(x)
                    if started + (time.perf_counter() - started) * total / done > deadline:
                        return None
                xs.append(torch.cat(rows).numpy())
    finally:
        hook.remove()
    return arrays.with_features(xs)


def _text_features(parts, sig, max_features: int) -> list:
    """TF-IDF over each sample's own tokens (ids up to its length), 1-2-grams, fitted on train."""
    from sklearn.feature_extraction.text import TfidfVectorizer  # lazy: sklearn

    docs = [_token_docs(p) for p in parts]
    vectorizer = TfidfVectorizer(
        analyzer=lambda doc: doc, sublinear_tf=True, min_df=1, dtype=np.float32, max_features=max_features
    )
    return [vectorizer.fit_transform(docs[0]), vectorizer.transform(docs[1]), vectorizer.transform(docs[2])]


def _token_docs(split) -> list[list[str]]:
    ids = split.x.numpy()
    lengths = split.lengths.numpy() if split.lengths is not None else [ids.shape[1]] * len(ids)
    docs = []
    for row, n in zip(ids, lengths):
        toks = [str(t) for t in row[: int(n)]]
        docs.append(toks + [f"{a}_{b}" for a, b in zip(toks, toks[1:])])
    return docs


def _candidates():
    from sklearn.ensemble import (  # lazy: sklearn
        HistGradientBoostingClassifier,
        HistGradientBoostingRegressor,
    )
    from sklearn.linear_model import LogisticRegression, Ridge  # lazy: sklearn
    from sklearn.multiclass import OneVsRestClassifier  # lazy: sklearn
    from sklearn.pipeline import make_pipeline  # lazy: sklearn
    from sklearn.preprocessing import StandardScaler  # lazy: sklearn
    from sklearn.svm import LinearSVC  # lazy: sklearn

    def scaled(model):
        return lambda: make_pipeline(StandardScaler(), model())

    return {
        ("table", "classification"): [
            ("logistic regression", scaled(lambda: LogisticRegression(max_iter=2000))),
            ("gradient boosting", lambda: HistGradientBoostingClassifier(random_state=0)),
        ],
        ("table", "regression"): [
            ("ridge regression", scaled(lambda: Ridge(alpha=1.0))),
            ("gradient boosting", lambda: HistGradientBoostingRegressor(random_state=0)),
        ],
        ("text", "classification"): [
            (f"TF-IDF + linear SVM (C={c})", lambda c=c: LinearSVC(C=c)) for c in (0.3, 1.0, 3.0)
        ],
        ("image", "classification"): [
            ("logistic regression on pixels", scaled(lambda: LogisticRegression(max_iter=300, C=0.1)))
        ],
        ("image", "regression"): [("ridge on pixels", scaled(lambda: Ridge(alpha=10.0)))],
        ("features", "classification"): [
            (NETWORK_FEATURES, scaled(lambda: LogisticRegression(max_iter=500, C=0.1)))
        ],
        ("text", "regression"): [("TF-IDF + ridge", lambda: Ridge(alpha=1.0))],
        # multi-label: one binary model per label (one-vs-rest), each label at its own 0.5
        ("table", "multilabel"): [
            (
                "one-vs-rest logistic regression",
                scaled(lambda: OneVsRestClassifier(LogisticRegression(max_iter=2000))),
            )
        ],
        ("text", "multilabel"): [
            (f"TF-IDF + one-vs-rest linear SVM (C={c})", lambda c=c: OneVsRestClassifier(LinearSVC(C=c)))
            for c in (0.3, 1.0, 3.0)
        ],
        ("image", "multilabel"): [
            (
                "one-vs-rest logistic regression on pixels",
                scaled(lambda: OneVsRestClassifier(LogisticRegression(max_iter=300, C=0.1))),
            )
        ],
        ("features", "multilabel"): [
            (NETWORK_FEATURES, scaled(lambda: OneVsRestClassifier(LogisticRegression(max_iter=500, C=0.1))))
        ],
    }


class _Lazy(dict):
    """The candidate table, built (and scikit-learn imported) on first use."""

    def __missing__(self, key):
        self.update(_candidates())
        if key not in self:
            raise UserError(f"no baseline for {key[0]} {key[1]}")
        return self[key]


CANDIDATES = _Lazy()


def headline(result: dict) -> tuple[str, float, bool]:
    """(metric name, value, higher is better) of a baseline or evaluation result."""
    if "accuracy" in result:
        return "accuracy", float(result["accuracy"]), True
    if "micro_f1" in result:
        return "micro_f1", float(result["micro_f1"]), True
    return "mae", float(result["mae"]), False


def compare_line(network: dict, baseline: dict) -> str:
    """One line: the network beside the baseline, and advice when the baseline wins by more than the
    evaluation split's noise: one standard error of the network's accuracy (given its sample count), or
    of the mean of its absolute errors (from its MAE and RMSE: the spread of |error| is sqrt(RMSE² -
    MAE²)). One photo of 450, or 4.12 against 4.14 degrees on 87 days, is not a reason to change."""
    metric, net, higher = headline(network)
    _, base, _ = headline(baseline)
    line = f"baseline ({baseline['model']}) {metric} {base:.4f} vs the network's {net:.4f} on {baseline['split']}"
    wins = base > net + _noise(network) if higher else base < net - _noise(network)
    if wins and baseline["model"] == NETWORK_FEATURES:
        line += "; a linear model on the network's own features does better: its last layer lags, try more epochs (or more weight decay if the val loss rises)"
    elif wins:
        line += f"; the baseline wins: {_advice(baseline['model'])}"
    return line


def _noise(network: dict) -> float:
    """One standard error of the network's headline figure on its evaluation split (0 when unknown)."""
    n = network.get("n")
    if not isinstance(n, int) or n <= 0:
        return 0.0
    share = next((k for k in ("accuracy", "micro_f1") if k in network), None)  # micro-F1: multi-label
    if share is not None:
        acc = float(network[share])
        return (acc * (1 - acc) / n) ** 0.5
    mae, rmse = float(network.get("mae", 0.0)), float(network.get("rmse", 0.0))
    return (max(rmse * rmse - mae * mae, 0.0) / n) ** 0.5


# what a user can do within kindling when a baseline beats the network, by the baseline that won (the
# first key found in its name)
ADVICE = {
    "pixels": "try more epochs (--epochs 60) and augmentation (--augment light)",
    "TF-IDF": "try kindling's linear model over n-grams (--model linear-ngrams), more epochs (--epochs 40) "
    "or more patience (--set train.patience=10)",
    "gradient boosting": "try a wider network (--set model.options.hidden=[256,128]), less weight decay "
    "(lower --set optim.weight_decay=...) or more patience (--set train.patience=50)",
    "regression": "the network overfits where a linear model does not: try kindling's own linear model "
    "(--model linear) or more weight decay (raise --set optim.weight_decay=...)",
}


def _advice(model: str) -> str:
    found = next((advice for key, advice in ADVICE.items() if key in model), None)
    return found or "try more epochs (--epochs), a larger model, or more weight decay if the val loss rises"
