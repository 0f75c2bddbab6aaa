"""Images: seed 000's CIFAR-10 loop as written vs kindling; the recipe's batch size vs a hand-written
loop doing the same work; the decode cache; transfer learning on folder data.

All data is generated locally in the real formats (CIFAR-10's python pickles, MNIST's IDX files, PNG
class folders) from scikit-learn's embedded digits, tinted and shifted (tests/data/image_files.py).

Goals (issue 4):
  * LeNet, one epoch, batch 24: kindling >= 3x faster than seed 000's loop (per-sample PIL transforms
    in a DataLoader), both timed from the files to one trained epoch;
  * at the recipe's batch size: <= 1.1x the time of a hand-written loop over the same in-memory
    tensors with the same optimizer kernel, threads and memory format, at equal or better test accuracy
    after one epoch than batch 24;
  * decode cache: the second build of a folder data set >= 5x faster than the first;
  * transfer learning: accuracy and time per epoch on MNIST-format and folder data.

    python benchmarks/bench_images.py            # 10,000 CIFAR-shaped images, 5,000 PNGs
    python benchmarks/bench_images.py --quick    # small sizes: checks that the script works
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "data"))
import image_files  # noqa: E402

SEED_BATCH = 24
THREADS = (
    0  # --threads N: every loop at N intra-op threads (on a crowded machine 2 threads can be 10x slower)
)


def seed000_epoch(data_dir: Path, device: str = "cpu") -> tuple[float, int, float]:
    """Seed 000's training loop as written (torchvision CIFAR10 + ToTensor/Normalize per sample, batch 24,
    Adam 1e-3); the only change is the md5-relaxed class so that locally generated files load.
    -> (seconds of the epoch loop, its per-sample decoding included; images; seconds to read the files)."""
    import torchvision.transforms as transforms
    from torch.utils.data import DataLoader

    from kindling.data.images.builtin import _dataset_class
    from kindling.data.signature import Signature
    from kindling.models import registry

    torch.manual_seed(0)
    if THREADS:
        torch.set_num_threads(THREADS)
    transform = transforms.Compose(
        [transforms.ToTensor(), transforms.Normalize((0.5, 0.5, 0.5), (0.5, 0.5, 0.5))]
    )
    t_read = time.perf_counter()
    train_set = _dataset_class("cifar10")(root=str(data_dir), train=True, download=False, transform=transform)
    read = time.perf_counter() - t_read
    loader = DataLoader(train_set, batch_size=SEED_BATCH, shuffle=True, num_workers=0)
    model = registry.build(
        "lenet", Signature("classification", "image", [3, 32, 32], [str(i) for i in range(10)])
    ).to(device)
    loss_function = torch.nn.CrossEntropyLoss()
    optimizer = torch.optim.Adam(model.parameters(), lr=0.001)
    t0 = time.perf_counter()
    for inputs, labels in loader:
        if device != "cpu":  # the seed's GPU variant: images.cuda(), target.cuda()
            inputs, labels = inputs.to(device), labels.to(device)
        optimizer.zero_grad()
        loss = loss_function(model(inputs), labels)
        loss.backward()
        optimizer.step()
    if device != "cpu":
        torch.cuda.synchronize()
    return time.perf_counter() - t0, len(train_set), read


def raw_loop_epoch(
    x: torch.Tensor, y: torch.Tensor, batch: int, lr: float, threads: int, layout: str = "contiguous"
) -> float:
    """A hand-written loop over in-memory uint8 tensors: index, normalise, forward, backward, step; with
    the optimizer kernel kindling uses on a CPU (fused Adam) and the memory format given. Seconds of the
    training steps."""
    from kindling.data.signature import Signature
    from kindling.models import registry

    torch.set_num_threads(threads)
    torch.manual_seed(0)
    model = registry.build(
        "lenet", Signature("classification", "image", [3, 32, 32], [str(i) for i in range(10)])
    )
    if layout == "channels_last":
        model = model.to(memory_format=torch.channels_last)
    optimizer = torch.optim.Adam(model.parameters(), lr=lr, fused=True)
    mean = x[:2000].float().div(255).mean((0, 2, 3)).view(1, 3, 1, 1)
    std = x[:2000].float().div(255).std((0, 2, 3)).view(1, 3, 1, 1)
    order = torch.randperm(len(y))
    t0 = time.perf_counter()
    for lo in range(0, len(y), batch):
        idx = order[lo : lo + batch]
        xb = (x[idx].float().div_(255) - mean) / std
        loss = torch.nn.functional.cross_entropy(model(xb), y[idx])
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
    return time.perf_counter() - t0


def kindling_run(
    run_dir: Path, data: str, data_dir: Path, sets: list[str], recipe: Path | None = None
) -> dict:
    """Train in-process; return the first epoch's record (its `seconds`: the training steps only), the
    threads and memory format kindling kept, the test accuracy, and the seconds one build of the data
    takes (reading and decoding the files into memory, done once before training)."""
    from kindling import data as data_mod
    from kindling.config.load import load_config
    from kindling.evaluate.evaluation import evaluate
    from kindling.runner import train
    from kindling.train import checkpoint

    flags = {"run_dir": str(run_dir), "data.name": data, "data.data_dir": str(data_dir)}
    cfg = load_config(recipe, flags, ["train.logger=none", f"train.threads={THREADS}", *sets])
    t0 = time.perf_counter()
    data_mod.build(cfg.data, quiet=True)
    read = time.perf_counter() - t0
    train(cfg, overwrite=True, echo=lambda *a, **k: None)
    records = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
    state = checkpoint.load(run_dir / "checkpoints" / "last.pt")
    test = evaluate(run_dir, "test")
    return {
        "record": records[0],
        "threads": state.get("threads"),
        "layout": state.get("memory_format") or "contiguous",
        "test_acc": test["accuracy"],
        "read": read,
    }


def cifar_section(tmp: Path, n_train: int, n_test: int) -> list[str]:
    data_dir = image_files.write_cifar10(tmp / "cifar", n_train, n_test)
    seed_s, seed_n, seed_read = seed000_epoch(data_dir)
    k24 = kindling_run(
        tmp / "k24",
        "cifar10",
        data_dir,
        ["data.batch_size=24", "optim.name=adam", "optim.lr=0.001", "model.name=lenet", "train.epochs=1"],
    )
    n_kind = round(n_train * 0.9)  # kindling holds out data.val_fraction (0.1) of train for validation
    recipe = ROOT / "recipes" / "cifar10-lenet.yaml"
    import yaml

    rec = yaml.safe_load(recipe.read_text())
    batch, lr = rec["data"]["batch_size"], rec["optim"]["lr"]
    sched = rec.get("sched", {}).get("name", "none")
    krec = kindling_run(tmp / "krec", "cifar10", data_dir, ["train.epochs=1"], recipe)
    krec_s = krec["record"]["seconds"]
    from kindling import data as data_mod
    from kindling.config.schema import DataConfig

    dm = data_mod.build(DataConfig(name="cifar10", data_dir=str(data_dir), download=False))
    n_raw = min(len(dm.train), n_kind)  # the images kindling trains on, in the same number
    raw_s = raw_loop_epoch(dm.train.x[:n_raw], dm.train.y[:n_raw], batch, lr, krec["threads"], krec["layout"])

    def rate(images: int, seconds: float) -> str:
        return f"{images / seconds:,.0f}"

    seed_total, k24_total = seed_read + seed_s, k24["read"] + k24["record"]["seconds"]
    seed_rate = seed_n / seed_total
    return [
        f"### Seed 000: LeNet on CIFAR-10-format data ({n_train:,} train / {n_test:,} test images, one epoch)",
        "",
        "**Scope: from the files to one trained epoch**, both sides: reading the CIFAR-10 files, then one "
        "training epoch (no validation, no test). Seed 000 decodes every image in its loop (PIL, ToTensor, "
        "Normalize per sample, every epoch: its design); kindling decodes them once into memory before its "
        "first epoch (the read column) and slices batches from there. Both as their users run them: the "
        "seed with torch's plain Adam and its default threads, kindling with its fused Adam and the threads "
        "and memory format it measured (kindling vs the loop users write). kindling trains on the 90% of "
        "train it keeps (10% is validation); images/s counts the images each trained on.",
        "",
        "| loop | batch | read s | epoch s | read + epoch s | images/s (read + epoch) | vs seed 000 | "
        "test acc after 1 epoch |",
        "|---|---|---|---|---|---|---|---|",
        f"| seed 000 as written (PIL ToTensor/Normalize per sample in the epoch, DataLoader) | 24 | "
        f"{seed_read:.2f} | {seed_s:.2f} | {seed_total:.2f} | {seed_rate:,.0f} | 1.0x | - |",
        f"| kindling, same settings (threads {k24['threads']}, {k24['layout']}) | 24 | {k24['read']:.2f} | "
        f"{k24['record']['seconds']:.2f} | {k24_total:.2f} | {rate(n_kind, k24_total)} | "
        f"**{n_kind / k24_total / seed_rate:.1f}x** | {k24['test_acc']:.3f} |",
        "",
        f"**Scope: one training epoch** (the training steps only), at the recipe's batch size: kindling's "
        f"recipe cifar10-lenet (Adam {lr:g}, {sched} schedule) against a hand-written loop over the same "
        f"in-memory tensors with the same work: {n_raw:,} images, the same optimizer kernel (fused Adam), "
        f"threads ({krec['threads']}) and memory format ({krec['layout']}) kindling chose.",
        "",
        "| loop | batch | epoch s | images/s | test acc after 1 epoch |",
        "|---|---|---|---|---|",
        f"| kindling recipe cifar10-lenet | {batch} | {krec_s:.2f} | {rate(n_kind, krec_s)} | "
        f"{krec['test_acc']:.3f} |",
        f"| hand-written loop, same kernel, threads and format | {batch} | {raw_s:.2f} | {rate(n_raw, raw_s)} | - |",
        "",
        f"Recipe time / hand loop time at batch {batch}: **{krec_s / raw_s:.2f}x** (goal <= 1.1x). Test "
        f"accuracy after one epoch: batch {batch} {krec['test_acc']:.3f} vs batch 24 {k24['test_acc']:.3f} "
        "(goal: equal or better).",
        "",
    ]


def cache_section(tmp: Path, n_images: int) -> list[str]:
    from kindling import data as data_mod
    from kindling.config.schema import DataConfig

    per_class = n_images // 2
    root = image_files.write_folder(
        tmp / "png", per_class=per_class, size=32, splits=("train", "val"), seed=7
    )
    n_files = sum(1 for _ in root.rglob("*.png"))
    cfg = DataConfig(name=f"folder:{root}", data_dir=str(tmp / "cache"))
    t0 = time.perf_counter()
    data_mod.build(cfg)
    first = time.perf_counter() - t0
    t0 = time.perf_counter()
    data_mod.build(cfg)
    second = time.perf_counter() - t0
    return [
        f"### Decode cache: a folder of {n_files:,} PNG files (32x32, train/ and val/)",
        "",
        "| build | seconds |",
        "|---|---|",
        f"| first (decode every file, write the cache) | {first:.2f} |",
        f"| second (cache hit: stat the files, load one .npz) | {second:.3f} |",
        "",
        f"Second build **{first / second:.0f}x** faster (goal >= 5x): the time before training starts.",
        "",
    ]


def transfer_section(tmp: Path, n_train: int, epochs: int) -> list[str]:
    """resnet18 trained on MNIST-format digits, then transferred to a colour PNG folder of digits."""
    mnist_dir = image_files.write_mnist(tmp / "mnist", n_train, max(200, n_train // 5))
    src = kindling_run(
        tmp / "src",
        "mnist",
        mnist_dir,
        ["model.name=resnet18", f"train.epochs={epochs}", "data.batch_size=64", "optim.lr=0.002"],
    )
    folder = image_files.write_folder(
        tmp / "digits_png",
        per_class=max(20, n_train // 40),
        classes=tuple(str(i) for i in range(10)),
        size=28,
        splits=("train", "val", "test"),
        seed=11,
    )
    weights = tmp / "src" / "best" / "model.safetensors"
    two = max(2, epochs)
    dst = kindling_run(
        tmp / "dst",
        f"folder:{folder}",
        tmp / "cache2",
        [
            "model.name=resnet18",
            f"model.pretrained={weights}",
            "model.freeze=backbone",
            f"model.unfreeze_epoch={two // 2}",
            f"train.epochs={two}",
            "data.batch_size=64",
            "optim.lr=0.002",
            "data.augment=light",
        ],
    )
    scratch = kindling_run(
        tmp / "scratch",
        f"folder:{folder}",
        tmp / "cache2",
        [
            "model.name=resnet18",
            f"train.epochs={two}",
            "data.batch_size=64",
            "optim.lr=0.002",
            "data.augment=light",
        ],
    )
    n_png = sum(1 for _ in (folder / "train").rglob("*.png"))
    return [
        "### Transfer learning (resnet18)",
        "",
        "| run | data | epochs | test accuracy | seconds of the first epoch (training steps only) |",
        "|---|---|---|---|---|",
        f"| source: from scratch | MNIST-format IDX files, {n_train:,} train images, 1x28x28 | {epochs} | "
        f"{src['test_acc']:.3f} | {src['record']['seconds']:.1f} |",
        f"| transfer: source weights, head only then all layers | PNG class folders, {n_png:,} train images, 3x28x28 "
        f"| {two} | {dst['test_acc']:.3f} | {dst['record']['seconds']:.1f} (frozen epoch) |",
        f"| same folder, from scratch | same | {two} | {scratch['test_acc']:.3f} | {scratch['record']['seconds']:.1f} |",
        "",
        "Offline there are no ImageNet weights; the transfer here is from the model trained on MNIST-format "
        "digits (grey stem weights spread over RGB) to colour PNG digits in class folders.",
        "",
    ]


def gpu_section(n_train: int = 10000) -> str:
    """Seed 000's loop vs kindling at batch 24 on a GPU (run on the lent GPU machine)."""
    rows = []
    with tempfile.TemporaryDirectory(prefix="kindling-bench-gpu-") as tmp_name:
        tmp = Path(tmp_name)
        data_dir = image_files.write_cifar10(tmp / "cifar", n_train, 1000)
        sets = [
            "data.batch_size=24",
            "optim.name=adam",
            "optim.lr=0.001",
            "model.name=lenet",
            "train.epochs=1",
            "train.device=cuda",
        ]
        for round_ in range(2):  # the first round pays CUDA/cuDNN start-up for both; report the second
            seed_s, seed_n, seed_read = seed000_epoch(data_dir, "cuda")
            k = kindling_run(tmp / f"k{round_}", "cifar10", data_dir, sets)
        seed_rate = seed_n / (seed_read + seed_s)
        k_rate = round(n_train * 0.9) / (k["read"] + k["record"]["seconds"])
        rows.append(
            f"| seed 000 as written, on the GPU (per-sample transforms, DataLoader, .cuda() per batch) | 24 | "
            f"{seed_rate:,.0f} | 1.0x |"
        )
        rows.append(
            f"| kindling, same settings, on the GPU | 24 | {k_rate:,.0f} | **{k_rate / seed_rate:.1f}x** |"
        )
    text = "\n".join(
        [
            "### Seed 000 on a GPU: LeNet, CIFAR-10-format data, one epoch, batch 24",
            "",
            "Scope, both sides: from the files to one trained epoch (reading the files, then the epoch; "
            "the seed decodes per sample in its epoch, kindling once before it).",
            "",
            "| loop | batch | images/s (read + epoch) | vs seed 000 |",
            "|---|---|---|---|",
            *rows,
            "",
        ]
    )
    print(text)
    return text


