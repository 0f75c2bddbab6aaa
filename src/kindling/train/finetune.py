"""Transfer learning as trainer callbacks: pretrained weights, ImageNet normalisation, frozen backbone,
and seed 003's two stages in one run (the model-side helpers live in `kindling.models.finetune`).

The trainer builds its optimizer over all parameters; a frozen parameter gets no gradient, so the
optimizer skips it until it is unfrozen. Everything here is derived from the trainer's progress, so a
resumed run lands in the same stage with the same learning rate.
"""

from __future__ import annotations

from pathlib import Path

from kindling.data import augment
from kindling.models.finetune import IMAGENET_MEAN, IMAGENET_STD, check, set_backbone_frozen
from kindling.models.weights import ensure_available, load_pretrained
from kindling.task.inputs import make_preprocess
from kindling.train.events import Callback


class Pretrained(Callback):
    """Loads pretrained weights at fit start (not on resume: the checkpoint already holds the weights)."""

    def __init__(self, source: str, model_name: str):
        self.source, self.model_name = source, model_name

    def on_fit_start(self, trainer) -> None:

        if trainer.resume_state is not None:
            return
        summary = load_pretrained(trainer.model, self.model_name, self.source)
        if trainer.dist.is_main:
            trainer.echo(summary)


class ImagenetNormalisation(Callback):
    """A pretrained backbone expects ImageNet's normalisation: switch the Signature (saved in the Bundle)."""

    def on_fit_start(self, trainer) -> None:

        sig = trainer.sig
        if not trainer.task.inputs.pictures or len(sig.mean) not in (1, 3):
            return
        c = len(sig.mean)
        sig.mean = IMAGENET_MEAN if c == 3 else [sum(IMAGENET_MEAN) / 3]
        sig.std = IMAGENET_STD if c == 3 else [sum(IMAGENET_STD) / 3]
        trainer.preprocess = make_preprocess(sig, trainer.device)
        if trainer.augment is not None and hasattr(trainer.augment, "mean"):
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


def callbacks_for(cfg, run_dir) -> list:
    """The callbacks the model config asks for (none for a plain run)."""
    check(cfg)
    found: list = []
    if cfg.model.pretrained and not (Path(run_dir) / "checkpoints" / "last.pt").is_file():
        # before the trainer measures threads and memory formats: offline, the missing weights are the
        # one line, at once (a resumed run's checkpoint holds its weights already)
        ensure_available(cfg.model.name, cfg.model.pretrained)
    if cfg.model.pretrained:
        found += [Pretrained(cfg.model.pretrained, cfg.model.name), ImagenetNormalisation()]
    if cfg.model.freeze == "backbone":
        found.append(FreezeBackbone(cfg.model.unfreeze_epoch, cfg.model.unfreeze_lr_factor))
    return found
