"""The torch side of the TensorBoard logs, cheap enough for the training loop: image grids drawn with
tensor ops (no matplotlib, no torchvision), the model graph from one hooked forward pass (no jit trace:
tracing the digits CNN costs over a second, a hooked forward a few milliseconds), the prediction grid's
right/wrong per validation, and the hparams record. They produce plain numbers and arrays; the event
file itself is written by kindling.report.events, in the report sidecar process when one runs.
"""

from __future__ import annotations

import torch

GRID_SAMPLES = 16


def training_batch(trainer, size: int = 32) -> tuple[torch.Tensor, torch.Tensor | None]:
    """A batch as the model sees it in training: preprocessed and augmented (the augmentation draws from
    its own generator state, so the training run's random stream is saved and restored around it)."""
    from kindling.train import rng

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


class PredictionGrid:
    """The fixed validation samples framed green (right) or red (wrong) by the current model. The images
    never change, so the grid is laid out once (`layout`: the picture with blank frames, which pixels
    are frames, and whose); each validation runs the model on these few samples (`right`) and the writer
    recolours the frames (events.grid_image)."""

    def __init__(self, split, count: int = GRID_SAMPLES):
        import numpy as np

        pick = grid_pick(len(split), count)
        self.pick = pick
        self.x, self.y = split.x[pick], split.y[pick]
        self.predicted: list[torch.Tensor] = []
        n = len(pick)
        cells = torch.arange(n, dtype=torch.uint8).view(n, 1, 1).expand(n, 3, 1)
        index = batch_grid(torch.zeros_like(self.x.cpu()), [c for c in cells + 1])[0].numpy()
        frame = (index > 0) & (index <= n)  # H, W: frame pixels (255: the unused background)
        base = batch_grid(self.x.cpu()).permute(1, 2, 0).contiguous().numpy()  # H, W, 3
        base[frame] = 255
        self.layout = {"base": base, "frame": frame, "cell_of": index[frame].astype(np.int64) - 1}

    def watch(self, out, y, offset: int) -> None:
        """A trainer.val_watchers entry: keeps the classes the validation pass gives these samples, which
        saves a forward pass of its own."""
        if offset == 0:
            self.predicted = []
        rows = self.pick[(self.pick >= offset) & (self.pick < offset + len(y))] - offset
        self.predicted.append(out[rows.to(out.device)].argmax(1).cpu())

    @torch.no_grad()
    def right(self, model, preprocess):
        """bool per sample: does the model now predict it right? From the last validation pass when it
        covered them all, else from a forward pass here."""
        predicted = torch.cat(self.predicted) if self.predicted else None
        if predicted is not None and len(predicted) == len(self.y):
            return (predicted == self.y.cpu()).numpy()
        was_training = model.training
        model.eval()
        out = model(preprocess(self.x))
        model.train(was_training)
        return (out.argmax(1) == self.y.to(out.device)).cpu().numpy()  # y may live on the GPU


def graph_nodes(model: torch.nn.Module, x: torch.Tensor, lengths=None) -> list | None:
    """One forward pass with hooks on the leaf modules -> [name, op, input names, output shape] per node
    (module-level dataflow with shapes), or None for a model the hooks cannot follow."""
    nodes: list = []
    producer: dict[int, str] = {}  # id(output tensor) -> node name
    root = type(model).__name__
    input_name = f"{root}/input"
    nodes.append([input_name, "Input", [], list(x.shape)])
    last = [input_name]

    def hook(module, args, output, name):
        inputs = [producer[id(a)] for a in args if isinstance(a, torch.Tensor) and id(a) in producer] or [
            last[0]
        ]
        shape = list(output.shape) if isinstance(output, torch.Tensor) else None
        nodes.append([name, type(module).__name__, inputs, shape])
        if isinstance(output, torch.Tensor):
            producer[id(output)] = name
        last[0] = name

    handles = []
    for qual, module in model.named_modules():
        if qual and not list(module.children()):
            node_name = f"{root}/{qual.replace('.', '/')}"
            handles.append(module.register_forward_hook(lambda m, a, o, n=node_name: hook(m, a, o, n)))
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            x_in = x[:2]
            producer[id(x_in)] = input_name
            model(x_in, lengths[:2]) if getattr(
                model, "takes_lengths", False
            ) and lengths is not None else model(x_in)
    except Exception:  # a model the hooks cannot follow: TensorBoard simply shows no graph
        return None
    finally:
        for h in handles:
            h.remove()
        model.train(was_training)
    return nodes


def hparams_record(cfg, history: list[dict], progress) -> tuple[dict, dict]:
    """Hyperparameters, and the final / best metrics under hparam/ (the HParams dashboard's columns)."""
    hp = {
        "model": cfg.model.name,
        "data": cfg.data.name,
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
