"""Trainer overhead: kindling vs a hand-written loop vs PyTorch Lightning, same model, data, batch size.

Each contender trains the same freshly built model for one epoch per round; rounds are interleaved
(kindling, raw, lightning, kindling, ...) so machine drift hits all alike. Threads are fixed to the same
count for all. Kindling's time is its training-epoch time (validation excluded, as for the others).
"""

from __future__ import annotations

import copy
import os
import statistics
import sys
import time

sys.path.insert(0, os.path.dirname(__file__))

from common import cifar_like, interleaved, machine, table  # noqa: E402
from raw_loop import raw_epoch  # noqa: E402


def _kindling_epoch(model, data, batch_size: int, threads: int, device: str = "cpu") -> float:
    import tempfile

    from kindling.config import load_config
    from kindling.train.trainer import Trainer

    with tempfile.TemporaryDirectory() as tmp:
        cfg = load_config(
            None,
            {
                "data.batch_size": batch_size,
                "train.epochs": 1,
                "train.threads": threads,
                "train.logger": "none",
                "optim.name": "sgd",
                "optim.lr": 0.01,
                "run_dir": tmp,
                "train.device": device,
            },
        )
        trainer = Trainer(cfg, tmp, echo=lambda *a: None)
        trainer.fit(model, data)
        return trainer.history[-1]["seconds"]


def _lightning_epoch(model, x, y, batch_size: int, mean: float, std: float) -> float | None:
    try:
        import lightning as L
    except ImportError:
        return None
    import torch

    class Module(L.LightningModule):
        def __init__(self, net):
            super().__init__()
            self.net = net

        def training_step(self, batch, _):
            xb, yb = batch
            return torch.nn.functional.cross_entropy(self.net(xb), yb)

        def configure_optimizers(self):
            return torch.optim.SGD(self.parameters(), lr=0.01, momentum=0.9)

    xs = (
        x.float() / 255 - mean
    ) / std  # Lightning gets pre-normalised tensors: the idiomatic TensorDataset path
    loader = torch.utils.data.DataLoader(
        torch.utils.data.TensorDataset(xs, y), batch_size=batch_size, shuffle=True
    )
    trainer = L.Trainer(
        max_epochs=1,
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        accelerator="cpu",
        devices=1,
        num_sanity_val_steps=0,
    )
    t0 = time.perf_counter()
    trainer.fit(Module(model), loader)
    return time.perf_counter() - t0


def compare(
    model_name: str, data, batch_size: int, rounds: int, threads: int, lightning: bool, device: str = "cpu"
) -> list:
    import torch

    from kindling import models

    torch.set_num_threads(threads)
    sig = data.signature
    mean, std = sig.mean[0], sig.std[0]
    x, y = data.train.x.to(device), data.train.y.to(device)
    torch.manual_seed(0)
    template = models.build(model_name, sig).to(device)

    def fresh():
        return copy.deepcopy(template)

    def raw() -> float:
        model = fresh()
        opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
        t = raw_epoch(model, x, y, batch_size, opt, mean, std, seed=0, epoch=0)
        if device != "cpu":
            torch.cuda.synchronize()
        return t

    fns = {"kindling": lambda: _kindling_epoch(fresh(), data, batch_size, threads, device), "raw loop": raw}
    if lightning:
        fns["Lightning"] = lambda: _lightning_epoch(fresh(), x, y, batch_size, mean, std) or float("nan")
    times = interleaved(fns, rounds)
    base = statistics.median(times["raw loop"])
    return [
        [
            model_name,
            device,
            len(y),
            batch_size,
            name,
            f"{statistics.median(t):.3f}",
            f"{statistics.median(t) / base:.3f}",
            rounds,
        ]
        for name, t in times.items()
    ]


def _cifar_module(n: int):
    from kindling.data import DataModule
    from kindling.data.memory import Split
    from kindling.data.signature import Signature

    x, y = cifar_like(n)
    sig = Signature("classification", "image", [3, 32, 32], [str(i) for i in range(10)], [0.5] * 3, [0.5] * 3)
    return DataModule(sig, Split(x, y), None, None)


def gpu_main() -> str:
    """The same comparison on a GPU (run on the lent GPU machine; not part of `make bench` on a CPU)."""
    rows = []
    for n, batch in ((50000, 256), (50000, 64)):
        rows += compare("lenet", _cifar_module(n), batch, 5, threads=4, lightning=False, device="cuda")
    text = f"## Trainer overhead on a GPU\n\nMachine: {machine()}.\n\n" + table(
        ["model", "device", "train samples", "batch", "loop", "median s/epoch", "ratio vs raw", "rounds"],
        rows,
    )
    print(text)
    return text


def main(quick: bool = False) -> str:
    from kindling.config import DataConfig
    from kindling.data import build

    rounds = 3 if quick else 5
    rows = compare("digits-cnn", build(DataConfig(name="digits")), 64, rounds, threads=1, lightning=False)
    n = 2000 if quick else 10000
    rows += compare("lenet", _cifar_module(n), 24, rounds, threads=1, lightning=True)
    rows += compare("lenet", _cifar_module(n), 256, rounds, threads=1, lightning=False)
    text = (
        "## Trainer overhead (issues 2 and 3)\n\n"
        f"Machine: {machine()}. One training epoch per round, rounds interleaved, 1 intra-op thread for all, "
        "SGD; median of the rounds. Ratio = time / raw loop's time (goal: kindling <= 1.03).\n\n"
        + table(
            ["model", "device", "train samples", "batch", "loop", "median s/epoch", "ratio vs raw", "rounds"],
            rows,
        )
    )
    print(text)
    return text


if __name__ == "__main__":
    gpu_main() if "--gpu" in sys.argv else main(quick="--quick" in sys.argv)
