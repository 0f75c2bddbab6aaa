"""Every registered image model: forward, backward, no NaN; the seed models have the seeds' sizes."""

from __future__ import annotations

import pytest
import torch

from kindling.data.signature import Signature
from kindling.errors import UserError
from kindling.models import registry

IMAGE_FAMILIES = ("kindling.models.classic", "kindling.models.mlp")


def image_models() -> list[str]:
    return [n for n in registry.names() if registry.get(n).__module__ in IMAGE_FAMILIES]


def sig(shape, classes: int = 10) -> Signature:
    return Signature(
        "classification",
        "image",
        list(shape),
        [str(i) for i in range(classes)],
        [0.5] * shape[0],
        [0.25] * shape[0],
    )


def forward_backward(model, shape, classes):
    torch.manual_seed(0)
    model.train()
    x = torch.randn(4, *shape)
    out = model(x)
    assert out.shape == (4, classes)
    loss = torch.nn.functional.cross_entropy(out.float(), torch.arange(4) % classes)
    loss.backward()
    assert torch.isfinite(out).all() and torch.isfinite(loss)
    grads = [p.grad for p in model.parameters() if p.requires_grad]
    assert grads and all(g is not None and torch.isfinite(g).all() for g in grads)


@pytest.mark.parametrize("name", image_models())
@pytest.mark.parametrize("shape", [(3, 32, 32), (1, 28, 28), (1, 8, 8)])
def test_every_registered_image_model(name, shape):
    try:
        model = registry.build(name, sig(shape, 7))
    except UserError as exc:  # a seed CNN without padding cannot take 8x8: refused in one line
        assert shape == (1, 8, 8) and "too small" in str(exc)
        return
    forward_backward(model, shape, 7)


@pytest.mark.parametrize(
    "name, shape",
    [
        ("resnet18", (3, 32, 32)),
        ("mobilenet_v3_small", (3, 32, 32)),
        ("resnet18", (1, 32, 32)),
        ("squeezenet1_1", (3, 64, 64)),
    ],
)
def test_torchvision_models_by_name(name, shape):
    import torchvision.models as tvm

    model = registry.build(name, sig(shape, 5))
    forward_backward(model, shape, 5)
    reference = tvm.get_model(name, weights=None)
    assert type(model) is type(reference)  # torchvision's own architecture of that name
    head, old_head = model.get_submodule(model.kindling_head), reference.get_submodule(model.kindling_head)
    assert type(head) is type(old_head)  # the same layer, resized to the 5 classes
    assert (head.out_features if isinstance(head, torch.nn.Linear) else head.out_channels) == 5
    theirs = {k: v.shape for k, v in reference.state_dict().items()}
    ours = {k: v.shape for k, v in model.state_dict().items()}
    assert ours.keys() == theirs.keys()
    changed = {k for k in ours if ours[k] != theirs[k]}
    stem = {k for k in changed if len(ours[k]) == 4 and ours[k][1] == shape[0] != theirs[k][1]}  # grey input
    assert changed - stem == {k for k in ours if k.startswith(model.kindling_head + ".")}
    assert len(stem) == (0 if shape[0] == 3 else 1)


# parameter counts computed from the seeds' own layer definitions (10 classes)
SEED_SIZES = {
    ("lenet", (3, 32, 32)): 121_182,  # seed 000: 1216 + 12832 + 96120 + 10164 + 850
    ("lenet5", (3, 32, 32)): 62_006,  # seed 004: the tutorial Net
    ("lenet5", (1, 32, 32)): 61_706,  # seed 002: the 60-minute blitz Net (1 channel, 32x32)
    ("tudui", (3, 32, 32)): 145_578,  # seed 001: conv 32/32/64, Linear(1024, 64), Linear(64, 10)
    ("mnist-net", (1, 28, 28)): 431_080,  # seed 002: conv 20/50, fc 800 -> 500 -> 10
    ("mnist-mlp", (1, 28, 28)): 136_074,  # seed 003: 784 -> 128 -> 256 -> 10
    ("mnist-cnn", (1, 28, 28)): 121_514,  # seed 003: conv 16, 32, 32, 64; Linear(64*7*7, 10)
}


@pytest.mark.parametrize("name, shape", list(SEED_SIZES))
def test_seed_models_match_the_seeds(name, shape):
    model = registry.build(name, sig(shape))
    assert sum(p.numel() for p in model.parameters()) == SEED_SIZES[(name, shape)]


def test_mnist_net_outputs_log_probabilities():
    model = registry.build("mnist-net", sig((1, 28, 28))).eval()
    out = model(torch.randn(3, 1, 28, 28))
    assert model.outputs_log_probs and torch.allclose(out.exp().sum(1), torch.ones(3), atol=1e-5)


def test_photo_cnn_averages_the_mirror_image_when_evaluating(tmp_path):
    from kindling.models.classic import FeaturesHead

    sig = Signature("classification", "image", [3, 32, 32], ["cat", "dog"])
    model = registry.build("photo-cnn", sig, {"width": 4})
    x = torch.randn(5, 3, 32, 32)
    model.eval()
    with torch.no_grad():
        one, mirror = FeaturesHead.forward(model, x), FeaturesHead.forward(model, x.flip(3))
        assert torch.allclose(model(x), (one + mirror) / 2, atol=1e-6)
        assert torch.allclose(model(x), model(x.flip(3)), atol=1e-6)  # a mirrored photo scores the same
    model.train()
    torch.manual_seed(0)
    trained_view = model(x)
    torch.manual_seed(0)
    assert torch.allclose(trained_view, FeaturesHead.forward(model, x))  # training sees one view
    plain = registry.build("photo-cnn", sig, {"width": 4, "flip_average": False})
    assert type(plain) is FeaturesHead

    ort = pytest.importorskip("onnxruntime")  # the export carries the averaging
    model.eval()
    path = tmp_path / "m.onnx"
    torch.onnx.export(model, (x,), str(path), input_names=["x"], dynamo=False)
    got = ort.InferenceSession(str(path)).run(None, {"x": x.numpy()})[0]
    with torch.no_grad():
        assert torch.allclose(torch.from_numpy(got), model(x), atol=1e-5)
