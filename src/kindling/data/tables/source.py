"""Table sources: `csv:FILE` (CSV, TSV, Parquet by extension) and scikit-learn's `wine` and `diabetes`.

    kindling train --data csv:temps.csv --target actual --set data.drop=friend --model mlp

One path for every table: read -> type the columns (shown before training) -> split (explicit files,
seeded, or by time) -> fit encoders on the training rows -> float32 (N, F) splits + a Signature whose
extras carry the fitted encoders, so prediction applies exactly what training fitted.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from kindling.data import note as data_note
from kindling.data.memory import Split
from kindling.data.module import DataModule
from kindling.data.signature import Signature
from kindling.data.split import train_val_test
from kindling.data.tables import encoders, labelled
from kindling.data.tables.readers import read_table
from kindling.data.tables.schema import Plan, format_plan, infer_plan, parse_dates
from kindling.errors import UserError, did_you_mean

PARTS = ("train", "val", "test")


@dataclass
class Frames:
    """The raw rows of each split (target included) and the typing plan; what the encoders are fitted on."""

    train: pd.DataFrame
    val: pd.DataFrame | None
    test: pd.DataFrame | None
    plan: Plan
    where: str

    def part(self, name: str) -> pd.DataFrame | None:
        return getattr(self, name)


# ---------------------------------------------------------------- sources


def _reader_options(cfg) -> dict:
    encoding = cfg.encoding if cfg.encoding.lower().replace("_", "-") not in ("utf-8", "utf8") else "auto"
    return {"encoding": encoding, "delimiter": getattr(cfg, "delimiter", "auto")}


def _csv_frame(cfg) -> tuple[pd.DataFrame, str, str | None]:
    spec = cfg.name.split(":", 1)[1]
    path = cfg.train or spec
    if not path:
        raise UserError("csv: needs a file, e.g. --data csv:temps.csv --target actual")
    return read_table(path, **_reader_options(cfg)), str(path), cfg.target


def _sklearn_frame(name: str, cfg) -> tuple[pd.DataFrame, str, str]:
    from sklearn import datasets  # lazy: sklearn

    if name == "wine":
        bunch = datasets.load_wine(as_frame=True)
        frame = bunch.frame.drop(columns="target")
        frame["class"] = np.asarray(bunch.target_names)[bunch.target.to_numpy()]
        return frame, "wine", cfg.target or "class"
    bunch = datasets.load_diabetes(as_frame=True)
    frame = bunch.frame.rename(columns={"target": "progression"})
    return frame, "diabetes", cfg.target or "progression"


def source_frame(cfg) -> tuple[pd.DataFrame, str, str | None]:
    """(rows, description, target) for the data spec in `cfg` (a DataConfig)."""
    if cfg.name in ("wine", "diabetes"):
        return _sklearn_frame(cfg.name, cfg)
    if not cfg.name.startswith("csv:"):
        raise UserError(f"'{cfg.name}' is not a table source; use csv:FILE, wine or diabetes")
    return _csv_frame(cfg)


# ---------------------------------------------------------------- frames and splits


def load_frames(cfg, frames: dict | None = None, read: tuple | None = None) -> Frames:
    """Read, type and split the table of `cfg`; deterministic, so plots and evaluate see the same rows.

    `frames`: DataFrames handed over in Python ({"train": df, "val": df or None, "test": ...}) instead
    of the files `cfg` names; they go through the same typing, split and checks. `read`: what
    `source_frame(cfg)` gives, when the caller has read the file already."""
    if frames is None:
        base, where, target = read or source_frame(cfg)
    else:
        base, where, target = frames["train"], "the DataFrame", cfg.target
        if not target:
            raise UserError("a DataFrame needs its target column: target='COLUMN' (--target COLUMN)")
    plan = infer_plan(
        base,
        target,
        list(cfg.drop),
        cfg.task,
        cfg.categorical,
        cfg.missing,
        where,
        list(cfg.keep),
        getattr(cfg, "name", ""),
    )
    if base.attrs.get("encoding", "utf-8") not in ("utf-8", cfg.encoding):
        plan.notes.append(
            f"{where} is not UTF-8: read as {base.attrs['encoding']}; set data.encoding to override"
        )
    if frames is None:
        given = {k: _explicit(getattr(cfg, k), cfg, plan) for k in ("val", "test")}
    else:
        given = {k: _matching(frames.get(k), plan, f"the {k} DataFrame") for k in ("val", "test")}
    base = _drop_unlabelled(base, plan, where)
    carved = _carve(base, plan, cfg, val=given["val"] is None, test=given["test"] is None)
    parts = {k: given[k] if given[k] is not None else carved[k] for k in ("val", "test")}
    parts = {k: (v if v is not None and len(v) else None) for k, v in parts.items()}
    if len(carved["train"]) == 0:
        raise UserError(
            f"{where} leaves no training rows after the split; lower data.val_fraction / data.test_fraction"
        )
    return Frames(carved["train"], parts["val"], parts["test"], plan, where)


def _explicit(path: str | None, cfg, plan: Plan) -> pd.DataFrame | None:
    if not path:
        return None
    return _matching(read_table(path, **_reader_options(cfg)), plan, str(path))


def _matching(frame: pd.DataFrame | None, plan: Plan, where: str) -> pd.DataFrame | None:
    """A val / test table checked for the training table's columns, unlabelled rows left out."""
    if frame is None:
        return None
    needed = [plan.target] + [s for c in plan.features for s in (c.sources or [c.name])]
    absent = [c for c in needed if c not in frame.columns]
    if absent:
        raise UserError(
            f"{where} lacks column(s) {', '.join(absent)} that the training table has; "
            "every split must share the training table's columns"
        )
    return _drop_unlabelled(frame, plan, where)


