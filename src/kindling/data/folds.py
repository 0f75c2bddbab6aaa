"""Cross-validation folds: the training pool cut into K seeded, stratified parts (`kindling cv`).

    dm = folds.apply(dm, folds=5, fold=2, seed=0)   # train: parts 0, 1, 3, 4 of the pool; val: part 2

The pool is what a source trains and validates on: its train and val splits together (a source with
one training pool carves val from it; given val files join it too). The test split is left as it is, so
every fold model is also scored on the same held-out test. Each class is shuffled with a seeded
generator and dealt round the folds, so every fold holds each class in proportion (sizes differ by at
most one) and the same seed gives the same folds on every run; a regression target is dealt after one
seeded shuffle. Preprocessing stays the source's own, fitted on its usual train split, so the K fold
models share one Signature, which is what lets `kindling cv --ensemble` keep them as one Bundle.

`data.build` applies this when `data.folds` is set, so a fold's run directory (config.yaml holds
`data.folds` and `data.fold`) rebuilds its own split for evaluate, report and `--resume`.
"""

from __future__ import annotations

import numpy as np
import torch

from kindling.data.memory import Split
from kindling.data.module import DataModule
from kindling.errors import UserError

HINT = "use --folds 5 (or fewer)"


def fold_indices(labels: np.ndarray, folds: int, seed: int, stratify: bool) -> list[np.ndarray]:
    """The K parts of `len(labels)` samples, each sorted: every class shuffled with `seed` and dealt
    round the folds one after another, so each part holds each class in proportion."""
    labels = np.asarray(labels)
    rng = np.random.default_rng(seed)
    groups = (
        [np.flatnonzero(labels == c) for c in np.unique(labels)] if stratify else [np.arange(len(labels))]
    )
    dealt = np.concatenate([g[rng.permutation(len(g))] for g in groups]) if groups else np.array([], int)
    owner = np.arange(len(dealt)) % folds
    return [np.sort(dealt[owner == k]) for k in range(folds)]


def pool_of(dm: DataModule) -> Split:
    """The training pool: train and val as one in-memory split (a streamed split cannot be cut)."""
    parts = [s for s in (dm.train, dm.val) if s is not None and len(s)]
    for part in parts:
        if type(part) is not Split:
            raise UserError(
                f"{dm.description or 'the data'} streams from disk (over data.memory_budget_mb), and "
                "cross-validation cuts a pool held in memory; raise --set data.memory_budget_mb=MB"
            )
    if len(parts) == 1:
        return parts[0]
    train, val = parts
    if train.x.shape[1:] != val.x.shape[1:]:
        raise UserError(
            f"the train and val splits hold inputs of different shapes ({list(train.x.shape[1:])} vs "
            f"{list(val.x.shape[1:])}), so they cannot be pooled for cross-validation"
        )
    lengths = None
    if train.lengths is not None and val.lengths is not None:
        lengths = torch.cat([train.lengths, val.lengths])
    names = [*train.names, *val.names] if train.names and val.names else []
    return Split(torch.cat([train.x, val.x]), torch.cat([train.y, val.y]), names, lengths)


def check_folds(labels: np.ndarray, class_names: list[str], folds: int, stratify: bool) -> None:
    """More folds than the smallest class has samples (or than there are samples) is the user's mistake."""
    if folds < 2:
        raise UserError(f"--folds {folds}: cross-validation needs at least 2 folds; {HINT}")
    if not stratify:
        if len(labels) < folds:
            raise UserError(f"--folds {folds} is more than the {len(labels)} samples of the training pool")
        return
    values, counts = np.unique(labels, return_counts=True)
    if len(counts) and counts.min() < folds:
        smallest = int(values[counts.argmin()])
        name = class_names[smallest] if 0 <= smallest < len(class_names) else str(smallest)
        n = int(counts.min())
        raise UserError(
            f"--folds {folds} is more than the smallest class has samples (class '{name}': {n} in train "
            f"and val together); use --folds {max(2, n)} or fewer" + (", or more data" if n < 2 else "")
        )


def stratified(dm: DataModule) -> bool:
    """Folds keep class proportions for one class id per sample (classification); else a plain shuffle."""
    return dm.signature.task == "classification" and dm.train.y.dim() == 1


def apply(dm: DataModule, folds: int, fold: int, seed: int) -> DataModule:
    """`dm` with its train and val replaced by fold `fold` of `folds` of their pool (see the module)."""
    if not 0 <= fold < max(folds, 1):
        raise UserError(f"data.fold = {fold} is not one of the {folds} folds (0 to {folds - 1})")
    pool = pool_of(dm)
    strat = stratified(dm)
    labels = pool.y.numpy() if strat else np.zeros(len(pool))
    check_folds(labels, dm.signature.class_names, folds, strat)
    parts = fold_indices(labels, folds, seed, strat)
    train = np.sort(np.concatenate([p for k, p in enumerate(parts) if k != fold]))
    index = {
        name: torch.as_tensor(ix, dtype=torch.long) for name, ix in (("train", train), ("val", parts[fold]))
    }
    described = f"{dm.description} (fold {fold + 1} of {folds})" if dm.description else ""
    return DataModule(
        dm.signature, pool.subset(index["train"]), pool.subset(index["val"]), dm.test, described
    )
