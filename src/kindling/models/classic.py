"""The seeds' own models, each registered under a clear name, adapted to the data's shape."""

from __future__ import annotations

import torch
from torch import nn

from kindling.models.common import channels_of, flat_size


class FeaturesHead(nn.Module):
    """features -> flatten -> classifier: the shape every seed CNN has."""

    def __init__(self, features: nn.Module, classifier_of, input_shape: list[int]):
        super().__init__()
        self.features = features
        self.classifier = classifier_of(flat_size(features, input_shape))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(torch.flatten(self.features(x), 1))


def _lenet(sig, conv1: int, conv2: int) -> nn.Module:
    """Two conv 5x5 + ReLU + max-pool blocks, then fc 120 -> 84 -> classes; flatten size measured."""
    c = channels_of(sig)
    pad = 2 if min(sig.input_shape[1:]) < 16 else 0  # tiny images (digits 8x8) keep their size
    features = nn.Sequential(
        nn.Conv2d(c, conv1, 5, padding=pad), nn.ReLU(), nn.MaxPool2d(2, 2),
        nn.Conv2d(conv1, conv2, 5, padding=pad), nn.ReLU(), nn.MaxPool2d(2, 2),
    )  # fmt: skip
    return FeaturesHead(
        features,
        lambda n: nn.Sequential(
            nn.Linear(n, 120), nn.ReLU(), nn.Linear(120, 84), nn.ReLU(), nn.Linear(84, sig.num_outputs)
        ),
        sig.input_shape,
    )


def lenet(sig) -> nn.Module:
    """Seed 000's LeNet: conv 16 -> 32 (5x5), fc 120 -> 84; the flatten size computed from the input."""
    return _lenet(sig, 16, 32)


def lenet5(sig) -> nn.Module:
    """Seeds 002/004's LeNet-5 (the CIFAR-10 tutorial net): conv 6 -> 16 (5x5), fc 120 -> 84."""
    return _lenet(sig, 6, 16)


def tudui(sig) -> nn.Module:
    """Seed 001's Sequential CIFAR-10 model: three conv 5x5 + max-pool blocks (32, 32, 64), fc 64."""
    c = channels_of(sig)
    features = nn.Sequential(
        nn.Conv2d(c, 32, 5, padding=2), nn.MaxPool2d(2),
        nn.Conv2d(32, 32, 5, padding=2), nn.MaxPool2d(2),
        nn.Conv2d(32, 64, 5, padding=2), nn.MaxPool2d(2),
    )  # fmt: skip
    return FeaturesHead(
        features, lambda n: nn.Sequential(nn.Linear(n, 64), nn.Linear(64, sig.num_outputs)), sig.input_shape
    )


class MnistNet(nn.Module):
    """Seed 002's copy of pytorch/examples' MNIST Net: conv 20 -> 50 (5x5) + max-pool, fc 500, log-softmax.

    (Later pytorch/examples versions use conv 32 -> 64 with dropout; the seed has this older one.)
    """

    def __init__(self, sig):
        super().__init__()
        c = channels_of(sig)
        self.features = nn.Sequential(
            nn.Conv2d(c, 20, 5, 1), nn.ReLU(), nn.MaxPool2d(2, 2),
            nn.Conv2d(20, 50, 5, 1), nn.ReLU(), nn.MaxPool2d(2, 2),
        )  # fmt: skip
        n = flat_size(self.features, sig.input_shape)  # 4*4*50 for 28x28, as the seed hard-codes
        self.classifier = nn.Sequential(
            nn.Linear(n, 500), nn.ReLU(), nn.Linear(500, sig.num_outputs), nn.LogSoftmax(dim=1)
        )  # fmt: skip
        self.outputs_log_probs = True  # the trainer uses NLL loss, as the example does (F.nll_loss)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(torch.flatten(self.features(x), 1))


def mnist_net(sig) -> nn.Module:
    """Seed 002's pytorch/examples MNIST Net (conv 20/50, fc 500; log-softmax + NLL as written there)."""
    return MnistNet(sig)


def mnist_cnn(sig) -> nn.Module:
    """Seed 003's three-block CNN: conv 16 (5x5) + pool, conv 32 + conv 32 + pool, conv 64, fc."""
    c = channels_of(sig)
    features = nn.Sequential(
        nn.Conv2d(c, 16, 5, 1, 2), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(16, 32, 5, 1, 2), nn.ReLU(), nn.Conv2d(32, 32, 5, 1, 2), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(32, 64, 5, 1, 2), nn.ReLU(),
    )  # fmt: skip
    return FeaturesHead(features, lambda n: nn.Linear(n, sig.num_outputs), sig.input_shape)


def digits_cnn(sig, width: int = 48, dropout: float = 0.25) -> nn.Module:
    """The demo's default CNN: two conv-BN-ReLU blocks per stage, small and fast on a CPU."""
    c = channels_of(sig)

    def block(cin: int, cout: int) -> list[nn.Module]:
        return [nn.Conv2d(cin, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(inplace=True)]

    features = nn.Sequential(
        *block(c, width), *block(width, width), nn.MaxPool2d(2),
        *block(width, 2 * width), *block(2 * width, 2 * width), nn.AdaptiveAvgPool2d(2),
    )  # fmt: skip
    return FeaturesHead(
        features,
        lambda n: nn.Sequential(nn.Dropout(dropout), nn.Linear(n, sig.num_outputs)),
        sig.input_shape,
    )


class FlipAveraged(FeaturesHead):
    """A FeaturesHead that, when evaluating, averages the scores of the image and its mirror image
    (test-time augmentation): the network trained on flipped photos, so both views are evidence. The
    Bundle, `predict`, `serve` and the ONNX export all carry it, since it is the model's own forward."""

    averages_flips = True  # test-time augmentation leaves out the flip view (kindling.data.tta)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = super().forward(x)
        return out if self.training else (out + super().forward(x.flip(3))) / 2


def photo_cnn(sig, width: int = 16, dropout: float = 0.25, flip_average: bool = True) -> nn.Module:
    """Photos from scratch: a conv-BN-ReLU block and a 2x2 max-pool per stage, doubling the width, down
    to 8 pixels, then a global average. A few hundred photos cannot feed a resnet18 from scratch: it ends
    near chance on some splits, where this small net learns and costs a fraction of the time.
    `flip_average`: scores averaged with the mirror image's when evaluating (FlipAveraged)."""
    c = channels_of(sig)
    side = min(sig.input_shape[1:])
    layers, cin, cout = [], c, width
    while True:
        layers += [
            nn.Conv2d(cin, cout, 3, padding=1, bias=False),
            nn.BatchNorm2d(cout),
            nn.ReLU(inplace=True),
        ]
        if side <= 8:
            break
        layers.append(nn.MaxPool2d(2))
        side //= 2
        cin, cout = cout, min(2 * cout, 16 * width)
    layers += [nn.AdaptiveAvgPool2d(1)]
    return (FlipAveraged if flip_average else FeaturesHead)(
        nn.Sequential(*layers),
        lambda n: nn.Sequential(nn.Dropout(dropout), nn.Linear(n, sig.num_outputs)),
        sig.input_shape,
    )
