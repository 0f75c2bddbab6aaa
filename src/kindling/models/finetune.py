"""Transfer learning, the model side: which part is the head, freezing the backbone, ImageNet's
normalisation, and the checks on the fine-tuning settings. The stages that act during training (load the
weights at fit start, unfreeze at an epoch) are callbacks in `kindling.train.finetune`.

    model:
      name: resnet18
      pretrained: imagenet        # or a local .pth / .safetensors file
      freeze: backbone            # feature extraction: only the head trains
      unfreeze_epoch: 20          # then everything trains ...
      unfreeze_lr_factor: 0.1     # ... at optim.lr x 0.1 (seed 003: Adam 1e-2, then 1e-3)
"""

from __future__ import annotations

from pathlib import Path

from torch import nn

from kindling.errors import UserError

IMAGENET_MEAN = [0.485, 0.456, 0.406]
IMAGENET_STD = [0.229, 0.224, 0.225]
FREEZE_CHOICES = (None, "none", "backbone")


def head_modules(model: nn.Module) -> list[nn.Module]:
    """The head that stays trainable under `freeze: backbone`.

    torchvision models name it (`kindling_head`); the seed CNNs call it `classifier`; otherwise `fc`,
    else the last Linear layer.
    """
    name = getattr(model, "kindling_head", None)
    if name:
        return [model.get_submodule(name)]
    for attr in ("classifier", "fc", "head"):
        if isinstance(getattr(model, attr, None), nn.Module):
            return [getattr(model, attr)]
    linears = [m for m in model.modules() if isinstance(m, nn.Linear)]
    if not linears:
        raise UserError(
            f"{type(model).__name__} has no head to keep trainable; model.freeze needs a classifier layer"
        )
    return [linears[-1]]


def set_backbone_frozen(model: nn.Module, frozen: bool) -> int:
    """Freeze (or unfreeze) everything but the head; return the number of trainable parameters."""
    for p in model.parameters():
        p.requires_grad = not frozen
    for head in head_modules(model):
        for p in head.parameters():
            p.requires_grad = True
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


def check(cfg) -> None:
    """Validate the fine-tuning settings (one line on a mistake)."""
    m = cfg.model
    if m.freeze not in FREEZE_CHOICES:
        raise UserError(f"model.freeze '{m.freeze}' is not one of: backbone, none")
    if m.unfreeze_epoch is not None:
        if m.freeze != "backbone":
            raise UserError(
                "model.unfreeze_epoch needs model.freeze: backbone (the stage before it trains the head only)"
            )
        if m.unfreeze_epoch < 1:
            raise UserError(
                f"model.unfreeze_epoch must be 1 or more (epochs of head-only training), got {m.unfreeze_epoch}"
            )
    if not m.unfreeze_lr_factor > 0:
        raise UserError(f"model.unfreeze_lr_factor must be > 0, got {m.unfreeze_lr_factor}")
    if m.pretrained and m.pretrained.lower() not in ("imagenet", "default") and not m.pretrained.isupper():
        if not Path(m.pretrained).expanduser().is_file():
            raise UserError(
                f"--pretrained {m.pretrained} does not exist; pass a .pth/.pt/.safetensors file or 'imagenet'"
            )
