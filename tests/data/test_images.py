"""Image sources read from files in their real on-disk formats: built-ins through torchvision's classes,
class folders, annotation files; the decode cache; the streaming fallback; every image mode."""

from __future__ import annotations

import os

import numpy as np
import pytest
import torch
from image_files import (
    save_png,
    write_annotations,
    write_cat_to_name,
    write_cifar10,
    write_cifar100,
    write_folder,
    write_mnist,
)

from kindling import data as data_mod
from kindling.config.schema import DataConfig
from kindling.errors import UserError


def cfg(name: str, tmp_path, **kw) -> DataConfig:
    return DataConfig(name=name, data_dir=str(tmp_path / "cache"), download=False, **kw)


@pytest.mark.parametrize("gz", [False, True])
def test_mnist_reads_idx_files_through_torchvision(tmp_path, gz):
    write_mnist(tmp_path / "cache", n_train=120, n_test=40, gz=gz)
    dm = data_mod.build(cfg("mnist", tmp_path))
    assert dm.signature.input_shape == [1, 28, 28]
    assert dm.signature.class_names == [str(i) for i in range(10)]
    assert len(dm.train) + len(dm.val) == 120 and len(dm.test) == 40
    assert dm.train.x.dtype == torch.uint8 and dm.train.x.max() > 200


def test_fashion_mnist_and_cifar100(tmp_path):
    write_mnist(tmp_path / "cache", n_train=60, n_test=20, folder="FashionMNIST")
    write_cifar100(tmp_path / "cache", n_train=80, n_test=20)
    fashion = data_mod.build(cfg("fashion-mnist", tmp_path))
    assert fashion.signature.class_names[0] == "T-shirt/top"
    cifar = data_mod.build(cfg("cifar100", tmp_path))
    assert len(cifar.signature.class_names) == 100 and cifar.signature.input_shape == [3, 32, 32]


def test_cifar10_pickles_with_resize_and_channels(tmp_path):
    write_cifar10(tmp_path / "cache", n_train=100, n_test=30)
    dm = data_mod.build(cfg("cifar10", tmp_path))
    assert dm.signature.class_names[:2] == ["airplane", "automobile"]
    assert dm.train.x.shape[1:] == (3, 32, 32) and len(dm.test) == 30
    assert len(dm.signature.mean) == 3 and all(0 < s < 1 for s in dm.signature.std)
    small = data_mod.build(cfg("cifar10", tmp_path, image_size=16, channels=1))
    assert small.signature.input_shape == [1, 16, 16] and small.test.x.shape == (30, 1, 16, 16)


def test_builtin_split_is_seeded_and_stratified(tmp_path):
    write_mnist(tmp_path / "cache", n_train=200, n_test=20)
    a, b = data_mod.build(cfg("mnist", tmp_path)), data_mod.build(cfg("mnist", tmp_path))
    assert a.train.names == b.train.names and torch.equal(a.val.y, b.val.y)
    assert len(set(a.val.y.tolist())) == 10  # every class in val


def test_missing_builtin_offline_names_the_files(tmp_path):
    with pytest.raises(UserError) as err:
        data_mod.build(cfg("cifar10", tmp_path))
    message = str(err.value)
    assert "cifar-10-batches-py" in message and "data_batch_1" in message and "\n" not in message


def test_folder_with_train_and_valid_and_class_name_map(tmp_path):
    root = write_folder(
        tmp_path / "flowers", per_class=6, classes=("1", "10", "2"), splits=("train", "valid")
    )
    names = write_cat_to_name(tmp_path / "cat_to_name.json", ["1", "10", "2"])
    dm = data_mod.build(cfg(f"folder:{root}", tmp_path, class_names=str(names)))
    assert dm.signature.class_names == ["flower 1", "flower 10", "flower 2"]  # ImageFolder's sorted order
    assert len(dm.train) == 18 and len(dm.val) == 18 and dm.test is None
    assert dm.signature.input_shape == [3, 24, 24]
    assert dm.signature.extras["class_folders"] == ["1", "10", "2"]


