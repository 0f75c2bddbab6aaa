"""Fitted tabular encoders: fit on the training rows, then turn any rows into a float32 (N, F) matrix.

The fitted state is plain JSON (it lives in `Signature.extras` and so in the Bundle). One encoder per
feature column, in order:

    {"name": "temp_1", "kind": "numeric", "mean": 62.1, "std": 12.0, "fill": 61.0, "flag": false}
    {"name": "week", "kind": "category", "categories": ["Fri", ...], "flag": false}      # one-hot
    {"name": "shop", "kind": "embed", "categories": [...], "flag": false}                # one index column
    {"name": "Name", "kind": "text", "words": ["mr", "miss", ...], "flag": false}       # a 0/1 per word
    {"name": "date", "kind": "ymd", "sources": ["year", "month", "day"], "mean": [...], ...}

Fallbacks at prediction time (the documented contract of `kindling.data.tables.encode_records`):
- a category unseen in training (or too rare there to be kept) -> an all-zero one-hot row / embedding
  index 0 (the "unknown" row);
- a cell that is not a number in a column typed as numbers with such cells ('?') -> missing;
- a missing value -> the training median (numbers, dates) or the unknown category, plus the column's
  missing flag when training saw missing values there; with data.missing=refuse it is an error;
- a required column absent -> UserError naming it; extra columns are ignored.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from kindling.data.tables.roles import WORD, frequent_words
from kindling.data.tables.schema import Plan, parse_dates
from kindling.errors import UserError, summarise

DATE_PARTS = ["year", "month", "day", "weekday", "season_sin", "season_cos"]
FORMAT = "kindling-tabular/1"


def fit(plan: Plan, train: pd.DataFrame, categorical: str, missing: str) -> dict:
    """Fit every feature column's encoder on the training rows -> the JSON-able extras."""
    encoders = []
    for col in plan.features:
        if col.kind == "numeric":
            coerce = bool(col.options.get("coerce"))
            enc = _fit_numeric(col.name, _numbers(train[col.name], col.name, coerce))
            encoders.append({**enc, "coerce": True} if coerce else enc)
        elif col.kind in ("category", "embed"):
            encoders.append(_fit_category(col.name, col.kind, train[col.name], **col.options))
        elif col.kind == "text":
            encoders.append(_fit_words(col.name, train[col.name], **col.options))
        else:  # date | ymd
            parts = _date_parts(_dates(train, col.kind, col.name, col.sources))
            enc = _fit_numeric(col.name, parts)
            enc.update(kind=col.kind, sources=col.sources or [col.name])
            encoders.append(enc)
    extras = {
        "format": FORMAT,
        "target": plan.target,
        "columns": sorted({s for e in encoders for s in _sources(e)}, key=list(train.columns).index),
        "encoders": encoders,
        "feature_names": feature_names(encoders),
        "missing": missing,
        "categorical": categorical,
        "dropped": {c.name: c.handling for c in plan.columns if c.kind == "dropped"},
        "num_targets": 1,
    }
    extras["embed"] = embed_columns(encoders)
    extras["numbers"] = number_columns(encoders)
    dates = [e for e in encoders if e["kind"] in ("date", "ymd")]
    extras["date_axis"] = {"kind": dates[0]["kind"], "sources": dates[0]["sources"]} if dates else None
    return extras


def transform(extras: dict, frame: pd.DataFrame) -> np.ndarray:
    """Rows -> float32 (N, F) with the fitted encoders. Refuses a missing column, naming it."""
    absent = [c for c in extras["columns"] if c not in frame.columns]
    if absent:  # a table of other columns can lack hundreds: the first few, and how many
        raise UserError(
            f"the input lacks {len(absent)} of the {len(extras['columns'])} columns the model was trained "
            f"on: {summarise(absent, 'columns', limit=3)}; give the rows the training table's columns"
        )
    out = np.zeros((len(frame), len(extras["feature_names"])), dtype=np.float32)
    refuse = extras.get("missing") == "refuse"
    pos = 0
    for enc in extras["encoders"]:
        block = _encode(enc, frame, refuse)
        out[:, pos : pos + block.shape[1]] = block
        pos += block.shape[1]
    return out


# ---------------------------------------------------------------- per kind


def _encode(enc: dict, frame: pd.DataFrame, refuse: bool) -> np.ndarray:
    kind, name = enc["kind"], enc["name"]
    if kind == "numeric":
        values = _numbers(frame[name], name, enc.get("coerce", False)).reshape(-1, 1)
    elif kind in ("date", "ymd"):
        values = _date_parts(_dates(frame, kind, name, enc["sources"], strict=True))
    elif kind == "text":
        return _encode_words(enc, frame[name], refuse)
    else:
        return _encode_category(enc, frame[name], refuse)
    holes = np.isnan(values).any(axis=1)
    if refuse and holes.any():
        row = int(np.flatnonzero(holes)[0]) + 1
        raise UserError(
            f"column '{name}' is missing a value in row {row} and the model was trained with data.missing=refuse"
        )
    values = np.where(np.isnan(values), np.asarray(enc["fill"]), values)
    scaled = (values - np.asarray(enc["mean"])) / np.asarray(enc["std"])
    return np.hstack([scaled, holes[:, None].astype(np.float64)]) if enc["flag"] else scaled


