"""Photos from scratch (issue 17 §3): a bare `kindling train --data folder:cats_dogs` vs a hand-written
torchvision loop (resnet18 from scratch, ImageFolder + DataLoader) on the same images, the same size and
the same number of epochs kindling trained.

Goals: kindling's default >= 0.72 test accuracy (median of 3 seeds) within 90 s on 2 cores, and better in
accuracy and not slower than the torchvision loop. Each run is a fresh process (imports, decoding and
evaluation included), timed by its wall clock and its CPU seconds (RUSAGE_CHILDREN): on a shared
machine CPU seconds / cores is the fairer figure.

    python benchmarks/bench_images_default.py                  # ../shared/data/cats_dogs, seeds 0,1,2
    python benchmarks/bench_images_default.py --data DIR       # any folder of class folders
    python benchmarks/bench_images_default.py --quick          # generated photos, 1 seed: checks it runs

The torchvision loop is also this script: `--loop DIR --size N --epochs E --seed S --test FILE` trains
on the files not named in FILE and prints the test accuracy on those named.
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))
from common import table  # noqa: E402

CATS_DOGS = ROOT.parent / "shared" / "data" / "cats_dogs"
THREADS = 2


def timed(argv: list[str]) -> tuple[subprocess.CompletedProcess, float, float]:
    """Run `argv`; -> (result, wall seconds, CPU seconds of the child)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    done = subprocess.run(argv, capture_output=True, text=True, check=False)
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime
    if done.returncode:
        raise RuntimeError(f"{argv[:6]} failed: {done.stderr[-2000:]}")
    return done, wall, cpu


def kindling_run(data: Path, seed: int, work: Path) -> dict:
    """A bare `kindling train --data folder:DIR`, then its test accuracy and what it chose."""
    run = work / f"kindling-{seed}"
    argv = [sys.executable, "-m", "kindling", "train", "--data", f"folder:{data}", "--seed", str(seed)]
    argv += ["--threads", str(THREADS), "--run-dir", str(run), "--data-dir", str(work / "cache")]
    done, wall, cpu = timed(argv)
    chose = next((ln for ln in done.stdout.splitlines() if ln.startswith("kindling chose")), "")
    evaluated = subprocess.run(
        [sys.executable, "-m", "kindling", "evaluate", str(run), "--json"], capture_output=True, text=True
    )
    metrics = json.loads(evaluated.stdout)
    epochs = sum(1 for _ in (run / "metrics.jsonl").open())
    return {
        "acc": _accuracy(metrics),
        "wall": wall,
        "cpu": cpu,
        "epochs": epochs,
        "chose": chose,
        "run": run,
    }


def _accuracy(metrics: dict) -> float:
    found = metrics.get("metrics", metrics)
    return float(found.get("accuracy", found.get("acc", float("nan"))))


def test_files(run: Path) -> list[str]:
    """The files of kindling's test split (the seeded stratified split of data.split_seed)."""
    from kindling import data as data_mod
    from kindling.config.load import config_from_yaml

    cfg = config_from_yaml((run / "config.yaml").read_text())
    return list(data_mod.build(cfg.data, quiet=True).test.names)


def loop_run(data: Path, size: int, epochs: int, seed: int, test_list: Path) -> dict:
    argv = [sys.executable, __file__, "--loop", str(data), "--size", str(size), "--epochs", str(epochs)]
    done, wall, cpu = timed([*argv, "--seed", str(seed), "--test", str(test_list)])
    return {"acc": float(done.stdout.strip().splitlines()[-1]), "wall": wall, "cpu": cpu}