def test_folder_without_split_folders_is_split_seeded(tmp_path):
    root = write_folder(tmp_path / "flat", per_class=20, splits=())
    a = data_mod.build(cfg(f"folder:{root}", tmp_path, val_fraction=0.2, test_fraction=0.25))
    b = data_mod.build(cfg(f"folder:{root}", tmp_path, val_fraction=0.2, test_fraction=0.25))
    assert len(a.train) + len(a.val) + len(a.test) == 40
    assert a.test.names == b.test.names and a.val.names == b.val.names
    assert sorted(set(a.test.y.tolist())) == [0, 1]


def test_decode_cache_is_used_and_invalidated_by_a_change(tmp_path):
    root = write_folder(tmp_path / "hym", per_class=5)
    c = cfg(f"folder:{root}", tmp_path)
    first = data_mod.build(c)
    assert len(list((tmp_path / "cache" / "decoded").glob("*.npz"))) == 1
    victim = root / "train" / "ants" / "0000.png"
    stat = victim.stat()
    victim.write_bytes(b"x" * stat.st_size)  # damaged, but same size and mtime: the cache still answers
    os.utime(victim, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    again = data_mod.build(c)
    assert torch.equal(first.train.x, again.train.x)
    os.utime(victim, ns=(stat.st_atime_ns, stat.st_mtime_ns + 10**9))  # touched: decoded again, and found bad
    with pytest.raises(UserError, match="0000.png"):
        data_mod.build(c)


def test_annotation_files_in_seed003_layout(tmp_path):
    root = write_annotations(tmp_path / "flower_data", n_train=24, n_val=9, classes=3)
    dm = data_mod.build(cfg(f"annotations:{root / 'train.txt'}", tmp_path, val=str(root / "val.txt")))
    assert dm.signature.class_names == ["0", "1", "2"]
    assert len(dm.train) == 24 and len(dm.val) == 9 and dm.test is None
    assert "train.txt:1" in dm.train.names[0]


def test_annotation_root_and_class_name_labels(tmp_path):
    images = tmp_path / "imgs"
    x = np.zeros((8, 8, 3), dtype=np.uint8)
    lines = []
    for i in range(12):
        save_png(images / f"im{i}.png", x + i * 10)
        lines.append(f"im{i}.png {'cat' if i % 2 else 'dog'}")
    (tmp_path / "labels.txt").write_text("# name label\n" + "\n".join(lines) + "\n")
    dm = data_mod.build(cfg(f"annotations:{tmp_path / 'labels.txt'}", tmp_path, root=str(images)))
    assert dm.signature.class_names == ["cat", "dog"]
    assert len(dm.train) + len(dm.val) + len(dm.test) == 12


MODES = ["L", "RGB", "RGBA", "P", "CMYK", "I;16", "1", "LA"]


@pytest.mark.parametrize("channels", [1, 3])
def test_every_image_mode_converts_to_the_signature_channels(tmp_path, channels):
    from PIL import Image

    rng = np.random.default_rng(0)
    for cls in ("a", "b"):
        for mode in MODES:
            rgb = Image.fromarray(rng.integers(0, 255, (10, 12, 3), dtype=np.uint8))
            img = (
                rgb.convert(mode)
                if mode != "I;16"
                else Image.fromarray(np.asarray(rgb.convert("L"), dtype=np.uint16) * 257)
            )
            path = tmp_path / "modes" / cls / f"{mode.replace(';', '_')}.{'tif' if mode == 'CMYK' else 'png'}"
            path.parent.mkdir(parents=True, exist_ok=True)
            img.save(path)
    dm = data_mod.build(
        cfg(f"folder:{tmp_path / 'modes'}", tmp_path, channels=channels, val_fraction=0.0, test_fraction=0.0)
    )
    assert dm.train.x.shape == (2 * len(MODES), channels, 10, 12)
    assert int(dm.train.x.max()) > 200  # 16-bit images are scaled, not clipped to black


def test_auto_channels_and_mixed_sizes(tmp_path):
    for cls in ("a", "b"):
        save_png(tmp_path / "g" / cls / "small.png", np.full((20, 30, 1), 100, np.uint8))
        save_png(tmp_path / "g" / cls / "big.png", np.full((40, 50, 1), 200, np.uint8))
        save_png(tmp_path / "g" / cls / "mid.png", np.full((30, 30, 1), 50, np.uint8))
    dm = data_mod.build(cfg(f"folder:{tmp_path / 'g'}", tmp_path, val_fraction=0.0, test_fraction=0.0))
    assert dm.signature.input_shape == [1, 30, 30]  # grey everywhere; the median short side


def test_over_memory_budget_streams_the_same_pixels(tmp_path):
    root = write_folder(tmp_path / "hym", per_class=6)
    eager = data_mod.build(cfg(f"folder:{root}", tmp_path))
    lazy = data_mod.build(cfg(f"folder:{root}", tmp_path / "other", memory_budget_mb=0))
    assert not isinstance(lazy.train.x, torch.Tensor)
    assert lazy.train.names == eager.train.names
    x, y, _ = next(lazy.train.batches(4, torch.arange(len(lazy.train))))
    assert torch.equal(x, eager.train.x[:4]) and torch.equal(y, eager.train.y[:4])
    assert lazy.signature.input_shape == eager.signature.input_shape


def test_predict_resizes_and_converts_like_training(tmp_path):
    from PIL import Image

    from kindling.cli.main import main
    from kindling.data.images.decode import decode_one
    from kindling.predict.predictor import Predictor

    root = write_folder(tmp_path / "hym", per_class=8, size=24)
    run = tmp_path / "run"
    args = ["train", "--data", f"folder:{root}", "--model", "lenet", "--epochs", "1", "--threads", "1"]
    assert (
        main(
            [
                *args,
                "--data-dir",
                str(tmp_path / "cache"),
                "--run-dir",
                str(run),
                "--set",
                "train.logger=none",
            ]
        )
        == 0
    )
    odd = tmp_path / "odd.png"
    Image.fromarray(np.random.default_rng(0).integers(0, 255, (50, 40, 4), dtype=np.uint8), "RGBA").save(odd)
    predictor = Predictor.load(run)
    shape = list(predictor.sig.input_shape)
    assert shape == [3, 24, 24]
    # what training makes of such a file: composited on white, RGB, resized to the training size
    white = Image.new("RGBA", (40, 50), (255, 255, 255, 255))
    expected = Image.alpha_composite(white, Image.open(odd)).convert("RGB").resize((24, 24), Image.BILINEAR)
    expected = np.asarray(expected, dtype=np.uint8).transpose(2, 0, 1)
    assert np.array_equal(decode_one(odd, shape, "odd.png"), expected)  # the training decoder
    assert np.array_equal(predictor.load_input(odd), expected)  # the prediction decoder
    (result,) = predictor.predict_files([odd])
    (direct,) = predictor.predict_batch(expected[None])
    assert result["label_name"] == direct["label_name"]
    assert result["probability"] == pytest.approx(direct["probability"], abs=1e-6)


def test_training_runs_on_streamed_images(tmp_path, capsys):
    from kindling.cli.main import main

    root = write_folder(tmp_path / "hym", per_class=6)
    args = ["train", "--data", f"folder:{root}", "--model", "lenet", "--epochs", "1", "--threads", "1"]
    extra = ["--set", "data.memory_budget_mb=0", "--set", "train.logger=none"]
    assert main([*args, "--data-dir", str(tmp_path / "c"), "--run-dir", str(tmp_path / "run"), *extra]) == 0
    assert "streaming from the files" in capsys.readouterr().err


def test_digits_are_scikit_learns_read_without_importing_it():
    """kindling reads scikit-learn's bundled digits file itself (no 1.4 s import): the same images and
    labels, in the same order, as `load_digits`."""
    from sklearn.datasets import load_digits

    from kindling.data.embedded import _digits_arrays

    images, labels = _digits_arrays()
    bunch = load_digits()
    assert np.array_equal(images, bunch.images) and np.array_equal(labels, bunch.target)
    assert labels.dtype == np.int64 and images.shape == (1797, 8, 8)