def _fit_numeric(name: str, values: np.ndarray) -> dict:
    """values: (N,) or (N, P); median fill, then mean / std of the filled values."""
    values = values.reshape(len(values), -1)
    holes = np.isnan(values)
    fill = np.nanmedian(values, axis=0) if (~holes).any() else np.zeros(values.shape[1])
    fill = np.where(np.isnan(fill), 0.0, fill)
    filled = np.where(holes, fill, values)
    mean, std = filled.mean(axis=0), filled.std(axis=0)
    std = np.where(std > 1e-12, std, 1.0)
    squeeze = (lambda a: float(a[0])) if values.shape[1] == 1 else (lambda a: [float(v) for v in a])
    return {
        "name": name,
        "kind": "numeric",
        "mean": squeeze(mean),
        "std": squeeze(std),
        "fill": squeeze(fill),
        "flag": bool(holes.any()),
    }


def _fit_category(
    name: str,
    kind: str,
    values: pd.Series,
    top: int | None = None,
    min_count: int = 1,
    markers: bool = False,
) -> dict:
    """Every category of the training rows, or (given `top`) the `top` most frequent of those seen
    `min_count` times or more: the others read as unknown. `markers`: cells with no letter or digit
    ('?', '-') are missing."""
    text = _strings(values, markers)
    if top is None:
        categories = sorted(text.dropna().unique().tolist())
    else:
        counts = text.value_counts()
        ranked = sorted(((-n, c) for c, n in counts.items() if n >= min_count))[:top]
        categories = sorted(c for _, c in ranked)
    enc = {"name": name, "kind": kind, "categories": categories, "flag": bool(text.isna().any())}
    return {**enc, "markers": True} if markers else enc


def _fit_words(name: str, values: pd.Series, min_rows: int, markers: bool = False) -> dict:

    text = _strings(values, markers)
    words = frequent_words(text.dropna(), min_rows)
    enc = {"name": name, "kind": "text", "words": sorted(words), "flag": bool(text.isna().any())}
    return {**enc, "markers": True} if markers else enc


def _encode_words(enc: dict, values: pd.Series, refuse: bool) -> np.ndarray:
    """(N, words [+ flag]): 1 where the cell holds the word (letters, any case), 0 elsewhere."""

    text = _strings(values, enc.get("markers", False))
    holes = text.isna().to_numpy()
    if refuse and holes.any():
        row = int(np.flatnonzero(holes)[0]) + 1
        raise UserError(
            f"column '{enc['name']}' is missing a value in row {row} and the model was trained with data.missing=refuse"
        )
    block = np.zeros((len(values), len(enc["words"])))
    found = text.where(~holes, "").astype(str).str.lower().str.findall(WORD.pattern)
    found = found.reset_index(drop=True).explode().dropna()
    column = pd.Index(enc["words"]).get_indexer(found)
    hit = column >= 0
    block[found.index.to_numpy()[hit], column[hit]] = 1.0
    return np.hstack([block, holes[:, None].astype(np.float64)]) if enc["flag"] else block


def _encode_category(enc: dict, values: pd.Series, refuse: bool) -> np.ndarray:
    text = _strings(values, enc.get("markers", False))
    holes = text.isna().to_numpy()
    if refuse and holes.any():
        row = int(np.flatnonzero(holes)[0]) + 1
        raise UserError(
            f"column '{enc['name']}' is missing a value in row {row} and the model was trained with data.missing=refuse"
        )
    index = (
        pd.Index(enc["categories"], dtype=object).get_indexer(text).astype(np.int64)
    )  # -1: unseen or missing
    if enc["kind"] == "embed":
        block = (index + 1).astype(np.float64).reshape(-1, 1)  # 0 is the unknown row
    else:
        block = np.zeros((len(index), len(enc["categories"])))
        known = index >= 0
        block[np.flatnonzero(known), index[known]] = 1.0
    return np.hstack([block, holes[:, None].astype(np.float64)]) if enc["flag"] else block


def _strings(values: pd.Series, markers: bool = False) -> pd.Series:
    """Categories compare as stripped strings; a float that holds an integer reads as one (3.0 -> '3').
    `markers`: a cell with no letter or digit ('?', '-', '') is missing.

    Vectorised (pandas string methods): a per-cell Python function is far too slow on large tables.
    """
    present = values.notna()
    if pd.api.types.is_float_dtype(values):
        whole = present & (values == values.round())
        text = values.astype(str)
        text[whole] = values[whole].astype(np.int64).astype(str)
    elif pd.api.types.is_string_dtype(values) and not pd.api.types.is_object_dtype(values):
        text = values.str.strip()
    else:
        text = values.astype(str).str.strip()
    if markers:
        present &= text.str.contains(r"[^\W_]", regex=True)
    return text.astype(object).where(present, None)


