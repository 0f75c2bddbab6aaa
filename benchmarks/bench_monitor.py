"""Where validation accuracy stops tying (issue 24 §1): which figure should pick the best epoch.

kindling keeps the epoch with the best monitored validation figure. Accuracy on n samples moves in steps
of 1/n, so on a small validation split several epochs share the best accuracy and the first of them
wins, often an undertrained one; the loss has no such ties. This measures, for validation splits of
25 to 3,200 samples:

- how often the best validation accuracy is shared by two or more epochs (a tie decides the model);
- the test accuracy of the epoch chosen by val_acc (first of a tie), by val_loss, and the best any epoch
  reached (the oracle), each the mean over seeds.

One training per seed and data set: the training set, the test set and the trajectory are the same for
every validation size, which are nested prefixes of one held-out pool, so only the choice differs.
The loop is kindling's default for small tables (an MLP with one hidden layer twice the features,
AdamW lr 1e-3, weight decay 1.0, batch 32) in plain PyTorch, 60 epochs.

    python benchmarks/bench_monitor.py            # 10 seeds
    python benchmarks/bench_monitor.py --quick    # 2 seeds, to check that it runs
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from common import table  # noqa: E402

SIZES = (25, 50, 100, 200, 400, 800, 1600, 3200)
EPOCHS = 60


def datasets(seed: int) -> dict[str, tuple]:
    """name -> (X, y, train rows, pool rows): real tables and a larger generated one."""
    from sklearn.datasets import load_breast_cancer, load_digits, make_classification

    cancer = load_breast_cancer(return_X_y=True)
    digits = load_digits(return_X_y=True)
    made = make_classification(
        n_samples=10_000, n_features=20, n_informative=8, n_classes=4, flip_y=0.1, random_state=seed
    )
    return {
        "breast cancer (2 classes)": (*cancer, 300, 150),
        "digits as vectors (10 classes)": (*digits, 800, 500),
        "generated, 4 classes, 10% label noise": (*made, 1000, 3200),
    }


def trajectory(X, y, n_train: int, n_pool: int, seed: int) -> dict[str, np.ndarray]:
    """Train once; -> per epoch the pool's per-sample correctness and loss, and the test accuracy."""
    import torch
    from torch import nn

    rng = np.random.default_rng(seed)
    order = rng.permutation(len(y))
    tr, pool, te = order[:n_train], order[n_train : n_train + n_pool], order[n_train + n_pool :]
    mean, std = X[tr].mean(0), X[tr].std(0) + 1e-8
    Xs = torch.tensor((X - mean) / std, dtype=torch.float32)
    ys = torch.tensor(y, dtype=torch.int64)
    classes = int(y.max()) + 1
    width = int(min(256, max(32, 2 ** round(np.log2(2 * X.shape[1])))))
    torch.manual_seed(seed)
    model = nn.Sequential(nn.Linear(X.shape[1], width), nn.ReLU(), nn.Linear(width, classes))
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3, weight_decay=1.0)
    correct, losses, test_acc = [], [], []
    g = torch.Generator().manual_seed(seed)
    for _ in range(EPOCHS):
        model.train()
        for batch in torch.randperm(len(tr), generator=g).split(32):
            rows = torch.as_tensor(tr)[batch]
            optimizer.zero_grad()
            nn.functional.cross_entropy(model(Xs[rows]), ys[rows]).backward()
            optimizer.step()
        model.eval()
        with torch.no_grad():
            out = model(Xs[pool])
            correct.append((out.argmax(1) == ys[pool]).numpy())
            losses.append(nn.functional.cross_entropy(out, ys[pool], reduction="none").numpy())
            test_acc.append(float((model(Xs[te]).argmax(1) == ys[te]).float().mean()))
    return {"correct": np.array(correct), "loss": np.array(losses), "test": np.array(test_acc)}


def choices(t: dict[str, np.ndarray], n_val: int) -> dict[str, float]:
    """For a validation split of the pool's first `n_val` samples: whether the best accuracy ties, and
    the test accuracy of the epochs val_acc and val_loss pick (np.argmax / argmin: the first of a tie)."""
    acc = t["correct"][:, :n_val].mean(1)
    loss = t["loss"][:, :n_val].mean(1)
    by_acc, by_loss = int(np.argmax(acc)), int(np.argmin(loss))
    return {
        "tie": float((acc == acc.max()).sum() > 1),
        "acc": t["test"][by_acc],
        "loss": t["test"][by_loss],
        "oracle": float(t["test"].max()),
    }


def main(quick: bool = False) -> str:
    seeds = range(2 if quick else 10)
    found: dict[str, dict[int, list[dict]]] = {}
    for seed in seeds:
        for name, (X, y, n_train, n_pool) in datasets(seed).items():
            t = trajectory(np.asarray(X, dtype=np.float64), np.asarray(y), n_train, n_pool, seed)
            for n_val in (n for n in SIZES if n <= n_pool):
                found.setdefault(name, {}).setdefault(n_val, []).append(choices(t, n_val))
        print(f"seed {seed} done", flush=True)
    parts = [
        "## Which figure picks the best epoch (issue 24)\n\n"
        f"Per validation size: the share of runs whose best val_acc is shared by two or more of {EPOCHS} "
        "epochs, and the mean test accuracy of the epoch val_acc picks (the first of a tie), of the one "
        f"val_loss picks, and the best any epoch reached; {len(seeds)} seeds, kindling's small-table MLP "
        "settings in a plain PyTorch loop (`benchmarks/bench_monitor.py`). Validation splits are nested "
        "prefixes of one held-out pool, so each seed's training is the same for every size."
    ]
    for name, by_size in found.items():
        rows = []
        for n_val, runs in sorted(by_size.items()):
            mean = {k: float(np.mean([r[k] for r in runs])) for k in ("tie", "acc", "loss", "oracle")}
            rows.append(
                [
                    n_val,
                    f"{mean['tie']:.0%}",
                    f"{mean['acc']:.4f}",
                    f"{mean['loss']:.4f}",
                    f"{mean['acc'] - mean['loss']:+.4f}",
                    f"{mean['oracle']:.4f}",
                ]
            )
        header = ["val samples", "best val_acc tied", "test acc by val_acc", "by val_loss", "acc - loss"]
        parts.append(f"### {name}\n\n" + table([*header, "best epoch"], rows))
    text = "\n\n".join(parts) + "\n"
    print(text)
    return text


if __name__ == "__main__":
    main(quick="--quick" in sys.argv[1:])
