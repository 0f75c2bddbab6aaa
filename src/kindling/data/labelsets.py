"""Multi-label targets: label sets in a cell (`a|b`), one 0/1 column per label, or a 0/1 matrix.

    sets = split_cells(frame["tags"], "|")          # [["a", "b"], [], ["c"]]
    labels = LabelSets.fit(sets, "labels.csv column 'tags'")
    y = labels.encode(sets)                          # float32 (N, K) 0/1, K = len(labels.names)
    y = indicator_matrix(frame, ["a", "b", "c"], "labels.csv")

The sources that take several labels per sample (csv: with a label-set column or 0/1 columns, annotation
files with several labels on a line, kindling.fit(data=(X, Y))) make their targets here, and their splits
(`split_indices`: seeded, stratified on the label combination while combinations repeat enough).
A sample may have no label at all; a source where every sample has none is refused (nothing to learn).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np

from kindling.data.split import train_val_test
from kindling.errors import UserError

TRUE = {"1", "1.0", "true", "yes", "y", "t"}
FALSE = {"0", "0.0", "false", "no", "n", "f", ""}


def check_sep(sep: str) -> str:
    if not isinstance(sep, str) or not sep:
        raise UserError(
            f"data.label_sep = {sep!r} cannot separate labels; use a character such as '|' or ',' "
            "(--set data.label_sep='|')"
        )
    return sep


def split_cells(values: Iterable, sep: str) -> list[list[str]]:
    """Each cell -> its labels, stripped, empty ones and repeats left out; a missing cell is no label."""
    sep = check_sep(sep)
    sets = []
    for value in values:
        if value is None or (isinstance(value, float) and value != value):  # None or NaN: no label
            sets.append([])
            continue
        seen: list[str] = []
        for part in str(value).split(None if sep.isspace() else sep):  # a space: any whitespace
            part = part.strip()
            if part and part not in seen:
                seen.append(part)
        sets.append(seen)
    return sets


def looks_multilabel(values: Sequence, sep: str) -> bool:
    """Whether a column's cells hold label sets: some cell holds the separator between two labels."""
    return any(len(labels) > 1 for labels in split_cells(values, sep))


class LabelSets:
    """The labels of a multi-label source, sorted, fitted on the training sets."""

    def __init__(self, names: list[str]):
        self.names = list(names)
        self.index = {name: i for i, name in enumerate(self.names)}

    @classmethod
    def fit(cls, sets: list[list[str]], where: str) -> LabelSets:
        names = sorted({label for labels in sets for label in labels})
        if not names:
            raise UserError(
                f"{where} has an empty label set on every row, so there is nothing to learn; give each row "
                "its labels (a|b, or data.label_sep for another separator)"
            )
        return cls(names)

    def encode(
        self, sets: list[list[str]], where: str = "the data", origins: Sequence[str] = ()
    ) -> np.ndarray:
        """Label sets -> float32 (N, K) 0/1; a label the model does not know is one line naming it."""
        y = np.zeros((len(sets), len(self.names)), dtype=np.float32)
        for row, labels in enumerate(sets):
            for label in labels:
                column = self.index.get(label)
                if column is None:
                    at = origins[row] if row < len(origins) else f"{where} row {row + 1}"
                    raise UserError(
                        f"{at}: label {label!r} is not one the model knows ({', '.join(self.names[:12])}"
                        f"{', ...' if len(self.names) > 12 else ''}); fix the row or retrain with it"
                    )
                y[row, column] = 1.0
        return y


