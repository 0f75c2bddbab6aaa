"""Splits are seeded, stratified, disjoint and never change between runs."""

from __future__ import annotations

import numpy as np

from kindling.config.schema import DataConfig
from kindling.data import build
from kindling.data.split import train_val_test


def test_split_is_deterministic_disjoint_and_stratified():
    labels = np.repeat(np.arange(5), [100, 50, 30, 12, 8])
    a = train_val_test(labels, 0.1, 0.25, seed=0)
    b = train_val_test(labels, 0.1, 0.25, seed=0)
    for x, y in zip(a, b):
        assert np.array_equal(x, y)
    train, val, test = a
    assert len(set(train) | set(val) | set(test)) == len(labels)
    assert not (set(train) & set(test)) and not (set(val) & set(test)) and not (set(train) & set(val))
    for c, n in enumerate([100, 50, 30, 12, 8]):  # every class keeps its share in the test split
        assert abs((labels[test] == c).sum() - 0.25 * n) <= 1
        assert (labels[val] == c).sum() >= 1


def test_other_seed_gives_other_split():
    labels = np.repeat(np.arange(3), 40)
    assert not np.array_equal(
        train_val_test(labels, 0.1, 0.25, 0)[2], train_val_test(labels, 0.1, 0.25, 1)[2]
    )


def test_digits_splits_fixed_and_signature_fitted_on_train():
    one, two = build(DataConfig(name="digits")), build(DataConfig(name="digits"))
    assert one.test.names == two.test.names and len(one.test) == 450
    assert len(one.train) + len(one.val) + len(one.test) == 1797
    pixels = one.train.x.float() / 255
    assert abs(one.signature.mean[0] - float(pixels.mean())) < 1e-6
    assert one.signature.input_shape == [1, 8, 8] and len(one.signature.class_names) == 10