def torchvision_loop(data: Path, size: int, epochs: int, seed: int, test_list: Path) -> float:
    """The loop a user writes: ImageFolder with per-image transforms, resnet18 from scratch, Adam 1e-3."""
    import torch
    import torchvision
    from torch.utils.data import DataLoader, Subset
    from torchvision import transforms as T

    torch.manual_seed(seed)
    torch.set_num_threads(THREADS)
    norm = T.Normalize((0.485, 0.456, 0.406), (0.229, 0.224, 0.225))
    augment = T.Compose(
        [T.Resize((size, size)), T.RandomHorizontalFlip(), T.RandomCrop(size, padding=size // 8)]
    )
    train_set = torchvision.datasets.ImageFolder(
        str(data), transform=T.Compose([augment, T.ToTensor(), norm])
    )
    test_set = torchvision.datasets.ImageFolder(
        str(data), T.Compose([T.Resize((size, size)), T.ToTensor(), norm])
    )
    held = {str(Path(p).resolve()) for p in json.loads(test_list.read_text())}
    is_test = [str(Path(p).resolve()) in held for p, _ in train_set.samples]
    train_idx = [i for i, t in enumerate(is_test) if not t]
    test_idx = [i for i, t in enumerate(is_test) if t]
    loader = DataLoader(Subset(train_set, train_idx), batch_size=32, shuffle=True)
    model = torchvision.models.resnet18(num_classes=len(train_set.classes))
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    for _ in range(epochs):
        model.train()
        for x, y in loader:
            optimizer.zero_grad()
            torch.nn.functional.cross_entropy(model(x), y).backward()
            optimizer.step()
    model.eval()
    right = 0
    with torch.no_grad():
        for x, y in DataLoader(Subset(test_set, test_idx), batch_size=256):
            right += int((model(x).argmax(1) == y).sum())
    return right / len(test_idx)


def quick_data(root: Path) -> Path:
    sys.path.insert(0, str(ROOT / "tests" / "data"))
    from image_files import write_folder

    return write_folder(
        root / "photos", per_class=40, classes=("cat", "dog"), size=96, splits=(), suffix=".jpg"
    )


def main(quick: bool = False, data: Path | None = None) -> str:
    seeds = [0] if quick else [0, 1, 2]
    rows, results = [], {"kindling": [], "torchvision": []}
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        data = data or (quick_data(work) if quick else CATS_DOGS)
        for seed in seeds:
            mine = kindling_run(data, seed, work)
            cfg = (mine["run"] / "config.yaml").read_text()
            size = int(
                next(ln.split(":")[1] for ln in cfg.splitlines() if ln.strip().startswith("image_size:"))
            )
            test_list = work / "test.json"
            test_list.write_text(json.dumps(test_files(mine["run"])))
            theirs = loop_run(data, size, mine["epochs"], seed, test_list)
            results["kindling"].append(mine)
            results["torchvision"].append(theirs)
            print(f"seed {seed}: kindling {mine} | torchvision {theirs}", flush=True)
    chose = results["kindling"][0]["chose"]
    epochs = [r["epochs"] for r in results["kindling"]]
    for name, runs in results.items():
        med = {k: statistics.median(r[k] for r in runs) for k in ("acc", "wall", "cpu")}
        per_seed = ", ".join(f"{r['acc']:.3f}" for r in runs)
        rows.append(
            [name, f"{med['acc']:.3f} ({per_seed})", f"{med['wall']:.0f}", f"{med['cpu'] / THREADS:.0f}"]
        )
    section = (
        "## Photos from scratch (issue 17)\n\n"
        f"`kindling train --data folder:{data.name}` with nothing else ({len(seeds)} seed(s), --threads {THREADS}) "
        f"vs a hand-written torchvision loop (resnet18 from scratch, ImageFolder + DataLoader, Adam 1e-3, "
        f"flip + crop) at the same image size and epochs ({epochs}), tested on kindling's test split. "
        f"Seconds are per run (a fresh process: imports, decoding, evaluation).\n\n{chose}\n\n"
        + table(["", "test accuracy, median (per seed)", "wall s", "CPU s / 2"], rows)
        + "\n"
    )
    print(section)
    return section


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--data", type=Path)
    parser.add_argument("--loop", type=Path)
    parser.add_argument("--size", type=int)
    parser.add_argument("--epochs", type=int)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--test", type=Path)
    args = parser.parse_args()
    if args.loop:
        print(torchvision_loop(args.loop, args.size, args.epochs, args.seed, args.test))
    else:
        main(quick=args.quick, data=args.data)
