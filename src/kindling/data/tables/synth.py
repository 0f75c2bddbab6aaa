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


TITLES = {"male": ["Mr.", "Mr.", "Mr.", "Master.", "Dr.", "Rev."], "female": ["Miss.", "Mrs.", "Mrs.", "Ms."]}
SURNAMES = ["Braund", "Cumings", "Heikkinen", "Futrelle", "Allen", "Moran", "McCarthy", "Palsson", "Johnson",
            "Nasser", "Sandstrom", "Bonnell", "Saundercock", "Andersson", "Vestrom", "Hewlett", "Rice",
            "Williams", "Vander Planke", "Masselmani", "Fynney", "Beesley", "McGowan", "Sloper", "Asplund",
            "Emir", "Fortune", "O'Dwyer", "Todoroff", "Uruchurtu", "Spencer", "Glynn", "Wheadon", "Meyer"]  # fmt: skip
FIRST = {"male": ["Owen", "William", "James", "John", "Charles", "Henry", "Ernst", "Gosta", "Lawrence"],
         "female": ["Laina", "Florence", "Lily", "Elizabeth", "Mary", "Anna", "Marguerite", "Hulda"]}  # fmt: skip
TICKET_PREFIXES = ["A/5", "PC", "STON/O2.", "C.A.", "SOTON/OQ", "W./C.", "F.C.", "S.O.C.", "CA", "PP"]


def passengers_frame(rows: int = 300, seed: int = 0, target: str = "01") -> pd.DataFrame:
    """A raw passenger-survival table as such tables are usually downloaded: an ID column, names,
    ticket codes mixing digits and letters (mostly distinct), cabins mostly empty, missing ages, and a
    `Survived` target of 0/1 (`target="01"`) or no/yes (`target="yesno"`) that depends on sex, class,
    age and title, as on the Titanic."""
    rng = np.random.default_rng(seed)
    sex = rng.choice(["male", "female"], size=rows, p=[0.64, 0.36])
    pclass = rng.choice([1, 2, 3], size=rows, p=[0.24, 0.21, 0.55])
    title = np.array([rng.choice(TITLES[s]) for s in sex])
    age = np.where(title == "Master.", rng.uniform(0.4, 12, rows), rng.normal(30, 13, rows).clip(1, 80))
    names = [
        f"{rng.choice(SURNAMES)}, {t} {rng.choice(FIRST[s])} {rng.choice(FIRST[s])}"
        for s, t in zip(sex, title)
    ]
    tickets = [
        f"{rng.choice(TICKET_PREFIXES)} {rng.integers(1000, 400000)}"
        if rng.random() < 0.3
        else str(rng.integers(1000, 400000))
        for _ in range(rows)
    ]
    dup = rng.random(rows) < 0.2  # families share a ticket
    tickets = [tickets[i - 1] if dup[i] and i else tickets[i] for i in range(rows)]
    cabin = np.array(
        [f"{rng.choice(list('ABCDEF'))}{rng.integers(1, 130)}" for _ in range(rows)], dtype=object
    )
    cabin[rng.random(rows) > np.where(pclass == 1, 0.8, 0.08)] = None
    fare = np.round(np.exp(rng.normal(4.0 - 0.7 * pclass, 0.5)) * 7, 4)
    logit = (
        1.2 + 2.4 * (sex == "female") - 0.9 * (pclass - 1) - 0.02 * (age - 30) + 1.5 * (title == "Master.")
    )
    survived = (rng.random(rows) < 1 / (1 + np.exp(-logit + 1.8))).astype(int)
    age = np.round(age, 1).astype(object)
    age[rng.random(rows) < 0.2] = None
    frame = pd.DataFrame(
        {
            "PassengerId": np.arange(1, rows + 1),
            "Survived": survived if target == "01" else np.array(["no", "yes"])[survived],
            "Pclass": pclass,
            "Name": names,
            "Sex": sex,
            "Age": pd.array(age, dtype="Float64"),
            "SibSp": rng.poisson(0.5, rows),
            "Parch": rng.poisson(0.4, rows),
            "Ticket": tickets,
            "Fare": fare,
            "Cabin": cabin,
            "Embarked": rng.choice(["S", "C", "Q"], size=rows, p=[0.72, 0.19, 0.09]),
        }
    )
    frame.loc[rng.choice(rows, size=2, replace=False), "Embarked"] = None
    return frame
