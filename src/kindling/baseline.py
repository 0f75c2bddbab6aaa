"""The classical baseline beside every run: the obvious scikit-learn model, on the same splits.

A network that loses to three lines of scikit-learn is not a model worth keeping, and the user should
know. After training (and with `kindling baseline RUN`) kindling fits, on exactly the run's train split:

- tables: histogram gradient boosting and a linear model (logistic / ridge), the better on validation;
- text: TF-IDF over the run's own tokens (character 1-2-grams for character tokens, word 1-2-grams
  otherwise, as the run's tokeniser chose) with a linear SVM, C chosen on validation;
- images: logistic regression on the images shrunk to at most 16x16 pixels,

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


def fit_baseline(data, budget_s: float = 60.0, max_features: int = 2_000_000) -> dict:
    """-> {"model", "split", <metric>, "seconds", "chosen_on"}; raises BaselineSkipped with the reason."""
    t0 = time.perf_counter()
    sig = data.signature
    arrays = _arrays(data, sig, max_features)
    task = task_for(sig)
    if task.class_targets and len(np.unique(arrays.y_train)) < 2:
        raise BaselineSkipped("the train split holds a single class")
    candidates = CANDIDATES[(_features_kind(task.inputs), task.name)]
    best = None
    for name, make in candidates:
        if best is not None and time.perf_counter() - t0 > budget_s:
            break
        model = make()
        model.fit(arrays.x_train, arrays.y_train)
        score = _score(task, model, arrays.x_val, arrays.y_val)
        if best is None or score > best[0]:
            best = (score, name, model)
    _, name, model = best
    result = {"model": name, "split": arrays.eval_split, "chosen_on": "val"}
    result.update(_metrics(task, model, arrays.x_eval, arrays.y_eval))
    result["seconds"] = round(time.perf_counter() - t0, 3)
    return result


def _score(task, model, x, y) -> float:
    """Higher is better: accuracy, or minus the mean absolute error."""
    pred = model.predict(x)
    if task.class_targets:
        return float((pred == y).mean())
    return -float(np.abs(pred - y).mean())


def _metrics(task, model, x, y) -> dict:
    pred = model.predict(x)
    if task.class_targets:
        return {"accuracy": float((pred == y).mean())}
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
    if not task_for(sig).class_targets:  # values: one float per sample
        ys = [y.astype(np.float64).reshape(len(y), -1)[:, 0] for y in ys]
    return Arrays(xs[0], ys[0], xs[1], ys[1], xs[2], ys[2], eval_name)


def _features_kind(inputs) -> str:
    """The input kind's baseline features: TF-IDF on text, pixels of images, a table's columns."""
    return "text" if inputs.text_lines else "image" if inputs.pictures else "table"


def _pixels(x) -> np.ndarray:
    """uint8 (N, C, H, W) -> (N, C*h*w) floats in [0, 1], shrunk by area averaging to at most 16x16."""
    import torch.nn.functional as F

    h, w = x.shape[-2:]
    size = (min(16, h), min(16, w))
    small = F.adaptive_avg_pool2d(x.float(), size) / 255.0
    return small.reshape(len(x), -1).numpy()


def _text_features(parts, sig, max_features: int) -> list:
    """TF-IDF over each sample's own tokens (ids up to its length), 1-2-grams, fitted on train."""
    from sklearn.feature_extraction.text import TfidfVectorizer

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
    from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor
    from sklearn.linear_model import LogisticRegression, Ridge
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler
    from sklearn.svm import LinearSVC

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
        ("text", "regression"): [("TF-IDF + ridge", lambda: Ridge(alpha=1.0))],
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
    return "mae", float(result["mae"]), False


def compare_line(network: dict, baseline: dict) -> str:
    """One line: the network beside the baseline, and advice when the baseline wins."""
    metric, net, higher = headline(network)
    _, base, _ = headline(baseline)
    line = f"baseline ({baseline['model']}) {metric} {base:.4f} vs the network's {net:.4f} on {baseline['split']}"
    wins = base > net if higher else base < net
    if wins:
        line += "; the baseline wins: try more epochs, a larger model, or the baseline itself for this data"
    return line
