"""The user's own Dataset: kindling's Dataset path vs a hand-written DataLoader loop on the same Dataset.

The Dataset is what the seeds write: CIFAR-shaped uint8 arrays, `__getitem__` returns
`transform(Image.fromarray(img))` with `Compose([ToTensor(), Normalize(...)])`, as torchvision's CIFAR10
does. Both contenders train the same freshly built model (same seed, batch size, SGD, epochs):

- raw loop: `DataLoader(dataset, batch_size, shuffle=True, num_workers=W)`, forward, loss, backward, step;
- kindling: `hand_over(dataset)` -> the DataModule (every sample read once, stored as uint8) ->
  the Trainer; its time includes that one read, so the ratio is what a user waits for in all.

Ratio = kindling's wall time / the raw loop's (goal: <= 1.0, the in-memory path beating per-epoch reads).
Rounds are interleaved so drift of the machine hits both alike.

    python benchmarks/bench_dataset.py --quick          # a tiny run: checks the script works
    python benchmarks/bench_dataset.py --n 20000 --epochs 5 --workers 4 --device cuda
"""

from __future__ import annotations

import argparse
import copy
import os
import statistics
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(__file__))

from common import cifar_like, interleaved, machine, table  # noqa: E402


def seed_dataset(n: int):
    """A map-style Dataset as the seeds write one (HWC uint8 arrays -> PIL -> ToTensor -> Normalize)."""
    import torch
    from PIL import Image
    from torchvision import transforms

    x, y = cifar_like(n)
    images = x.permute(0, 2, 3, 1).contiguous().numpy()  # N,H,W,C as CIFAR10.data
    labels = y.tolist()

    class SeedDataset(torch.utils.data.Dataset):
        classes = [str(i) for i in range(10)]
        transform = transforms.Compose([transforms.ToTensor(), transforms.Normalize((0.5,) * 3, (0.5,) * 3)])

        def __len__(self) -> int:
            return len(labels)

        def __getitem__(self, i: int):
            return self.transform(Image.fromarray(images[i])), labels[i]

    return SeedDataset()


def raw_run(model, dataset, batch_size: int, epochs: int, workers: int, device: str) -> float:
    """The hand-written loop: a DataLoader over the Dataset each epoch. Returns wall seconds."""
    import torch

    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    loss_fn = torch.nn.CrossEntropyLoss()
    torch.manual_seed(0)
    loader = torch.utils.data.DataLoader(
        dataset, batch_size=batch_size, shuffle=True, num_workers=workers, pin_memory=device != "cpu"
    )
    t0 = time.perf_counter()
    model.train()
    for _ in range(epochs):
        running_loss, correct = 0.0, 0
        for xb, yb in loader:
            xb, yb = xb.to(device, non_blocking=True), yb.to(device, non_blocking=True)
            out = model(xb)
            loss = loss_fn(out, yb)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            running_loss += loss.detach() * len(yb)
            correct += (out.argmax(1) == yb).sum()
        float(running_loss), int(correct)  # one sync per epoch, as a careful loop does
    if device != "cpu":
        torch.cuda.synchronize()
    return time.perf_counter() - t0


def kindling_run(
    model, dataset, batch_size: int, epochs: int, threads: int, device: str
) -> tuple[float, float]:
    """hand_over -> build -> settle -> Trainer.fit. Returns (wall seconds in all, seconds of the one read)."""
    import torch

    from kindling.config.load import load_config
    from kindling.data import build
    from kindling.data.objects import hand_over
    from kindling.train.settle import settle
    from kindling.train.trainer import Trainer

    with tempfile.TemporaryDirectory() as tmp:
        spec, objects = hand_over(dataset)
        overrides = {
            "data.name": spec,
            "data.batch_size": batch_size,
            "data.val_fraction": 0.0,
            "data.test_fraction": 0.0,
            "train.epochs": epochs,
            "train.threads": threads,
            "train.logger": "none",
            "train.device": device,
            "optim.name": "sgd",
            "optim.lr": 0.01,
            "run_dir": tmp,
        }
        cfg = load_config(None, overrides)
        t0 = time.perf_counter()
        data = build(cfg.data, quiet=True, objects=objects)
        read = time.perf_counter() - t0
        cfg, _ = settle(cfg, data, model_given=True)
        Trainer(cfg, tmp, echo=lambda *a: None).fit(model, data)
        if device != "cpu":
            torch.cuda.synchronize()
        return time.perf_counter() - t0, read


