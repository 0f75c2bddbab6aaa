"""Every torchvision classification model by name, its head replaced for the class count.

Seed 001 replaces `classifier[6]` of VGG16; seed 003 replaces `fc` of resnet18. Here the last Linear
layer of whatever head the model has is found and replaced (squeezenet's final 1x1 conv likewise), so
every family works the same way, and the replaced module's name is kept as `model.kindling_head` for
`model.freeze: backbone`. Pretrained weights (`--pretrained PATH` or `imagenet`) are loaded by
`kindling.train.finetune` when training starts, so a Bundle never depends on the weights file.
torchvision is imported only when such a model is asked for.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn

from kindling.errors import UserError
from kindling.models.common import channels_of

# constructor arguments some families need to train as a plain classifier (one output tensor)
EXTRA_ARGS = {
    "googlenet": {"aux_logits": False, "init_weights": True},
    "inception_v3": {"aux_logits": False, "init_weights": True},
}


def _set_module(model: nn.Module, dotted: str, module: nn.Module) -> None:
    parent = model
    *path, leaf = dotted.split(".")
    for part in path:
        parent = getattr(parent, part)
    setattr(parent, leaf, module)


def replace_head(model: nn.Module, num_outputs: int) -> str:
    """Replace the last Linear (or a final 1x1 conv classifier) with one for `num_outputs`; return its name."""
    last_name, last = None, None
    for name, module in model.named_modules():
        if isinstance(module, nn.Linear):
            last_name, last = name, module
    if last is not None:
        _set_module(model, last_name, nn.Linear(last.in_features, num_outputs))
        return last_name
    convs = [(n, m) for n, m in model.named_modules() if isinstance(m, nn.Conv2d) and m.kernel_size == (1, 1)]
    if convs and convs[-1][0].startswith("classifier"):
        name, conv = convs[-1]
        _set_module(model, name, nn.Conv2d(conv.in_channels, num_outputs, 1))
        return name
    raise UserError(f"{type(model).__name__} has no Linear head to replace; pick another model")


def adapt_stem(model: nn.Module, channels: int) -> None:
    """Grey input: replace the first conv with one taking `channels` (its weights summed over RGB)."""
    if channels == 3:
        return
    for name, module in model.named_modules():
        if isinstance(module, nn.Conv2d):
            conv = nn.Conv2d(
                channels,
                module.out_channels,
                module.kernel_size,
                module.stride,
                module.padding,
                module.dilation,
                module.groups,
                module.bias is not None,
            )
            with torch.no_grad():
                conv.weight.copy_(module.weight.sum(1, keepdim=True).repeat(1, channels, 1, 1) / channels)
            _set_module(model, name, conv)
            return


def available() -> set[str]:
    try:
        import torchvision.models as tvm  # lazy: torchvision
    except ImportError:
        return set()
    return set(tvm.list_models(module=tvm))


def lookup(name: str) -> Callable | None:
    """A constructor for torchvision model `name`, or None when torchvision has no such model."""
    if name not in available():
        return None

    def build(sig, dropout: float | None = None) -> nn.Module:
        import torchvision.models as tvm  # lazy: torchvision

        channels = channels_of(sig)
        model = tvm.get_model(name, weights=None, **EXTRA_ARGS.get(name, {}))
        model.kindling_head = replace_head(model, sig.num_outputs)
        adapt_stem(model, channels)
        if dropout is not None:
            for module in model.modules():
                if isinstance(module, nn.Dropout):
                    module.p = float(dropout)
        return model

    build.__doc__ = f"torchvision {name}, head replaced for the class count"
    return build