def indicator_matrix(frame, columns: list[str], where: str) -> np.ndarray:
    """One 0/1 column per label (--target a,b,c) -> float32 (N, K); anything but 0/1 (or true/false,
    yes/no; an empty cell is 0) is one line naming the column and the row."""
    y = np.zeros((len(frame), len(columns)), dtype=np.float32)
    for j, name in enumerate(columns):
        cells = frame[name]
        text = cells.astype("string").fillna("").str.strip().str.lower()
        ones, zeros = text.isin(TRUE).to_numpy(), text.isin(FALSE).to_numpy()
        bad = np.flatnonzero(~(ones | zeros))
        if len(bad):
            value = cells.iloc[bad[0]]
            raise UserError(
                f"{where}: label column '{name}' holds {str(value)!r} (row {int(bad[0]) + 1}); a label column "
                "holds 0 or 1 (or true/false); fix the cell or leave the column out of --target"
            )
        y[:, j] = ones
    if not y.any():
        raise UserError(
            f"{where}: the label columns {', '.join(columns[:8])} hold 0 on every row (an empty label set "
            "on every row), so there is nothing to learn; check --target"
        )
    return y


def check_matrix(y, where: str) -> np.ndarray:
    """A 0/1 matrix handed over in Python -> float32 (N, K), or one line saying what is wrong."""
    y = np.asarray(y)
    if y.ndim != 2 or y.shape[1] < 1:
        raise UserError(f"{where}: Y has shape {tuple(y.shape)}; a multi-label Y is (N, labels) of 0/1")
    if y.dtype == bool:
        y = y.astype(np.float32)
    if not np.issubdtype(y.dtype, np.number):
        raise UserError(f"{where}: Y holds {y.dtype} values; a multi-label Y holds 0 and 1")
    bad = np.argwhere((y != 0) & (y != 1))
    if len(bad):
        row, col = (int(v) for v in bad[0])
        raise UserError(
            f"{where}: Y[{row}, {col}] is {y[row, col].item()!r}; a multi-label Y holds 0 and 1 only "
            "(one column per label)"
        )
    if not y.any():
        raise UserError(
            f"{where}: Y is 0 everywhere (an empty label set on every row), so there is nothing to learn"
        )
    return y.astype(np.float32)


@dataclass
class LabelMatrix:
    """A (N, K) 0/1 target handed over in Python (kindling.fit(data=(X, Y))), with its label names when
    Y was a DataFrame."""

    y: np.ndarray
    names: list[str] | None = None

    def __len__(self) -> int:
        return len(self.y)

    @staticmethod
    def encode(stored: dict) -> tuple[str, list[str], dict]:
        """("multilabel", label names, {split: float32 (N, K) tensor}) of every split's matrix."""
        import torch  # lazy: loads torch

        first = stored["train"][1]
        k = first.y.shape[1]
        ys = {}
        for split, part in stored.items():
            if part is None:
                ys[split] = None
                continue
            matrix = part[1]
            if not isinstance(matrix, LabelMatrix) or matrix.y.shape[1] != k:
                raise UserError(
                    f"the {split} data: its y is not a 0/1 matrix of the training Y's {k} label columns; "
                    "give every split the same label columns"
                )
            ys[split] = torch.from_numpy(np.ascontiguousarray(matrix.y))
        return "multilabel", first.names or [str(j) for j in range(k)], ys


def split_indices(
    y: np.ndarray, val_fraction: float, test_fraction: float, seed: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(train, val, test) indices of a 0/1 matrix: seeded, stratified on each sample's label combination
    when the combinations repeat (at least 10 samples each on average), else one seeded shuffle; the same
    for every run with the same seed."""
    keys = np.array(["".join("1" if v else "0" for v in row) for row in np.asarray(y) > 0.5])
    combos = len(np.unique(keys)) if len(keys) else 0
    stratify = 0 < combos <= len(keys) / 10
    return train_val_test(
        keys if stratify else np.zeros(len(keys)), val_fraction, test_fraction, seed, stratify
    )


def label_counts(y, names: list[str]) -> dict[str, int]:
    """How many samples carry each label (the data doctor's table)."""
    totals = np.asarray(y).reshape(len(y), -1).sum(0) if len(y) else np.zeros(len(names))
    return {name: int(total) for name, total in zip(names, totals)}