def compare(
    n: int, batch_size: int, epochs: int, workers: int, rounds: int, threads: int, device: str
) -> list:
    import torch

    from kindling import models
    from kindling.data.signature import Signature

    torch.set_num_threads(threads)
    dataset = seed_dataset(n)
    sig = Signature("classification", "image", [3, 32, 32], [str(i) for i in range(10)], [0.5] * 3, [0.5] * 3)
    torch.manual_seed(0)
    template = models.build("lenet", sig)
    reads: list[float] = []

    def ours() -> float:
        total, read = kindling_run(
            copy.deepcopy(template).to(device), dataset, batch_size, epochs, threads, device
        )
        reads.append(read)
        return total

    def raw() -> float:
        return raw_run(copy.deepcopy(template).to(device), dataset, batch_size, epochs, workers, device)

    times = interleaved(
        {"kindling (Dataset path)": ours, f"raw DataLoader loop ({workers} workers)": raw}, rounds
    )
    base = statistics.median(times[f"raw DataLoader loop ({workers} workers)"])
    rows = []
    for name, t in times.items():
        note = f"one read {statistics.median(reads):.2f} s" if name.startswith("kindling") else ""
        med = statistics.median(t)
        rows.append([device, n, batch_size, epochs, name, f"{med:.2f}", f"{med / base:.3f}", note, rounds])
    return rows


def main(quick: bool = False, argv: list[str] | None = None) -> str:
    """`run_all.py` calls main(quick=...); the command line passes its flags as `argv`."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="tiny sizes: checks the script (default: off)")
    parser.add_argument("--n", type=int, default=10000, help="samples (default: 10000)")
    parser.add_argument("--epochs", type=int, default=3, help="epochs per round (default: 3)")
    parser.add_argument("--batch-size", type=int, default=128, help="batch size (default: 128)")
    parser.add_argument(
        "--workers", type=int, default=2, help="the raw loop's DataLoader workers (default: 2)"
    )
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds (default: 3)")
    parser.add_argument("--threads", type=int, default=1, help="intra-op threads for both (default: 1)")
    parser.add_argument("--device", default="cpu", help="cpu or cuda (default: cpu)")
    args = parser.parse_args(argv or [])
    if args.quick or quick:
        args.n, args.epochs, args.rounds, args.workers = 256, 1, 1, 0
    rows = compare(args.n, args.batch_size, args.epochs, args.workers, args.rounds, args.threads, args.device)
    text = (
        "## Your own Dataset: kindling's path vs a hand-written DataLoader loop (issue 15)\n\n"
        f"Machine: {machine()}. Seed-style Dataset (PIL -> ToTensor -> Normalize per sample), lenet, SGD. "
        "**Scope: from the Dataset to the trained epochs**: the raw loop's epochs (its DataLoader reads every "
        "sample each epoch); kindling's one read of every sample, its set-up (including measuring the memory "
        "format), its epochs and its checkpoints. This is kindling vs the loop users write: torch's SGD "
        "defaults and contiguous tensors in the raw loop, kindling's foreach SGD and measured memory format "
        "in its own (trainer overhead alone: bench_trainer). Ratio = time / the raw loop's (goal <= 1.0).\n\n"
        + table(
            ["device", "samples", "batch", "epochs", "loop", "median s", "ratio vs raw", "", "rounds"],
            rows,
        )
    )
    print(text)
    return text


if __name__ == "__main__":
    main(argv=sys.argv[1:])
