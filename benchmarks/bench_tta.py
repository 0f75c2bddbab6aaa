"""Test-time augmentation (issue 25 part 3): what `evaluate --tta` gains over plain `evaluate`.

For each data set and seed: a bare `kindling train --data SPEC --seed S` (a fresh process: what kindling
chooses, nothing else given; no baseline), then the best model evaluated on the test split twice, in this
process: plainly and with `--tta` (kindling.data.tta: the flips and shifts the run trained with, the
softmax probabilities averaged). Test accuracy and loss, medians over the seeds, the gain per seed; and
each evaluation's seconds (the data read, the model run over the test split; the same for both, after one
evaluation that warms the caches for neither side).

- digits: the default is digits-cnn trained with the `shift` augmentation, so its views are the image
  and four 1-pixel shifts (8x8 pictures: 1 pixel is the training's largest shift).
- cats_dogs (../shared/data/cats_dogs, 1,000 photos): photo-cnn at 80 px trained with flips, shifts,
  zooms, turns and jitter; photo-cnn already averages each photo with its mirror image in its forward
  (FlipAveraged), so the views are the photo and four 4-pixel shifts, each itself flip-averaged.

    python benchmarks/bench_tta.py            # digits and cats_dogs, seeds 0, 1, 2 (the bare defaults)
    python benchmarks/bench_tta.py --quick    # 2 epochs, generated photos, 1 seed: checks that it runs
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))
CATS_DOGS = ROOT.parent / "shared" / "data" / "cats_dogs"
THREADS = 2


def train(spec: str, seed: int, run: Path, extra: list[str]) -> str:
    """A `kindling train` in a fresh process -> its "kindling chose" line."""
    argv = [
        sys.executable,
        "-m",
        "kindling",
        "train",
        "--data",
        spec,
        "--seed",
        str(seed),
        "--run-dir",
        str(run),
    ]
    argv += ["--threads", str(THREADS), "--baseline", "none", "--logger", "none", *extra]
    done = subprocess.run(argv, capture_output=True, text=True, check=False)
    if done.returncode:
        raise RuntimeError(f"{' '.join(argv[3:8])} failed: {done.stderr[-2000:]}")
    return next((ln for ln in done.stdout.splitlines() if ln.startswith("kindling chose")), "")


def evaluate_both(run: Path) -> dict:
    """The test split plainly and with test-time augmentation -> accuracy, loss and seconds of each."""
    import torch

    from kindling.evaluate.evaluation import evaluate

    torch.set_num_threads(THREADS)
    evaluate(run, "test")  # warm-up: the decoded-data cache and the first-call costs, for neither side
    out = {}
    for name, tta in (("plain", False), ("tta", True)):
        t0 = time.perf_counter()
        result = evaluate(run, "test", tta=tta)
        out[name] = {"acc": result["accuracy"], "loss": result["loss"], "s": time.perf_counter() - t0}
        if tta:
            out["views"] = result["tta"]["views"]
    return out


def quick_photos(root: Path) -> Path:
    sys.path.insert(0, str(ROOT / "tests" / "data"))
    from image_files import write_folder

    return write_folder(
        root / "photos", per_class=40, classes=("cat", "dog"), size=96, splits=(), suffix=".jpg"
    )


def cases(quick: bool, work: Path) -> list[tuple[str, str, list[str]]]:
    """(name, data spec, extra flags): the bare defaults; quick: 2 epochs with the defaults' augmentation."""
    from kindling.config.defaults import PHOTO_AUGMENT

    if quick:
        photos = quick_photos(work)
        return [
            ("digits", "digits", ["--epochs", "2", "--augment", "shift"]),
            ("generated photos", f"folder:{photos}", ["--epochs", "2", "--augment", PHOTO_AUGMENT]),
        ]
    return [
        ("digits", "digits", []),
        ("cats_dogs", f"folder:{CATS_DOGS}", ["--data-dir", str(work / "cache")]),
    ]


def main(quick: bool = False) -> str:
    from common import table

    seeds = [0] if quick else [0, 1, 2]
    rows, chose = [], {}
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        for name, spec, extra in cases(quick, work):
            found = []
            for seed in seeds:
                run = work / f"{name.replace(' ', '-')}-{seed}"
                chose[name] = train(spec, seed, run, extra)
                found.append(evaluate_both(run))
                print(name, seed, found[-1], flush=True)
            rows.append(_row(name, found))
    header = ["data", "views", "test accuracy", "with --tta", "gain (per seed)", "test loss", "with --tta",
              "evaluate s", "with --tta"]  # fmt: skip
    section = (
        "## Test-time augmentation (issue 25 part 3)\n\n"
        f"A bare `kindling train --data SPEC --seed S` (seeds {seeds}{', 2 epochs' if quick else ''}), then "
        "the best model on the test split plainly and with `--tta` (the flips and shifts it trained with, "
        "softmax probabilities averaged); medians over the seeds, the gain per seed; evaluate s: one "
        f"evaluation in-process ({THREADS} threads), data read included.\n\n"
        + table(header, rows)
        + "\n\nWhat kindling chose: "
        + "; ".join(f"{name}: {line.removeprefix('kindling chose ')}" for name, line in chose.items())
        + "\n"
    )
    print(section)
    return section


def _row(name: str, found: list[dict]) -> list:
    med = lambda part, key: statistics.median(f[part][key] for f in found)  # noqa: E731
    gains = [f["tta"]["acc"] - f["plain"]["acc"] for f in found]
    return [
        name,
        ", ".join(found[0]["views"]),
        f"{med('plain', 'acc'):.4f}",
        f"{med('tta', 'acc'):.4f}",
        f"{statistics.median(gains):+.4f} ({', '.join(f'{g:+.4f}' for g in gains)})",
        f"{med('plain', 'loss'):.4f}",
        f"{med('tta', 'loss'):.4f}",
        f"{med('plain', 's'):.2f}",
        f"{med('tta', 's'):.2f}",
    ]


if __name__ == "__main__":
    main(quick="--quick" in sys.argv)
