"""Which training samples an epoch visits, in which order: a plain shuffle, or `--sampler balanced`.

    sampler = sampler_for("balanced", train_labels, seed=0, num_classes=10)
    order = sampler.order(epoch, rank, world)   # indices into the train split, this rank's share
    state["sampler"] = sampler.state_dict()      # in checkpoints/last.pt; checked on resume

`balanced` draws, for every one of the epoch's N slots (N = train samples, so an epoch keeps its length
and its step count), a class uniformly among the classes present in train, then one of that class's
samples uniformly: with replacement, so a class of 38 samples is seen as often as one of 2,000 (what
PyTorch's `WeightedRandomSampler` does with weights 1 / count of each sample's class, drawn in two steps
here so that it is exact for any N, where `torch.multinomial` stops at 2**24 categories).

Exact resume: as the shuffle (`kindling.data.memory.epoch_order`), an epoch's draws are a pure function
of (seed, epoch), from a generator of their own (the global random streams are not touched), so the
position (epoch, batch: in every checkpoint) is all a resumed run needs to draw the same samples again.
What the checkpoint keeps of the sampler (`state_dict`) is what that function depends on besides the
position: its kind, its seed and the class counts it balanced. A resume whose data gives other counts
is refused in one line instead of silently drawing other samples. Under DDP each rank takes every
`world`-th draw, as the shuffle does.
"""

from __future__ import annotations

import torch

from kindling.data.memory import epoch_order
from kindling.errors import UserError

SEED_STRIDE = 1_000_003  # as epoch_order: (seed, epoch) -> one generator seed, distinct per epoch
BALANCED_SALT = 0x5A3D  # the balanced draws never reuse the shuffle's generator seeds


class Shuffle:
    """Every train sample once per epoch, in a seeded order (`epoch_order`)."""

    kind = "none"

    def __init__(self, n: int, seed: int):
        self.n, self.seed = n, seed

    def order(self, epoch: int, rank: int = 0, world: int = 1) -> torch.Tensor:
        return epoch_order(self.n, self.seed, epoch, rank, world)

    def state_dict(self) -> dict:
        return {"kind": self.kind, "seed": self.seed, "n": self.n}

    def load_state_dict(self, state: dict) -> None:
        _check_same(self.state_dict(), state)


class Balanced:
    """Classes drawn uniformly, then a sample of the class uniformly; `labels` are the train split's."""

    kind = "balanced"

    def __init__(self, labels: torch.Tensor, seed: int, num_classes: int):
        labels = labels.detach().cpu().long()
        self.n, self.seed = int(labels.shape[0]), seed
        self.counts = torch.bincount(labels, minlength=num_classes)  # K
        self.present = torch.nonzero(self.counts).flatten()  # the classes train has
        self.members = torch.argsort(labels, stable=True)  # sample indices grouped by class
        self.starts = torch.cumsum(self.counts, 0) - self.counts  # where each class's group begins

    def order(self, epoch: int, rank: int = 0, world: int = 1) -> torch.Tensor:
        """The epoch's N draws (this rank's share), the same for the same (seed, epoch) on every run."""
        gen = torch.Generator().manual_seed((self.seed * SEED_STRIDE + epoch) ^ BALANCED_SALT)
        classes = self.present[torch.randint(len(self.present), (self.n,), generator=gen)]
        within = torch.rand(self.n, generator=gen, dtype=torch.float64) * self.counts[classes]
        picks = self.members[self.starts[classes] + within.long().clamp_max(self.counts[classes] - 1)]
        if world > 1:
            per_rank = -(-self.n // world)
            picks = torch.cat([picks, picks[: per_rank * world - self.n]])[rank::world]
        return picks

    def state_dict(self) -> dict:
        return {"kind": self.kind, "seed": self.seed, "n": self.n, "class_counts": self.counts.tolist()}

    def load_state_dict(self, state: dict) -> None:
        _check_same(self.state_dict(), state)


def sampler_for(kind: str, labels: torch.Tensor, seed: int, num_classes: int) -> Shuffle | Balanced:
    """The sampler `train.sampler` names, over the train split's labels."""
    if kind == "balanced":
        return Balanced(labels, seed, num_classes)
    return Shuffle(int(labels.shape[0]), seed)


def _check_same(mine: dict, saved: dict | None) -> None:
    """A checkpoint from before samplers were recorded carries none: the shuffle it used is this one."""
    if saved is None:
        saved = {"kind": "none", "seed": mine["seed"], "n": mine["n"]}
    if not isinstance(saved, dict):
        raise UserError(
            f"cannot resume: the checkpoint's sampler state is a {type(saved).__name__}, not a record; it is "
            "damaged: retrain, or resume another run"
        )
    if saved == mine:
        return
    differing = [k for k in sorted(set(mine) | set(saved)) if mine.get(k) != saved.get(k)]
    shown = ", ".join(f"{k} {_short(saved.get(k))} -> {_short(mine.get(k))}" for k in differing[:3])
    raise UserError(
        f"cannot resume: the checkpoint's sampler drew from other data ({shown}); resume with the data "
        "the run started with, or start a new run (--run-dir)"
    )


def _short(value) -> str:
    text = str(value)
    return text if len(text) <= 40 else text[:37] + "..."
