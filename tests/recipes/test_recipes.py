"""Every recipe runs with --dry-run against locally generated data in its source's real format.

This is what CI runs on every recipe. Data sets are never downloaded: the built-in ones are written in
their on-disk formats into a temporary --data-dir, folders of PNGs stand in for hymenoptera / flowers,
THUCNews's folder, the SMS Spam Collection and seed 003's temps.csv are written in their own layouts,
and a recipe asking for pretrained weights gets a local state-dict file of the same architecture.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
import yaml

from kindling.cli.main import main

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "data"))  # tests/data/image_files.py
import image_files  # noqa: E402
import text_files  # noqa: E402

RECIPES = sorted((Path(__file__).resolve().parents[2] / "recipes").glob("*.yaml"))
BUILTIN_WRITERS = {
    "mnist": lambda d: image_files.write_mnist(d, 80, 30),
    "fashion-mnist": lambda d: image_files.write_mnist(d, 80, 30, folder="FashionMNIST"),
    "cifar10": lambda d: image_files.write_cifar10(d, 100, 30),
    "cifar100": lambda d: image_files.write_cifar100(d, 100, 30),
}


def local_data(recipe: dict, tmp: Path) -> list[str]:
    """CLI arguments pointing the recipe at local data of its source's real format."""
    data = recipe.get("data", {})
    name = data.get("name", "digits")
    if name in ("digits", "wine", "diabetes"):  # embedded in scikit-learn: nothing to write
        return []
    if name in BUILTIN_WRITERS:
        BUILTIN_WRITERS[name](tmp / "cache")
        return []
    if name.startswith("folder:"):
        val = "valid" if "flower" in name else "val"
        classes = ("1", "2", "3") if data.get("class_names") else ("ants", "bees")
        root = image_files.write_folder(
            tmp / "images", per_class=6, classes=classes, size=40, splits=("train", val)
        )
        args = ["--data", f"folder:{root}"]
        if data.get("class_names"):
            names = image_files.write_cat_to_name(tmp / "cat_to_name.json", classes)
            args += ["--set", f"data.class_names={names}"]
        return args
    if name.startswith("annotations:"):
        root = image_files.write_annotations(tmp / "ann")
        return ["--data", f"annotations:{root / 'train.txt'}", "--set", f"data.val={root / 'val.txt'}"]
    if name == "text:THUCNews/data":  # the THUCNews folder: {train,dev,test,class}.txt
        return ["--data", f"text:{text_files.write_thucnews(tmp / 'THUCNews' / 'data')}"]
    if name == "text:SMSSpamCollection":  # `label<TAB>text` lines, no header
        return ["--data", f"text:{text_files.write_sms_tsv(tmp / 'SMSSpamCollection')}"]
    if name == "csv:temps.csv":  # seed 003's temps.csv columns (kindling.data.tables.synth)
        from kindling.data.tables.synth import temps_frame

        temps_frame(days=120).to_csv(tmp / "temps.csv", index=False)
        return ["--data", f"csv:{tmp / 'temps.csv'}"]
    raise AssertionError(f"{name}: no local data of its format here; add a writer to local_data()")


def local_weights(recipe: dict, tmp: Path) -> list[str]:
    model = recipe.get("model", {})
    if not model.get("pretrained"):
        return []
    import torch
    import torchvision.models as tvm

    path = tmp / "pretrained.pth"
    torch.save(tvm.get_model(model["name"], weights=None).state_dict(), path)  # stands in for ImageNet's
    return ["--pretrained", str(path)]


def test_every_recipe_has_a_description_line():
    for path in RECIPES:
        first = path.read_text(encoding="utf-8").splitlines()[0]
        assert first.startswith("# ") and len(first) > 20, (
            f"{path.name}: the first line must be '# description'"
        )


@pytest.mark.parametrize("path", RECIPES, ids=[p.stem for p in RECIPES])
def test_recipe_dry_run(path, tmp_path):
    recipe = yaml.safe_load(path.read_text(encoding="utf-8"))
    args = local_data(recipe, tmp_path) + local_weights(recipe, tmp_path)
    rc = main(
        [
            "train",
            str(path),
            "--dry-run",
            "--threads",
            "1",
            "--data-dir",
            str(tmp_path / "cache"),
            "--run-dir",
            str(tmp_path / "run"),
            "--set",
            "train.logger=none",
            *args,
        ]
    )
    assert rc == 0
    assert (tmp_path / "run" / "best" / "model.safetensors").is_file()
