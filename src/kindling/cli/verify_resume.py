"""`kindling verify-resume`: train straight through, then train again with an interruption in the middle
of an epoch and a resume, and check that the final weights are bit-identical. A self-test of exact resume."""

from __future__ import annotations

import signal
import tempfile
from pathlib import Path

from kindling import data
from kindling.bundle.rundir import load_saved_config
from kindling.cli.args import add_set_argument
from kindling.config.load import load_config
from kindling.runner import train
from kindling.train import checkpoint
from kindling.train.events import Callback, Interrupted


def add_commands(sub) -> None:
    p = sub.add_parser(
        "verify-resume", help="train, interrupt, resume, and check the weights are bit-identical"
    )
    p.add_argument("recipe", nargs="?", help="recipe YAML (default: the digits demo config)")
    add_set_argument(p, "config overrides (repeatable; default: none)")
    p.add_argument("--epochs", type=int, default=2, help="epochs of the comparison (default: 2)")
    p.set_defaults(handler=cmd_verify_resume)


def cmd_verify_resume(args) -> int:
    return 0 if verify_resume(args.recipe, args.sets, args.epochs) else 1


class InterruptAt(Callback):
    """Behaves like a Ctrl-C arriving after optimizer step `step`."""

    def __init__(self, step: int):
        self.step = step

    def on_step_end(self, trainer) -> None:
        if trainer.progress.step == self.step and trainer.signals.signum is None:
            trainer.signals.signum = signal.SIGINT


def weights_equal(run_a: Path, run_b: Path) -> tuple[bool, list[str]]:
    import torch  # lazy: torch

    a = checkpoint.load(run_a / "checkpoints" / "last.pt")["model"]
    b = checkpoint.load(run_b / "checkpoints" / "last.pt")["model"]
    differing = [k for k in a if k not in b or not torch.equal(a[k], b[k])]
    return not differing and a.keys() == b.keys(), differing


def verify_resume(
    recipe: str | None, sets: list[str], epochs: int = 2, echo=print, stop_at: int | None = None
) -> bool:

    # the two runs are compared and thrown away: no baseline beside them and no pictures at their end
    # (neither runs until the weights are final; a recipe's or --set's train.baseline still wins)
    flags = {"train.epochs": epochs, "train.deterministic": True, "train.baseline": "none"}
    quiet = lambda *a, **k: None  # noqa: E731 - the two runs' epoch lines would only repeat
    with tempfile.TemporaryDirectory(prefix="kindling-verify-") as tmp:
        straight = load_config(recipe, {**flags, "run_dir": f"{tmp}/straight"}, sets)
        train(straight, echo=quiet, draw=False)
        steps_per_epoch = _steps_per_epoch(load_saved_config(Path(tmp) / "straight"))  # as it settled
        if stop_at is None:
            stop_at = max(1, steps_per_epoch * epochs // 2 + steps_per_epoch // 3)  # mid-epoch
        broken = load_config(recipe, {**flags, "run_dir": f"{tmp}/resumed"}, sets)
        try:
            train(broken, echo=quiet, callbacks=[InterruptAt(stop_at)], draw=False)
            echo(f"note: the run ended before step {stop_at}; nothing was interrupted")
        except Interrupted:
            train(
                load_config(recipe, {**flags, "run_dir": f"{tmp}/resumed"}, sets),
                resume=f"{tmp}/resumed",
                echo=quiet,
                draw=False,
            )
        same, differing = weights_equal(Path(tmp) / "straight", Path(tmp) / "resumed")
    if same:
        echo(
            f"resume verified: interrupted at step {stop_at} (mid-epoch) and resumed; final weights are bit-identical"
        )
    else:
        echo(
            f"resume MISMATCH: {len(differing)} tensors differ after resuming at step {stop_at}: {', '.join(differing[:5])}"
        )
    return same


def _steps_per_epoch(cfg) -> int:

    n = len(data.build(cfg.data, quiet=True).train)
    if cfg.train.overfit_batches:
        n = min(n, cfg.train.overfit_batches * cfg.data.batch_size)
    return -(-n // cfg.data.batch_size) // max(1, cfg.train.accumulate)
