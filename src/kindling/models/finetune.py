"""Transfer learning as trainer callbacks: pretrained weights, ImageNet normalisation, frozen backbone,
and seed 003's two stages in one run.

    model:
      name: resnet18
      pretrained: imagenet        # or a local .pth / .safetensors file
      freeze: backbone            # feature extraction: only the head trains
      unfreeze_epoch: 20          # then everything trains ...
      unfreeze_lr_factor: 0.1     # ... at optim.lr x 0.1 (seed 003: Adam 1e-2, then 1e-3)

The trainer builds its optimizer over all parameters; a frozen parameter gets no gradient, so the
optimizer skips it until it is unfrozen. Everything here is derived from the trainer's progress, so a
resumed run lands in the same stage with the same learning rate.
"""

from __future__ import annotations

from pathlib import Path

from torch import nn

from kindling.errors import UserError
from kindling.train.events import Callback

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


class Pretrained(Callback):
    """Loads pretrained weights at fit start (not on resume: the checkpoint already holds the weights)."""

    def __init__(self, source: str, model_name: str):
        self.source, self.model_name = source, model_name

    def on_fit_start(self, trainer) -> None:
        from kindling.models.weights import load_pretrained

        if trainer.resume_state is not None:
            return
        summary = load_pretrained(trainer.model, self.model_name, self.source)
        if trainer.dist.is_main:
            trainer.echo(summary)


class ImagenetNormalisation(Callback):
    """A pretrained backbone expects ImageNet's normalisation: switch the Signature (saved in the Bundle)."""

    def on_fit_start(self, trainer) -> None:
        from kindling.data.transforms import make_preprocess

        sig = trainer.sig
        if sig.input_kind != "image" or len(sig.mean) not in (1, 3):
            return
        c = len(sig.mean)
        sig.mean = IMAGENET_MEAN if c == 3 else [sum(IMAGENET_MEAN) / 3]
        sig.std = IMAGENET_STD if c == 3 else [sum(IMAGENET_STD) / 3]
        trainer.preprocess = make_preprocess(sig, trainer.device)
        if trainer.augment is not None and hasattr(trainer.augment, "mean"):
            from kindling.data import augment

            trainer.augment = augment.build(trainer.cfg.data.augment, sig)


class FreezeBackbone(Callback):
    """`freeze: backbone`, and with `unfreeze_epoch: N` everything trains from epoch N+1 at lr x factor."""

    def __init__(self, unfreeze_epoch: int | None, lr_factor: float):
        self.unfreeze_epoch, self.lr_factor = unfreeze_epoch, lr_factor

    def _unfrozen_at(self, epoch: int) -> bool:
        return self.unfreeze_epoch is not None and epoch >= self.unfreeze_epoch

    def on_fit_start(self, trainer) -> None:
        p = trainer.progress
        frozen = not self._unfrozen_at(p.epoch) or (p.epoch == self.unfreeze_epoch and p.batch == 0)
        trainable = set_backbone_frozen(trainer.model, frozen)
        if frozen and trainer.dist.is_main:
            total = sum(q.numel() for q in trainer.model.parameters())
            until = f" until epoch {self.unfreeze_epoch}" if self.unfreeze_epoch is not None else ""
            trainer.echo(f"backbone frozen{until}: training {trainable:,} of {total:,} parameters")

    def on_epoch_start(self, trainer) -> None:
        p = trainer.progress
        if self.unfreeze_epoch is None or p.epoch != self.unfreeze_epoch or p.batch != 0:
            return  # a resume mid-epoch already has the new lr in the restored optimizer
        set_backbone_frozen(trainer.model, False)
        lr = trainer.cfg.optim.lr * self.lr_factor  # seed 003: a new optimizer at the lower lr
        for group in trainer.optimizer.param_groups:
            group["lr"] = lr
            group.pop("initial_lr", None)
        scheduler = getattr(trainer, "scheduler", None)
        if scheduler is not None and hasattr(scheduler, "base_lrs"):
            scheduler.base_lrs = [lr for _ in scheduler.base_lrs]
        if trainer.dist.is_main:
            trainer.echo(f"epoch {p.epoch + 1}: backbone unfrozen, all parameters train at lr {lr:g}")


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


def callbacks_for(cfg, run_dir) -> list:
    """The callbacks the model config asks for (none for a plain run)."""
    check(cfg)
    found: list = []
    if cfg.model.pretrained:
        found += [Pretrained(cfg.model.pretrained, cfg.model.name), ImagenetNormalisation()]
    if cfg.model.freeze == "backbone":
        found.append(FreezeBackbone(cfg.model.unfreeze_epoch, cfg.model.unfreeze_lr_factor))
    return found
