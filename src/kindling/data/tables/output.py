"""Predictions as a table: the input rows plus a prediction column (and class probabilities).

`kindling predict RUN new.csv --output preds.csv` writes what `prediction_frame` returns.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from kindling.data.signature import Signature
from kindling.data.tables.encoders import transform
from kindling.data.tables.readers import read_table
from kindling.errors import UserError


def to_frame(rows: Any) -> pd.DataFrame:
    """DataFrame, list of dicts, one dict (of scalars or of lists), or a table file path -> DataFrame."""
    if isinstance(rows, pd.DataFrame):
        return rows
    if isinstance(rows, (str, Path)):
        return read_table(rows)
    if isinstance(rows, dict):
        if all(np.ndim(v) == 0 for v in rows.values()):
            return pd.DataFrame([rows])
        return pd.DataFrame(rows)
    if isinstance(rows, (list, tuple)):
        if not rows:
            raise UserError("no rows to predict; pass at least one record")
        if not all(isinstance(r, dict) for r in rows):
            raise UserError(
                'table rows must be objects mapping column names to values, e.g. [{"temp_1": 45, ...}]'
            )
        return pd.DataFrame(list(rows))
    raise UserError(
        f"cannot read table rows from a {type(rows).__name__}; pass a DataFrame, a dict or a list of dicts"
    )


def _free_name(frame: pd.DataFrame, name: str) -> str:
    while name in frame.columns:
        name = "predicted_" + name
    return name


def prediction_frame(sig: Signature, frame: Any, results: Any) -> pd.DataFrame:
    """Copy of the rows + `prediction` (value or class name); classification adds `probability` (of the
    predicted class) and `prob_<class>` per class. `results` are Predictor.predict_batch dicts (give
    top_k = number of classes for every probability; classes outside the top k are left empty) or an
    array: (N,) values for regression, (N, C) probabilities for classification."""
    out = to_frame(frame).copy()
    n = len(out)
    if len(results) != n:
        raise UserError(f"{len(results)} predictions for {n} rows; predict every row of the table")
    if sig.task == "multilabel":  # the labels over their thresholds, and every label's probability
        out[_free_name(out, "prediction")] = ["|".join(r["labels"]) for r in results]
        for i, name in enumerate(sig.class_names):
            out[_free_name(out, f"prob_{name}")] = [_label_probability(r, i) for r in results]
        return out
    if sig.task == "regression":
        values = np.asarray(
            [r["value"] for r in results] if _dicts(results) else results, dtype=np.float64
        ).reshape(n)
        out[_free_name(out, "prediction")] = values
        return out
    probs = _probabilities(sig, results, n)
    names = np.asarray(sig.class_names, dtype=object)
    best = np.nanargmax(np.where(np.isnan(probs), -1.0, probs), axis=1)
    if _dicts(results) and n:  # the Predictor's decision (a two-class threshold may pick the smaller one)
        best = np.asarray([int(r["label"]) for r in results])
    out[_free_name(out, "prediction")] = names[best] if n else []
    out[_free_name(out, "probability")] = probs[np.arange(n), best] if n else []
    for i, name in enumerate(sig.class_names):
        out[_free_name(out, f"prob_{name}")] = probs[:, i]
    return out


def _label_probability(result: dict, index: int) -> float:
    """A multi-label result's probability of label `index` (NaN when it is outside the top k)."""
    return next((t["probability"] for t in result["top_k"] if t["label"] == index), float("nan"))


def _dicts(results: Any) -> bool:
    return len(results) > 0 and isinstance(results[0], dict)


def _probabilities(sig: Signature, results: Any, n: int) -> np.ndarray:
    k = len(sig.class_names)
    if not _dicts(results):
        probs = np.asarray(results, dtype=np.float64).reshape(n, -1) if n else np.zeros((0, k))
        if probs.shape[1] != k:
            raise UserError(f"probabilities have {probs.shape[1]} columns but the model has {k} classes")
        return probs
    probs = np.full((n, k), np.nan)
    for row, r in enumerate(results):
        if "probabilities" in r:
            probs[row] = r["probabilities"]
            continue
        for top in r.get("top_k") or [{"label": r["label"], "probability": r["probability"]}]:
            probs[row, int(top["label"])] = top["probability"]
    return probs


def predict_frame(predictor, rows: Any, batch_size: int = 4096) -> pd.DataFrame:
    """Encode the rows with the predictor's fitted encoders, predict, and attach the results."""

    frame = to_frame(rows)
    x = transform(predictor.sig.extras, frame)
    top_k = max(1, len(predictor.sig.class_names))
    results: list[dict] = []
    for lo in range(0, len(x), batch_size):
        results.extend(predictor.predict_batch(x[lo : lo + batch_size], top_k=top_k))
    return prediction_frame(predictor.sig, frame, results)