def _drop_unlabelled(frame: pd.DataFrame, plan: Plan, where: str) -> pd.DataFrame:
    missing = frame[plan.target].isna()
    if missing.any():
        plan.notes.append(
            f"{int(missing.sum())} row(s) of {where} have no '{plan.target}' value and were left out"
        )
        frame = frame[~missing]
    return frame


def _carve(base: pd.DataFrame, plan: Plan, cfg, val: bool, test: bool) -> dict:
    """Split `base` into train and whichever of val / test was not given as a file."""
    val_f = cfg.val_fraction if val else 0.0
    test_f = cfg.test_fraction if test else 0.0
    for name, f in (("val_fraction", val_f), ("test_fraction", test_f)):
        if not 0.0 <= f < 1.0:
            raise UserError(f"data.{name} must be in [0, 1), got {f}")
    if cfg.split_by:
        train, val_ix, test_ix = _split_by_time(base, plan, cfg.split_by, val_f, test_f)
    else:
        labels = (
            base[plan.target].astype(str).to_numpy() if plan.task == "classification" else np.zeros(len(base))
        )
        train, val_ix, test_ix = train_val_test(
            labels, val_f, test_f, cfg.split_seed, plan.task == "classification"
        )
    return {
        "train": base.iloc[train],
        "val": base.iloc[val_ix] if val else None,
        "test": base.iloc[test_ix] if test else None,
    }


def _split_by_time(base: pd.DataFrame, plan: Plan, column: str, val_f: float, test_f: float):
    """Earliest rows train, then val, then the latest rows test: no look-ahead."""
    key = _time_key(base, plan, column)
    order = np.argsort(key, kind="stable")  # NaT / NaN sort last
    n = len(order)
    n_test = int(round(test_f * n))
    n_val = int(round(val_f * (n - n_test)))
    cut = n - n_test - n_val
    return np.sort(order[:cut]), np.sort(order[cut : n - n_test]), np.sort(order[n - n_test :])


def _time_key(base: pd.DataFrame, plan: Plan, column: str) -> np.ndarray:
    for c in plan.columns:
        if c.kind == "ymd" and column in (c.name, *c.sources):
            y, m, d = (pd.to_numeric(base[s], errors="coerce") for s in c.sources)
            dates = pd.to_datetime(pd.DataFrame({"year": y, "month": m, "day": d}), errors="coerce")
            return dates.to_numpy(dtype="datetime64[ns]").astype(np.int64).astype(np.float64)
    if column not in base.columns:
        raise UserError(
            f"data.split_by names '{column}', which is not a column{did_you_mean(column, list(base.columns))}"
        )
    values = base[column]
    if pd.api.types.is_numeric_dtype(values):
        return values.to_numpy(dtype=np.float64, na_value=np.nan)
    dates = values if pd.api.types.is_datetime64_any_dtype(values) else parse_dates(values.astype(str))
    if dates.notna().mean() < 0.9:
        raise UserError(
            f"data.split_by column '{column}' holds neither dates nor numbers; pick a date or time column"
        )
    stamps = pd.Series(dates).to_numpy(dtype="datetime64[ns]").astype(np.int64).astype(np.float64)
    stamps[pd.Series(dates).isna().to_numpy()] = np.nan
    return stamps


# ---------------------------------------------------------------- encoding


def class_names_of(frames: Frames) -> list[str]:
    labels = pd.concat(
        [f[frames.plan.target] for f in (frames.train, frames.val, frames.test) if f is not None]
    )
    unique = labels.dropna().unique()
    if pd.api.types.is_numeric_dtype(labels):
        unique = np.sort(unique)
        return [encoders._strings(pd.Series([v])).iloc[0] for v in unique]
    return sorted(str(v).strip() for v in unique)


