"""TensorBoard pieces that must stay cheap inside the training loop: image grids drawn with tensor ops
(no matplotlib, no torchvision), the model graph from one hooked forward pass (no jit trace: tracing
the digits CNN costs over a second, a hooked forward a few milliseconds), and hparams in the run's own
event file (torch's add_hparams would start a second writer in a timestamped sub-folder).
"""

from __future__ import annotations

import torch

GREEN = torch.tensor([26, 127, 55], dtype=torch.uint8)
RED = torch.tensor([207, 34, 46], dtype=torch.uint8)
GRID_SAMPLES = 16


def training_batch(trainer, size: int = 32) -> tuple[torch.Tensor, torch.Tensor | None]:
    """A batch as the model sees it in training: preprocessed and augmented (the augmentation draws from
    its own generator state, so the training run's random stream is saved and restored around it)."""
    from kindling.train import rng

    x, _, lengths = next(trainer.train_split.batches(size))
    saved = rng.capture()
    try:
        with torch.no_grad():
            x = trainer.preprocess(x)
            if trainer.augment is not None:
                x = trainer.augment(x)
    finally:
        rng.restore(saved)
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


@torch.no_grad()
def prediction_grid(model, trainer, split, pick: torch.Tensor) -> torch.Tensor:
    """The fixed validation samples framed green (right) or red (wrong) by the current model."""
    x, y = split.x[pick], split.y[pick]
    was_training = model.training
    model.eval()
    out = model(trainer.preprocess(x))
    model.train(was_training)
    right = (out.argmax(1) == y.to(out.device)).tolist()  # y may live on the GPU with its split
    return batch_grid(x, [GREEN if ok else RED for ok in right])


def write_graph(writer, model: torch.nn.Module, x: torch.Tensor, lengths=None) -> bool:
    """One forward pass with hooks on the leaf modules -> a GraphDef (module-level dataflow with shapes)."""
    from tensorboard.compat.proto import event_pb2, graph_pb2
    from torch.utils.tensorboard._proto_graph import node_proto

    nodes: list = []
    producer: dict[int, str] = {}  # id(output tensor) -> node name
    root = type(model).__name__
    input_name = f"{root}/input"
    nodes.append(node_proto(input_name, op="Input", outputsize=list(x.shape)))
    producer[id(x)] = input_name
    last = [input_name]

    def hook(module, args, output, name):
        inputs = [producer[id(a)] for a in args if isinstance(a, torch.Tensor) and id(a) in producer] or [
            last[0]
        ]
        shape = list(output.shape) if isinstance(output, torch.Tensor) else None
        nodes.append(node_proto(name, op=type(module).__name__, input=inputs, outputsize=shape))
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
        return False
    finally:
        for h in handles:
            h.remove()
        model.train(was_training)
    graph = graph_pb2.GraphDef(node=nodes)
    writer.file_writer.add_event(event_pb2.Event(graph_def=graph.SerializeToString()))
    return True


def write_hparams(writer, cfg, history: list[dict], progress) -> None:
    """Hyperparameters and the final / best metrics, in the HParams dashboard, in this run's event file."""
    from torch.utils.tensorboard.summary import hparams

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
    exp, ssi, sei = hparams(hp, metrics)
    for summary in (exp, ssi, sei):
        writer.file_writer.add_summary(summary, progress.step)
    for key, value in metrics.items():
        writer.add_scalar(key, value, progress.step)
