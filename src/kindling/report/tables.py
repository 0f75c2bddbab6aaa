"""A table regression's pictures: actual vs predicted over the dates (seed 003's figure) when the table has
dates, else predicted vs actual with the identity line; and a histogram of the residuals.

    ev.table = table_rows(bundle)          # every row of every split, predicted by the best model
    plots = table_plots(ev.table)          # drawn from those arrays alone (kindling.report.render)
"""

from __future__ import annotations

import numpy as np

from kindling.data.tables import is_tabular
from kindling.report.plots import Plot, new_figure, to_png
from kindling.task import task_for, task_of_bundle

MAX_POINTS = 5000  # a scatter of 100k points says no more than 5k and takes seconds to draw


def has_table_rows(sig) -> bool:
    """A regression on a table read with its encoders: its rows can be predicted again, dates and all."""

    return "regression" in task_for(sig).report_views and is_tabular(sig)


def table_rows(bundle, objects: dict | None = None) -> dict:
    """Actual and predicted values of every split's rows, rebuilt from the bundle's data config;
    `objects`: the DataFrames a kindling.fit handed over, when the data is theirs."""
    import pandas as pd  # lazy: pandas
    import torch  # lazy: torch

    from kindling.bundle.rundir import data_config_for  # lazy: yaml
    from kindling.data.tables.encoders import dates_of, transform  # lazy: pandas
    from kindling.data.tables.source import load_frames  # lazy: torch

    sig = bundle.signature
    cfg = data_config_for(bundle)
    given = None
    if cfg.name.startswith("objects:"):  # a DataFrame handed to kindling.fit: the frames themselves
        from kindling.data.objects import PARTS, handed_over  # lazy: torch

        given = {k: handed_over(cfg, objects)[k] for k in PARTS}
    frames = load_frames(cfg, given)
    parts = [(name, frames.part(name)) for name in ("train", "val", "test") if frames.part(name) is not None]
    frame = pd.concat([f for _, f in parts])
    split = np.concatenate([[name] * len(f) for name, f in parts]).astype(str)
    with torch.no_grad():
        out = bundle.model(torch.from_numpy(transform(sig.extras, frame)))
    dates = dates_of(sig.extras, frame)
    rows = {
        "actual": pd.to_numeric(frame[sig.extras["target"]]).to_numpy(dtype=np.float64),
        "predicted": task_of_bundle(bundle).values(out.double()).numpy(),  # float64, as the actual values
        "split": split,
        "eval": "test" if "test" in split else ("val" if "val" in split else "train"),
        "target": sig.extras["target"],
    }
    if dates is not None and not dates.isna().all():
        rows["dates"] = dates.to_numpy().astype("datetime64[ns]")
    return rows


def table_plots(rows: dict) -> list[Plot]:
    over_time = rows.get("dates") is not None
    return [(_over_time if over_time else _scatter)(rows), _residuals(rows)]


def _mae(rows: dict, mask: np.ndarray) -> float:
    error = np.abs(rows["predicted"][mask] - rows["actual"][mask])
    return float(error.mean()) if mask.any() else float("nan")


def _over_time(rows: dict) -> Plot:
    """Seed 003's figure: the actual values as a line over the dates, the predictions as red dots."""
    fig = new_figure(10, 5)
    ax = fig.add_subplot()
    order = np.argsort(rows["dates"], kind="stable")
    dates, actual, predicted, split = (rows[k][order] for k in ("dates", "actual", "predicted", "split"))
    held = split == rows["eval"]
    ax.plot(dates, actual, "b-", linewidth=1, label="actual")
    label = "prediction (training rows)"
    ax.plot(dates[~held], predicted[~held], "o", color="salmon", markersize=3, alpha=0.6, label=label)
    ax.plot(dates[held], predicted[held], "ro", markersize=4, label=f"prediction ({rows['eval']} rows)")
    ax.set_xlabel("Date")
    ax.set_ylabel(rows["target"])
    mae = _mae(rows, rows["split"] == rows["eval"])
    ax.set_title(f"Actual and Predicted Values ({rows['eval']} MAE {mae:.3g})")
    ax.legend()
    fig.autofmt_xdate(rotation=60)
    fig.tight_layout()
    title = "Actual and predicted over time"
    return Plot("actual_vs_predicted", title, to_png(fig), {"mae": mae, "split": rows["eval"]})


def _scatter(rows: dict) -> Plot:
    fig = new_figure(6, 6)
    ax = fig.add_subplot()
    held = rows["split"] == rows["eval"]
    index = np.flatnonzero(held)
    if len(index) > MAX_POINTS:
        index = np.random.default_rng(0).choice(index, MAX_POINTS, replace=False)
    actual, predicted = rows["actual"][index], rows["predicted"][index]
    ax.scatter(actual, predicted, s=10, alpha=0.6, label=f"{rows['eval']} rows")
    lo = float(min(actual.min(), predicted.min())) if len(index) else 0.0
    hi = float(max(actual.max(), predicted.max())) if len(index) else 1.0
    ax.plot([lo, hi], [lo, hi], "k--", linewidth=1, label="identity")
    ax.set_xlabel(f"actual {rows['target']}")
    ax.set_ylabel(f"predicted {rows['target']}")
    mae = _mae(rows, held)
    ax.set_title(f"Predicted vs actual ({rows['eval']} MAE {mae:.3g})")
    ax.legend()
    fig.tight_layout()
    return Plot(
        "predicted_vs_actual", "Predicted vs actual", to_png(fig), {"mae": mae, "split": rows["eval"]}
    )


def _residuals(rows: dict) -> Plot:
    fig = new_figure(7, 4.5)
    ax = fig.add_subplot()
    held = rows["split"] == rows["eval"]
    residual = rows["predicted"][held] - rows["actual"][held]
    spread = len(residual) > 1 and np.ptp(residual) > 1e-9 * (1 + np.abs(residual).max())  # else one bar
    bins = min(50, max(5, len(residual) // 5)) if spread else 1
    ax.hist(residual, bins=bins, color="steelblue", edgecolor="white")
    ax.axvline(0.0, color="k", linewidth=1)
    ax.set_xlabel("predicted - actual")
    ax.set_ylabel("rows")
    mean = float(residual.mean()) if len(residual) else 0.0
    ax.set_title(f"Residuals on the {rows['eval']} rows (mean {mean:.3g})")
    fig.tight_layout()
    return Plot("residuals", "Residuals", to_png(fig), {"mean": mean})
