"""Every torchvision classification model by name, its head replaced for the class count.

Seed 001 replaces `classifier[6]` of VGG16; seed 003 replaces `fc` of resnet18. Here the last Linear
layer of whatever head the model has is found and replaced, so every family works the same way.
torchvision is imported only when such a model is asked for.
"""

from __future__ import annotations

from collections.abc import Callable

from torch import nn

from kindling.errors import UserError


def _replace_last_linear(model: nn.Module, num_outputs: int) -> None:
    last_name, last = None, None
    for name, module in model.named_modules():
        if isinstance(module, nn.Linear):
            last_name, last = name, module
    if last is None:
        raise UserError(f"{type(model).__name__} has no Linear head to replace")
    parent = model
    *path, leaf = last_name.split(".")
    for part in path:
        parent = getattr(parent, part)
    setattr(parent, leaf, nn.Linear(last.in_features, num_outputs))


def _adapt_stem(model: nn.Module, channels: int) -> None:
    """A 1-channel input: replace the first conv with one that takes 1 channel (weights summed)."""
    if channels == 3:
        return
    import torch

    for name, module in model.named_modules():
        if isinstance(module, nn.Conv2d):
            conv = nn.Conv2d(channels, module.out_channels, module.kernel_size, module.stride, module.padding,
                             module.dilation, module.groups, module.bias is not None)
            with torch.no_grad():
                conv.weight.copy_(module.weight.sum(1, keepdim=True).repeat(1, channels, 1, 1) / channels)
            parent = model
            *path, leaf = name.split(".")
            for part in path:
                parent = getattr(parent, part)
            setattr(parent, leaf, conv)
            return


def lookup(name: str) -> Callable | None:
    """A constructor for torchvision model `name`, or None when torchvision has no such model."""
    try:
        import torchvision.models as tvm
    except ImportError:
        return None
    try:
        available = set(tvm.list_models(module=tvm))
    except Exception:  # older torchvision without list_models(module=...)
        available = set()
    if name not in available:
        return None

    def build(sig, pretrained: str | None = None, dropout: float | None = None) -> nn.Module:
        from kindling.models.common import channels_of

        model = tvm.get_model(name, weights=None)
        if pretrained:
            from kindling.models.weights import load_pretrained

            load_pretrained(model, pretrained)
        _replace_last_linear(model, sig.num_outputs)
        _adapt_stem(model, channels_of(sig))
        return model

    build.__doc__ = f"torchvision {name}, head replaced for the class count"
    return build
