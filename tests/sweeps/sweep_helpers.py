"""Helpers of the sweep tests: a tiny digits recipe, and the study read back through Optuna itself."""

from __future__ import annotations

from pathlib import Path

RECIPE = """\
data: {name: digits, batch_size: 64}
model: {name: mlp, options: {hidden: [16]}}
optim: {name: adamw, lr: 0.003}
train: {epochs: EPOCHS, monitor: val_acc, threads: 1, logger: none, baseline: none, seed: 0}
"""


def write_recipe(folder: Path, epochs: int = 3, extra: str = "", name: str = "tiny.yaml") -> Path:
    path = folder / name
    path.write_text(RECIPE.replace("EPOCHS", str(epochs)) + extra, encoding="utf-8")
    return path


def study_of(folder: Path, name: str | None = None, url: str | None = None):
    """The study as Optuna itself reads it (not through kindling's code)."""
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    url = url or f"sqlite:///{folder / 'sweep.db'}"
    return optuna.load_study(study_name=name or folder.name, storage=url)
