"""TensorBoard logs through torch's own SummaryWriter: scalars per step and per epoch, an augmented
training batch, a prediction grid per validation (frames green right, red wrong) and the hyperparameters
with the final metrics. Image grids are drawn with tensor ops (no matplotlib in the training loop).
"""

from __future__ import annotations

import torch

GRID_SAMPLES = 16


def training_batch(trainer, size: int = 32) -> tuple[torch.Tensor, torch.Tensor | None]:
    """A batch as the model sees it in training: preprocessed and augmented (the augmentation draws from
    its own generator state, so the training run's random stream is saved and restored around it)."""
    from kindling.train import rng  # lazy: numpy

    x, _, lengths = next(trainer.train_split.batches(size))
    with rng.kept(), torch.no_grad():
        x = trainer.preprocess(x)
        if trainer.augment is not None:
            x = trainer.augment(x)
    return x, lengths


def denormalise(x: torch.Tensor, sig) -> torch.Tensor:
    """Model input (normalised floats) -> uint8 images for display."""
    if sig.mean:
        mean = torch.tensor(sig.mean, dtype=x.dtype, device=x.device).view(1, -1, 1, 1)
        std = torch.tensor(sig.std, dtype=x.dtype, device=x.device).view(1, -1, 1, 1)
        x = x * std + mean
    return (x.clamp(0, 1) * 255).round().to(torch.uint8).cpu()


def batch_grid(
    images: torch.Tensor, borders: list[torch.Tensor] | None = None, ncols: int = 8, pad: int = 2
) -> torch.Tensor:
    """uint8 N,C,H,W -> one uint8 3,H',W' grid; tiny images are upscaled (nearest) to at least 32 px.
    `borders` colours each cell's frame (green right, red wrong)."""
    images = images[:, :3] if images.shape[1] >= 3 else images[:, :1].expand(-1, 3, -1, -1)
    N, C, H, W = images.shape  # batch, channels (3), height, width
    scale = max(1, 32 // max(H, W))
    if scale > 1:
        images = images.repeat_interleave(scale, 2).repeat_interleave(scale, 3)
        H, W = H * scale, W * scale
    ncols = min(ncols, N)
    nrows = -(-N // ncols)
    grid = torch.full((3, nrows * (H + 2 * pad), ncols * (W + 2 * pad)), 255, dtype=torch.uint8)
    for i in range(N):
        r, c = divmod(i, ncols)
        top, left = r * (H + 2 * pad), c * (W + 2 * pad)
        if borders is not None:
            grid[:, top : top + H + 2 * pad, left : left + W + 2 * pad] = borders[i].view(3, 1, 1)
        grid[:, top + pad : top + pad + H, left + pad : left + pad + W] = images[i]
    return grid


def grid_pick(n: int, count: int = GRID_SAMPLES) -> torch.Tensor:
    gen = torch.Generator().manual_seed(0)
    return torch.randperm(n, generator=gen)[: min(n, count)].sort().values


RIGHT, WRONG = torch.tensor([26, 127, 55], dtype=torch.uint8), torch.tensor([207, 34, 46], dtype=torch.uint8)


class PredictionGrid:
    """A fixed choice of validation samples, framed green (right) or red (wrong) by the current model.
    `watch` is a trainer.val_watchers entry: the validation pass gives these samples' classes, which saves
    a forward pass of their own."""

    def __init__(self, split, count: int = GRID_SAMPLES):
        self.pick = grid_pick(len(split), count)
        self.images, self.y = split.x[self.pick].cpu(), split.y[self.pick].cpu()
        self.predicted: list[torch.Tensor] = []

    def watch(self, out, y, offset: int) -> None:
        if offset == 0:
            self.predicted = []
        rows = self.pick[(self.pick >= offset) & (self.pick < offset + len(y))] - offset
        self.predicted.append(out[rows.to(out.device)].argmax(1).cpu())

    def right(self) -> torch.Tensor | None:
        """bool per sample from the last validation pass, or None when it did not cover them all."""
        predicted = torch.cat(self.predicted) if self.predicted else None
        return predicted == self.y if predicted is not None and len(predicted) == len(self.y) else None

    def picture(self, right: torch.Tensor) -> torch.Tensor:
        return batch_grid(self.images, [RIGHT if r else WRONG for r in right.tolist()])


def hparams_record(cfg, history: list[dict], progress) -> tuple[dict, dict]:
    """Hyperparameters, and the final / best metrics under hparam/ (the HParams dashboard's columns)."""
    hp = {
        "model": cfg.model.name,
        "data": cfg.data.shown,
        "optimizer": cfg.optim.name,
        "lr": cfg.optim.lr,
        "batch_size": cfg.data.batch_size,
        "epochs": cfg.train.epochs,
        "scheduler": cfg.sched.name,
        "weight_decay": cfg.optim.weight_decay,
        "augment": cfg.data.augment,
        "seed": cfg.train.seed,
    }
    final = history[-1] if history else {}
    metrics = {
        f"hparam/final_{k}": float(v)
        for k, v in final.items()
        if k.startswith(("train_", "val_")) and not k.endswith("_n") and isinstance(v, (int, float))
    }
    if progress.best is not None:
        metrics["hparam/best_monitor"] = float(progress.best)
    return hp, metrics
