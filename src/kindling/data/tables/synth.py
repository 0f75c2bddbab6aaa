"""Generated tables of real shape, for tests, benchmarks and demos (kindling never downloads data).

`temps_frame` has seed 003's columns (year, month, day, week, temp_2, temp_1, average, actual, friend):
a seasonal mean plus an AR(1) weather anomaly, so yesterday's maximum predicts today's about as well
as in the seed's data (classical models reach an MAE near 4 degrees F).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

TEMPS_COLUMNS = ["year", "month", "day", "week", "temp_2", "temp_1", "average", "actual", "friend"]


def temps_frame(days: int = 348, seed: int = 0, year: int = 2016) -> pd.DataFrame:
    """One row per day (a few days missing, as in the seed's 348-row file), seed 003's columns."""
    rng = np.random.default_rng(seed)
    total = days + 2 + max(0, 366 - days)
    dates = pd.date_range(f"{year}-01-01", periods=total, freq="D")
    doy = dates.day_of_year.to_numpy()
    average = 62.0 - 15.0 * np.cos(2 * np.pi * (doy - 15) / 365.25)  # historical mean max, deg F
    anomaly = np.zeros(total)
    for t in range(1, total):
        anomaly[t] = 0.7 * anomaly[t - 1] + rng.normal(0.0, 4.8)
    actual = np.round(average + anomaly)
    keep = np.sort(rng.choice(np.arange(2, total), size=days, replace=False))
    frame = pd.DataFrame(
        {
            "year": dates.year[keep],
            "month": dates.month[keep],
            "day": dates.day[keep],
            "week": dates.strftime("%a")[keep],
            "temp_2": actual[keep - 2].astype(int),
            "temp_1": actual[keep - 1].astype(int),
            "average": np.round(average[keep] + rng.normal(0, 0.3, days), 1),
            "actual": actual[keep].astype(int),
            "friend": np.round(actual[keep] + rng.uniform(-20, 20, days)).astype(int),
        }
    )
    return frame.sort_values(["year", "month", "day"], kind="stable").reset_index(drop=True)


def wide_frame(rows: int, columns: int, seed: int = 0, categorical: int = 5) -> pd.DataFrame:
    """`columns` features (`categorical` of them strings with 8 levels) and a numeric target `y`."""
    rng = np.random.default_rng(seed)
    numeric = columns - categorical
    x = rng.normal(size=(rows, numeric)).astype(np.float32)
    weights = rng.normal(size=numeric) / np.sqrt(numeric)
    y = x @ weights + 0.3 * np.sin(3 * x[:, 0])
    data = {f"x{i}": x[:, i] for i in range(numeric)}
    levels = np.array([f"level_{k}" for k in range(8)])
    for j in range(categorical):
        codes = rng.integers(0, 8, size=rows)
        data[f"c{j}"] = levels[codes]
        y = y + 0.2 * (codes - 3.5) / 3.5
    data["y"] = y + rng.normal(0, 0.1, size=rows)
    return pd.DataFrame(data)