def main(quick: bool = False, threads: int = 0) -> str:
    global THREADS
    THREADS = threads
    torch.manual_seed(0)
    sizes = (
        dict(n_train=1200, n_test=300, n_png=400, n_mnist=600, epochs=1)
        if quick
        else dict(n_train=10000, n_test=2000, n_png=5000, n_mnist=3000, epochs=2)
    )
    with tempfile.TemporaryDirectory(prefix="kindling-bench-images-") as tmp_name:
        tmp = Path(tmp_name)
        lines = [
            "## Images",
            "",
            f"Hardware: {platform.processor() or platform.machine()}, {os.cpu_count()} CPU cores, "
            f"torch {torch.__version__}; one run of each (timings on a shared machine are noisy); threads: "
            + (
                str(THREADS)
                if THREADS
                else "seed loop torch's default, kindling calibrated, the hand loop kindling's"
            )
            + ".",
            "",
        ]
        lines += cifar_section(tmp, sizes["n_train"], sizes["n_test"])
        lines += cache_section(tmp, sizes["n_png"])
        lines += transfer_section(tmp, sizes["n_mnist"], sizes["epochs"])
    text = "\n".join(lines)
    print(text)
    return text


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes: check that the script works")
    parser.add_argument(
        "--threads", type=int, default=0, help="force N intra-op threads in every loop (default: 0)"
    )
    args = parser.parse_args()
    main(args.quick, args.threads)
