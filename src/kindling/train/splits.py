"""What a run's split sizes allow: the warning when the validation split is too small to choose an epoch.

The best epoch is the one with the best validation figure, so that figure must be measured more finely
than the epochs differ. The standard error of an accuracy p measured on n samples is sqrt(p(1 - p) / n),
at most 0.5 / sqrt(n): over SE_LIMIT (five points, under 100 samples) two epochs a few points apart
cannot be told apart, and the validation accuracy can read far from the test's (76 photos of cats_dogs:
0.68 on validation against 0.77 on test, issue 24). One line says so, with the fraction that would give
a split of MIN_VAL samples.
"""

from __future__ import annotations

import math

SE_LIMIT = 0.05  # the largest worst-case standard error of a validation accuracy kindling stays quiet at
MIN_VAL = math.ceil((0.5 / SE_LIMIT) ** 2)  # 100 samples: the split where 0.5 / sqrt(n) reaches SE_LIMIT
MAX_FRACTION = 0.5


def small_val_warning(n_val: int, val_fraction: float) -> str | None:
    """One line when `n_val` validation samples measure accuracy coarser than SE_LIMIT; None otherwise.
    `val_fraction`: the run's data.val_fraction, scaled up to the one that would give MIN_VAL samples."""
    if n_val <= 0 or n_val >= MIN_VAL:
        return None
    se = 0.5 / math.sqrt(n_val)
    wanted = min(MAX_FRACTION, math.ceil(val_fraction * MIN_VAL / n_val * 20) / 20)  # to a multiple of 0.05
    return (
        f"warning: the validation split has {n_val} samples: its accuracy is known to about ±{se:.2f} "
        f"(one standard error), too coarse to choose the best epoch reliably; a larger one: "
        f"--set data.val_fraction={wanted:g} (or a larger data.val)"
    )
