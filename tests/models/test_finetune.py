"""Transfer learning: pretrained weights loaded safely, a frozen backbone, seed 003's two stages in one run."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file, save_file

from kindling.cli.main import main
from kindling.config.schema import RunConfig
from kindling.data.signature import Signature
from kindling.errors import UserError
from kindling.models import registry
from kindling.models.finetune import IMAGENET_MEAN, check
from kindling.models.weights import load_pretrained

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "data"))  # tests/data/image_files.py
from image_files import write_folder  # noqa: E402


def sig(shape=(3, 32, 32), classes: int = 3) -> Signature:
    return Signature(
        "classification",
        "image",
        list(shape),
        [str(i) for i in range(classes)],
        [0.5] * shape[0],
        [0.25] * shape[0],
    )


@pytest.fixture(scope="module")
def resnet_state():
    import torchvision.models as tvm

    torch.manual_seed(0)
    return tvm.get_model("resnet18", weights=None).state_dict()  # 1000 classes, like ImageNet's


@pytest.mark.parametrize("wrap", ["plain", "state_dict", "ddp", "safetensors"])
def test_pretrained_weights_load_except_the_head(tmp_path, resnet_state, wrap):
    if wrap == "safetensors":
        path = tmp_path / "w.safetensors"
        save_file({k: v.contiguous() for k, v in resnet_state.items()}, str(path))
    else:
        path = tmp_path / "w.pth"
        state = {"module." + k: v for k, v in resnet_state.items()} if wrap == "ddp" else resnet_state
        torch.save({"state_dict": state, "epoch": 3} if wrap == "state_dict" else state, path)
    model = registry.build("resnet18", sig())
    summary = load_pretrained(model, "resnet18", str(path))
    assert torch.equal(model.conv1.weight, resnet_state["conv1.weight"])
    assert torch.equal(model.layer4[1].bn2.running_var, resnet_state["layer4.1.bn2.running_var"])
    assert model.fc.weight.shape == (3, 512) and "fc.weight" in summary


def test_grey_stem_takes_summed_rgb_weights(tmp_path, resnet_state):
    torch.save(resnet_state, tmp_path / "w.pt")
    model = registry.build("resnet18", sig((1, 32, 32)))
    load_pretrained(model, "resnet18", str(tmp_path / "w.pt"))
    assert torch.allclose(model.conv1.weight, resnet_state["conv1.weight"].sum(1, keepdim=True))


def test_a_pickled_model_is_refused_not_executed(tmp_path):
    torch.save(torch.nn.Linear(2, 2), tmp_path / "whole.pth")  # a whole module: needs unpickling code
    with pytest.raises(UserError, match="refused to unpickle"):
        load_pretrained(registry.build("resnet18", sig()), "resnet18", str(tmp_path / "whole.pth"))


def test_weights_of_another_architecture_are_refused(tmp_path):
    import torchvision.models as tvm

    torch.save(tvm.get_model("mobilenet_v3_small", weights=None).state_dict(), tmp_path / "m.pth")
    with pytest.raises(UserError, match="does not fit"):
        load_pretrained(registry.build("resnet18", sig()), "resnet18", str(tmp_path / "m.pth"))


def test_missing_or_damaged_files(tmp_path):
    model = registry.build("resnet18", sig())
    with pytest.raises(UserError, match="does not exist"):
        load_pretrained(model, "resnet18", str(tmp_path / "nope.pth"))
    (tmp_path / "bad.pth").write_bytes(b"\x00" * 100)
    with pytest.raises(UserError, match="truncated or not a PyTorch"):
        load_pretrained(model, "resnet18", str(tmp_path / "bad.pth"))


def test_config_mistakes_are_refused():
    cfg = RunConfig()
    cfg.model.freeze = "everything"
    with pytest.raises(UserError, match="model.freeze"):
        check(cfg)
    cfg.model.freeze, cfg.model.unfreeze_epoch = None, 3
    with pytest.raises(UserError, match="needs model.freeze: backbone"):
        check(cfg)


def run(tmp_path, name: str, data: str, weights, *extra: str):
    rc = main(
        [
            "train",
            "--data",
            data,
            "--model",
            "lenet",
            "--threads",
            "1",
            "--data-dir",
            str(tmp_path / "cache"),
            "--pretrained",
            str(weights),
            "--optimizer",
            "sgd",
            "--lr",
            "0.05",
            "--run-dir",
            str(tmp_path / name),
            "--set",
            "model.freeze=backbone",
            "--set",
            "train.logger=none",
            *extra,
        ]
    )
    assert rc == 0
    records = [json.loads(line) for line in (tmp_path / name / "metrics.jsonl").read_text().splitlines()]
    bundle = load_file(str(tmp_path / name / "best" / "model.safetensors"))
    meta = json.loads((tmp_path / name / "best" / "bundle.json").read_text())
    return records, bundle, meta


def test_freeze_then_unfreeze_in_one_run(tmp_path):
    root = write_folder(tmp_path / "hym", per_class=10)
    torch.manual_seed(1)
    source = registry.build("lenet", sig((3, 24, 24), 2)).state_dict()
    torch.save(source, tmp_path / "lenet.pth")
    data = f"folder:{root}"

    records, bundle, meta = run(tmp_path, "frozen", data, tmp_path / "lenet.pth", "--epochs", "1")
    assert torch.equal(bundle["features.0.weight"], source["features.0.weight"])  # backbone untouched
    assert not torch.equal(bundle["classifier.4.weight"], source["classifier.4.weight"])  # head trained
    assert meta["signature"]["mean"] == IMAGENET_MEAN  # a pretrained backbone sees ImageNet's normalisation

    records, bundle, _ = run(
        tmp_path,
        "two-stage",
        data,
        tmp_path / "lenet.pth",
        "--epochs",
        "2",
        "--set",
        "model.unfreeze_epoch=1",
        "--set",
        "model.unfreeze_lr_factor=0.1",
        "--set",
        "train.monitor=val_loss",
    )
    assert [round(r["lr"], 6) for r in records] == [0.05, 0.005]
    assert not torch.equal(bundle["features.0.weight"], source["features.0.weight"])  # stage 2 trained it


def test_resume_lands_in_the_right_stage(tmp_path):
    root = write_folder(tmp_path / "hym", per_class=10)
    torch.manual_seed(2)
    source = registry.build("lenet", sig((3, 24, 24), 2)).state_dict()
    torch.save(source, tmp_path / "lenet.pth")
    stage = [
        "--set",
        "model.unfreeze_epoch=1",
        "--set",
        "model.unfreeze_lr_factor=0.1",
        "--set",
        "train.monitor=val_loss",
    ]
    run(tmp_path, "r", f"folder:{root}", tmp_path / "lenet.pth", "--epochs", "1", *stage)
    rc = main(["train", "--resume", str(tmp_path / "r"), "--epochs", "2", "--threads", "1"])
    assert rc == 0
    records = [json.loads(line) for line in (tmp_path / "r" / "metrics.jsonl").read_text().splitlines()]
    assert [round(r["lr"], 6) for r in records] == [0.05, 0.005]
    last = torch.load(tmp_path / "r" / "checkpoints" / "last.pt", weights_only=True)["model"]
    assert not torch.equal(
        last["features.0.weight"], source["features.0.weight"]
    )  # unfrozen after the resume
