"""Regression plots for a table run: actual vs predicted over the dates (seed 003's figure) when the table
has dates, else predicted vs actual with the identity line; and a histogram of the residuals.

    regression_plots("runs/temps-mlp")  # -> [runs/temps-mlp/plots/actual_vs_predicted.png, .../residuals.png]

Rendered with matplotlib's object API (no pyplot state, Agg canvas) into memory, then written atomically.
"""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np

from kindling.fileio import atomic_write_bytes

MAX_POINTS = 5000  # a scatter of 100k points says no more than 5k and takes seconds to draw


def regression_plots(run_dir: str | Path) -> list[Path]:
    """Write the run's regression plots into RUN/plots/; [] when the run is not table regression."""
    from kindling.bundle import bundle_dir, load_bundle
    from kindling.data.tables import is_tabular

    folder = bundle_dir(run_dir)
    run_dir = folder.parent if folder.name == "best" else Path(run_dir)
    bundle = load_bundle(folder)
    sig = bundle.signature
    if sig.task != "regression" or not is_tabular(sig):
        return []
    rows = _predictions(bundle)
    out = run_dir / "plots"
    written = []
    if rows["dates"] is not None:
        written.append(_save(_over_time(rows, sig.extras["target"]), out / "actual_vs_predicted.png"))
    else:
        written.append(_save(_scatter(rows, sig.extras["target"]), out / "predicted_vs_actual.png"))
    written.append(_save(_residuals(rows), out / "residuals.png"))
    return written


def _predictions(bundle) -> dict:
    """Actual and predicted values of every split, rebuilt from the bundle's data config."""
    import pandas as pd
    import torch

    from kindling.data.tables.encoders import dates_of, transform
    from kindling.data.tables.source import load_frames
    from kindling.data.transforms import target_scale
    from kindling.evaluate import data_config_for

    sig = bundle.signature
    frames = load_frames(data_config_for(bundle))
    parts = [(name, frames.part(name)) for name in ("train", "val", "test") if frames.part(name) is not None]
    frame = pd.concat([f for _, f in parts])
    split = np.concatenate([[name] * len(f) for name, f in parts])
    t_mean, t_std = target_scale(sig)
    with torch.no_grad():
        out = bundle.model(torch.from_numpy(transform(sig.extras, frame)))
    predicted = out.double().view(len(frame), -1)[:, 0].numpy() * t_std + t_mean
    actual = pd.to_numeric(frame[sig.extras["target"]]).to_numpy(dtype=np.float64)
    dates = dates_of(sig.extras, frame)
    eval_name = "test" if "test" in split else ("val" if "val" in split else "train")
    return {
        "actual": actual,
        "predicted": predicted,
        "split": split,
        "eval": eval_name,
        "dates": None if dates is None or dates.isna().all() else dates.to_numpy(),
    }


def _figure(width: float = 8.0, height: float = 5.0):
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), dpi=100)
    return fig, fig.add_subplot(1, 1, 1)


def _mae(rows: dict, mask: np.ndarray) -> float:
    return (
        float(np.abs(rows["predicted"][mask] - rows["actual"][mask]).mean()) if mask.any() else float("nan")
    )


def _over_time(rows: dict, target: str):
    """Seed 003's figure: the actual values as a line over the dates, the predictions as red dots."""
    fig, ax = _figure(10, 5)
    order = np.argsort(rows["dates"], kind="stable")
    dates, actual, predicted, split = (rows[k][order] for k in ("dates", "actual", "predicted", "split"))
    ax.plot(dates, actual, "b-", linewidth=1, label="actual")
    held = split == rows["eval"]
    ax.plot(
        dates[~held],
        predicted[~held],
        "o",
        color="salmon",
        markersize=3,
        alpha=0.6,
        label="prediction (training rows)",
    )
    ax.plot(dates[held], predicted[held], "ro", markersize=4, label=f"prediction ({rows['eval']} rows)")
    ax.set_xlabel("Date")
    ax.set_ylabel(target)
    ax.set_title(
        f"Actual and Predicted Values ({rows['eval']} MAE {_mae(rows, rows['split'] == rows['eval']):.3g})"
    )
    ax.legend()
    fig.autofmt_xdate(rotation=60)
    fig.tight_layout()
    return fig


def _scatter(rows: dict, target: str):
    fig, ax = _figure(6, 6)
    held = rows["split"] == rows["eval"]
    index = np.flatnonzero(held)
    if len(index) > MAX_POINTS:
        index = np.random.default_rng(0).choice(index, MAX_POINTS, replace=False)
    actual, predicted = rows["actual"][index], rows["predicted"][index]
    ax.scatter(actual, predicted, s=10, alpha=0.6, label=f"{rows['eval']} rows")
    lo = float(min(actual.min(), predicted.min())) if len(index) else 0.0
    hi = float(max(actual.max(), predicted.max())) if len(index) else 1.0
    ax.plot([lo, hi], [lo, hi], "k--", linewidth=1, label="identity")
    ax.set_xlabel(f"actual {target}")
    ax.set_ylabel(f"predicted {target}")
    ax.set_title(f"Predicted vs actual ({rows['eval']} MAE {_mae(rows, held):.3g})")
    ax.legend()
    fig.tight_layout()
    return fig


def _residuals(rows: dict):
    fig, ax = _figure(7, 4.5)
    held = rows["split"] == rows["eval"]
    residual = rows["predicted"][held] - rows["actual"][held]
    ax.hist(residual, bins=min(50, max(5, len(residual) // 5)), color="steelblue", edgecolor="white")
    ax.axvline(0.0, color="k", linewidth=1)
    ax.set_xlabel("predicted - actual")
    ax.set_ylabel("rows")
    ax.set_title(f"Residuals on the {rows['eval']} rows (mean {residual.mean() if len(residual) else 0:.3g})")
    fig.tight_layout()
    return fig


def _save(fig, path: Path) -> Path:
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    return atomic_write_bytes(path, buf.getvalue())
