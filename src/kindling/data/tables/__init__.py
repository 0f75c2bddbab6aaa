"""Tables: CSV / TSV / Parquet regression and classification (seed 003's temperature forecast).

The public functions below are what prediction and serving call; they import pandas lazily so that
importing this package (e.g. for its training callback) costs nothing on the image and text paths.

    frame = read_table("new.csv")                     # same detection rules as training
    x = encode_records(sig, frame)                    # float32 (N, F) with the fitted encoders
    out = prediction_frame(sig, frame, results)       # the rows + prediction (+ class probabilities)
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from kindling.errors import UserError

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

    from kindling.data.signature import Signature


def read_table(path: str | Path, encoding: str = "auto", delimiter: str = "auto") -> pd.DataFrame:
    """A CSV / TSV / Parquet file -> DataFrame; a bad file is a one-line UserError saying what to pass."""
    from kindling.data.tables.readers import read_table as read  # lazy: pandas

    return read(path, encoding, delimiter)


def encode_records(sig: Signature, frame_or_records: Any) -> np.ndarray:
    """Rows (DataFrame, list of dicts or one dict) -> float32 (N, F) with the encoders fitted in training.

    Unseen category -> all-zero one-hot / the unknown embedding row; missing value -> the training
    median (or refused if the model was trained with data.missing=refuse); a missing column raises a
    UserError naming it; extra columns are ignored.
    """
    from kindling.data.tables.encoders import transform  # lazy: numpy
    from kindling.data.tables.output import to_frame  # lazy: numpy

    _check_tabular(sig)
    return transform(sig.extras, to_frame(frame_or_records))


def prediction_frame(sig: Signature, frame: Any, results: Any) -> pd.DataFrame:
    """The input rows plus a `prediction` column (and `prob_<class>` columns for classification)."""
    from kindling.data.tables.output import prediction_frame as build  # lazy: numpy

    _check_tabular(sig)
    return build(sig, frame, results)


def predict_frame(predictor: Any, frame_or_records: Any) -> pd.DataFrame:
    """Predictor + rows -> prediction_frame(...): encode, forward, and attach the predictions."""
    from kindling.data.tables.output import predict_frame as run  # lazy: numpy

    _check_tabular(predictor.sig)
    return run(predictor, frame_or_records)


def is_tabular(sig: Signature) -> bool:
    return sig.input_kind == "tabular" and "encoders" in sig.extras


def _check_tabular(sig: Signature) -> None:

    if not is_tabular(sig):
        raise UserError(
            f"this model takes {sig.input_kind} input, not table rows; pass the kind of input it was trained on"
        )


__all__ = ["read_table", "encode_records", "prediction_frame", "predict_frame", "is_tabular"]
