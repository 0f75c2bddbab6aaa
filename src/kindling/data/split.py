"""Seeded, stratified splits that never change between runs with the same seed."""

from __future__ import annotations

import numpy as np


def stratified_split(labels, fractions: list[float], seed: int, stratify: bool = True) -> list[np.ndarray]:
    """Split indices into len(fractions)+1 parts: the fractions first, the rest last.

    Each class is shuffled with a seeded generator and cut in the same proportions, so class balance
    holds in every part; a regression target (stratify=False) is cut after one seeded shuffle.
    """
    labels = np.asarray(labels)
    rng = np.random.default_rng(seed)
    parts: list[list[np.ndarray]] = [[] for _ in range(len(fractions) + 1)]
    groups = (
        [np.flatnonzero(labels == c) for c in np.unique(labels)] if stratify else [np.arange(len(labels))]
    )
    for idx in groups:
        idx = idx[rng.permutation(len(idx))]
        start = 0
        for k, frac in enumerate(fractions):
            take = int(round(frac * len(idx)))
            if frac > 0 and take == 0 and len(idx) - start > 1:
                take = 1  # every class appears in every split when it can
            parts[k].append(idx[start : start + take])
            start += take
        parts[-1].append(idx[start:])
    return [np.sort(np.concatenate(p)) if p else np.array([], dtype=np.int64) for p in parts]


def train_val_test(labels, val_fraction: float, test_fraction: float, seed: int, stratify: bool = True):
    """(train, val, test) index arrays: test first, then val as a fraction of what is left."""
    test, rest = stratified_split(labels, [test_fraction], seed, stratify)
    rest_labels = np.asarray(labels)[rest]
    val_local, train_local = stratified_split(rest_labels, [val_fraction], seed + 1, stratify)
    return rest[train_local], rest[val_local], test