def encode_target(sig: Signature, values: pd.Series, where: str = "the table") -> torch.Tensor:
    if sig.task == "regression":
        arr = pd.to_numeric(values, errors="coerce").to_numpy(dtype=np.float32, na_value=np.nan)
        if np.isnan(arr).any():
            row = int(np.flatnonzero(np.isnan(arr))[0])
            raise UserError(
                f"{where}: target '{values.name}' row {row + 1} ({values.iloc[row]!r}) is not a number"
            )
        return torch.from_numpy(arr.copy())
    lookup = {c: i for i, c in enumerate(sig.class_names)}
    labels = encoders._strings(values).map(lookup)
    if labels.isna().any():
        row = int(np.flatnonzero(labels.isna().to_numpy())[0])
        raise UserError(
            f"{where}: class {values.iloc[row]!r} (row {row + 1}) is not one the model knows: {', '.join(sig.class_names[:20])}"
        )
    return torch.from_numpy(labels.to_numpy(dtype=np.int64).copy())


def encode_split(sig: Signature, frame: pd.DataFrame, where: str = "the table") -> Split:
    """Rows with the target column -> a Split encoded with the signature's fitted encoders (evaluate on new rows)."""
    target = sig.extras["target"]
    if target not in frame.columns:
        raise UserError(f"{where} has no target column '{target}'; evaluation needs it")
    x = torch.from_numpy(encoders.transform(sig.extras, frame))
    names = [f"row {int(i) + 1}" for i in range(len(frame))]
    return Split(x, encode_target(sig, frame[target], where), names)


def build_module(cfg, echo=None, given: dict | None = None, read: tuple | None = None) -> DataModule:
    """The DataModule of a table source (or of `given` DataFrames, see load_frames); notes the column
    typing (kindling.data.note: stderr)."""

    frames = load_frames(cfg, given, read)
    plan = frames.plan
    extras = encoders.fit(plan, frames.train, cfg.categorical, cfg.missing)
    class_names = class_names_of(frames) if plan.task == "classification" else []
    sig = Signature(plan.task, "tabular", [len(extras["feature_names"])], class_names, [], [], extras)
    if plan.task_reason:  # kindling chose the task: the line saying what it chose says why
        sig.extras["task_reason"] = f"'{plan.target}' holds {plan.task_reason}"
    if plan.task == "regression":
        y = pd.to_numeric(frames.train[plan.target]).to_numpy(dtype=np.float64)
        sig.extras["target_mean"], sig.extras["target_std"] = float(y.mean()), float(y.std()) or 1.0
    splits = {}
    for name in PARTS:
        frame = frames.part(name)
        if frame is None:
            splits[name] = None
            continue
        x = torch.from_numpy(encoders.transform(extras, frame))
        split = Split(
            x,
            encode_target(sig, frame[plan.target], frames.where),
            [f"row {int(i) + 1}" for i in frame.index],
        )
        splits[name] = split

    columns = shutil.get_terminal_size((200, 24)).columns  # a narrow terminal gets the compact form
    (echo or data_note)(
        format_plan(plan, frames.where, getattr(cfg, "name", ""), columns)
        + f"\n  -> {len(extras['feature_names'])} features; "
        + ", ".join(f"{k} {len(v) if v is not None else 0}" for k, v in splits.items())
        + " rows"
    )
    return DataModule(
        sig, splits["train"], splits["val"], splits["test"], f"{frames.where}: table, {plan.task}"
    )


def csv_source(cfg, fitted: Signature | None = None, photos: int | None = None) -> DataModule:
    """a table: csv:FILE (.csv, .tsv, .parquet) with --target COLUMN (or image paths / texts with their labels)

    `fitted`: a trained model's Signature; new rows are encoded with its encoders (evaluate on other data).
    A column of image paths or of texts, or several labels per row, go to kindling.data.tables.labelled
    (`photos`: the side a few photos are decoded at, kindling.data.images.decode.photo_side)."""
    read = _csv_frame(cfg)
    found = labelled.route(read[0], cfg, fitted)
    if found is not None:
        return labelled.labelled_module(found, read[0], cfg, read[1], fitted, photos=photos)
    return table_module(cfg, fitted, read=read)


def table_module(
    cfg, fitted: Signature | None = None, given: dict | None = None, read: tuple | None = None
) -> DataModule:
    """csv: files, or DataFrames handed over in Python (`given`); `fitted` as for csv_source."""
    if fitted is None:
        return build_module(cfg, given=given, read=read)
    frames = load_frames(cfg, given, read)
    splits = {name: frames.part(name) for name in PARTS}
    encoded = {k: encode_split(fitted, f, frames.where) if f is not None else None for k, f in splits.items()}
    return DataModule(fitted, encoded["train"], encoded["val"], encoded["test"], f"{frames.where}: table")


def wine(cfg) -> DataModule:
    """scikit-learn's bundled wine table (178 rows, 13 numeric columns, 3 classes)"""
    return build_module(cfg)


def diabetes(cfg) -> DataModule:
    """scikit-learn's bundled diabetes table (442 rows, 10 numeric columns, regression)"""
    return build_module(cfg)


def frame_path(cfg) -> Path | None:
    return Path(cfg.name.split(":", 1)[1]) if cfg.name.startswith("csv:") else None
