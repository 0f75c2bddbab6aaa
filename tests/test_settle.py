"""The config is settled once (kindling.train.settle): a new object, the caller's untouched; the Trainer
takes it as it is; a notebook's objects live as long as the Run that holds them, no longer."""

from __future__ import annotations

import copy
import gc
import weakref
from dataclasses import asdict
from pathlib import Path

import numpy as np
import pytest
import torch
from torch.utils.data import Dataset

from kindling import data as data_mod
from kindling.config.load import load_config
from kindling.train.settle import settle


class Blobs(Dataset):
    """Three classes of feature vectors, as a notebook writes a Dataset."""

    def __init__(self, n: int = 60, seed: int = 0):
        rng = np.random.default_rng(seed)
        self.y = np.arange(n) % 3
        self.x = rng.normal(size=(n, 4)).astype(np.float32) + self.y[:, None]

    def __len__(self) -> int:
        return len(self.y)

    def __getitem__(self, i: int):
        return torch.from_numpy(self.x[i]), int(self.y[i])


def test_settle_returns_a_new_finished_config_and_leaves_the_given_one_as_it_was():
    cfg = load_config(None, {"data.name": "wine"})
    before = copy.deepcopy(asdict(cfg))
    data = data_mod.build(cfg.data, quiet=True)
    settled, line = settle(cfg, data)
    assert settled is not cfg and asdict(cfg) == before  # not one key of the caller's written
    assert settled.train.monitor == "val_loss"  # wine's validation split is small: the loss picks
    assert settled.model.name == "mlp" and settled.data.batch_size and settled.train.epochs
    assert line.startswith("kindling chose") and "the best epoch by val_loss" in line
    again, _ = settle(settled, data)  # settled: nothing left to choose, nothing changes
    assert asdict(again) == asdict(settled)


def test_the_trainer_chooses_nothing_and_refuses_an_unsettled_config(tmp_path):
    import kindling.train.setup as setup_module
    import kindling.train.trainer as trainer_module
    from kindling.train.trainer import Trainer

    for module in (trainer_module, setup_module):  # no second place that could choose a default
        source = Path(module.__file__).read_text(encoding="utf-8")
        assert "kindling.config import defaults" not in source and "choose(" not in source
        assert "monitor_for(" not in source  # the monitor arrives resolved
    cfg = load_config(None, {"data.name": "wine", "model.name": "mlp", "train.threads": 1})
    data = data_mod.build(cfg.data, quiet=True)
    model = torch.nn.Linear(13, 3)
    with pytest.raises(
        ValueError, match="settled config.*data.batch_size, train.epochs, optim.lr, train.monitor"
    ):
        Trainer(cfg, tmp_path / "run", echo=lambda *a: None).fit(model, data)


def test_a_second_fit_does_not_keep_the_first_ones_data_alive(tmp_path):
    import kindling

    options = {"model": "mlp", "epochs": 1, "threads": 1, "logger": "none", "baseline": "none"}
    first = Blobs()
    alive = weakref.ref(first)
    run = kindling.fit(data=first, run_dir=str(tmp_path / "one"), **options)
    assert run.evaluate("test")["n"] > 0  # the Run holds the objects for its own evaluate
    del first, run
    second = kindling.fit(data=Blobs(seed=1), run_dir=str(tmp_path / "two"), **options)
    gc.collect()
    assert alive() is None  # nothing in the process kept the first fit's Dataset
    assert second.evaluate("test")["n"] > 0


def test_the_photo_size_is_an_argument_of_the_data_step(tmp_path):
    """`data.build(cfg, photos=N)` decodes a few photos at N x N; without it they keep their size."""
    import sys

    from kindling.config.schema import DataConfig

    sys.path.insert(0, str(Path(__file__).parent / "data"))
    from image_files import write_folder

    root = write_folder(tmp_path / "photos", per_class=6, classes=("cat", "dog"), size=100, splits=())
    cfg = DataConfig(name=f"folder:{root}", data_dir=str(tmp_path))
    small = data_mod.build(cfg, quiet=True, photos=80)
    assert small.signature.input_shape[1:] == [80, 80] and small.signature.extras["photo_side"] == 80
    whole = data_mod.build(cfg, quiet=True)
    assert whole.signature.input_shape[1:] == [100, 100] and "photo_side" not in whole.signature.extras
