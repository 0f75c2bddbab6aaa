"""Bad tracking input: the MLflow logger without its package, logger names that do not exist. (A tracking
server that refuses the connection is not a refusal: training goes on, with one warning line; see
test_tracking.py.)"""

from __future__ import annotations

from badinput.harness import Case
from badinput.trainargs import train

CASES = [
    Case(
        "mlflow-not-installed",
        lambda folder: train(folder, "--logger", "mlflow"),
        "pip install 'kindling[mlflow]'",
    ),
    Case(
        "logger-list-unknown",
        lambda folder: train(folder, "--logger", "tensorboard,wandb"),
        "train.logger = 'tensorboard,wandb' is not a valid choice",
    ),
    Case(
        "logger-set-list-unknown",
        lambda folder: train(folder, "--set", "train.logger=[mlflow, mlflw]"),
        "did you mean 'mlflow'",
    ),
    Case(
        "logger-set-list-not-names",
        lambda folder: train(folder, "--set", "train.logger=[[mlflow]]"),
        "train.logger",
    ),
]