def _numbers(values: pd.Series, name: str, coerce: bool = False) -> np.ndarray:
    """Cells -> float64 (NaN where missing); a cell that is not a number is refused, or (`coerce`, a
    column typed as numbers with markers such as '?') read as missing."""
    if pd.api.types.is_bool_dtype(values):
        return values.astype(np.float64).to_numpy()
    if pd.api.types.is_numeric_dtype(values):
        arr = values.to_numpy(dtype=np.float64, na_value=np.nan)
    else:
        arr = pd.to_numeric(values, errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)
        bad = np.isnan(arr) & values.notna().to_numpy() & (values.astype(str).str.strip() != "").to_numpy()
        if bad.any() and not coerce:
            row = int(np.flatnonzero(bad)[0])
            raise UserError(f"column '{name}' row {row + 1}: {values.iloc[row]!r} is not a number")
    if np.isinf(arr).any():
        row = int(np.flatnonzero(np.isinf(arr))[0])
        raise UserError(f"column '{name}' row {row + 1} is infinite; pass a finite number")
    return arr


def _dates(frame: pd.DataFrame, kind: str, name: str, sources: list[str], strict: bool = False) -> pd.Series:
    if kind == "ymd":
        y, m, d = (_numbers(frame[c], c) for c in sources)
        return pd.to_datetime(pd.DataFrame({"year": y, "month": m, "day": d}), errors="coerce")
    values = frame[name]
    if pd.api.types.is_datetime64_any_dtype(values):
        return values
    parsed = parse_dates(values.astype(object).where(values.notna(), None))
    bad = (
        parsed.isna() & values.notna() & values.astype(str).str.contains(r"[^\W_]", regex=True)
    )  # '?': missing
    if strict and bad.any():
        row = int(np.flatnonzero(bad.to_numpy())[0])
        raise UserError(f"column '{name}' row {row + 1}: {values.iloc[row]!r} is not a date")
    return parsed


def _date_parts(dates: pd.Series) -> np.ndarray:
    """Datetimes -> (N, 6): year, month, day, weekday, and the day of the year as a point on a circle."""
    dates = pd.Series(pd.to_datetime(dates))
    if isinstance(dates.dtype, pd.DatetimeTZDtype):
        dates = dates.dt.tz_localize(None)
    doy = dates.dt.day_of_year.to_numpy(dtype=np.float64, na_value=np.nan)
    angle = 2 * np.pi * (doy - 1) / 365.25
    cols = [dates.dt.year, dates.dt.month, dates.dt.day, dates.dt.day_of_week]
    parts = [c.to_numpy(dtype=np.float64, na_value=np.nan) for c in cols] + [np.sin(angle), np.cos(angle)]
    return np.stack(parts, axis=1)


# ---------------------------------------------------------------- layout


def _sources(enc: dict) -> list[str]:
    return enc.get("sources") or [enc["name"]]


def _width(enc: dict) -> list[str]:
    name = enc["name"]
    if enc["kind"] == "category":
        names = [f"{name}={c}" for c in enc["categories"]]
    elif enc["kind"] == "text":
        names = [f"{name}:{w}" for w in enc["words"]]
    elif enc["kind"] in ("date", "ymd"):
        names = [f"{name}.{p}" for p in DATE_PARTS]
    else:
        names = [name]
    return names + ([f"{name}.missing"] if enc["flag"] else [])


def feature_names(encoders: list[dict]) -> list[str]:
    return [n for enc in encoders for n in _width(enc)]


def _starts(encoders: list[dict]):
    """(encoder, the position of its first feature) for each encoder, in order."""
    pos = 0
    for enc in encoders:
        yield enc, pos
        pos += len(_width(enc))


def embed_columns(encoders: list[dict]) -> list[dict]:
    """Feature positions that hold category indices (0 = unknown) and their table sizes, for the model."""
    return [
        {"index": pos, "cardinality": len(enc["categories"]) + 1, "name": enc["name"]}
        for enc, pos in _starts(encoders)
        if enc["kind"] == "embed"
    ]


def number_columns(encoders: list[dict]) -> list[int]:
    """Feature positions that hold a standardised number (numeric columns and the parts of dates; not the
    one-hots, words, category indices or missing flags), for the model's number embeddings."""
    parts = {"numeric": 1, "date": len(DATE_PARTS), "ymd": len(DATE_PARTS)}
    return [pos + i for enc, pos in _starts(encoders) for i in range(parts.get(enc["kind"], 0))]


def dates_of(extras: dict, frame: pd.DataFrame) -> pd.Series | None:
    """The rows' dates (for plots and split_by), or None when the table has no date column."""
    axis = extras.get("date_axis")
    if not axis:
        return None
    return _dates(frame, axis["kind"], axis["sources"][0], axis["sources"])
