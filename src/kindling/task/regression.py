"""Regression: one standardised value per sample; its loss, metrics and the values it predicts.

The Task it is a kind of, and the rules every kind shares (the monitor for a small validation split), are
kindling.task.problems.
"""

from __future__ import annotations

import math
from functools import cached_property

from kindling.task.problems import Task


class Regression(Task):
    """One standardised value per sample: the model learns (y - mean) / std, predictions are unscaled."""

    name = "regression"
    monitors = {"val_loss": "min", "val_mae": "min", "val_rmse": "min", "val_r2": "max"}
    default_monitor = "val_loss"
    # on a small split the squared error is ruled by one or two outlying rows; the absolute error is the
    # robust figure, and the one users read
    small_split_monitor = "val_mae"
    conventions = ("value",)
    metric_width = 4  # sum |err|, sum err^2, sum t, sum t^2

    @property
    def num_outputs(self) -> int:
        return int(self.sig.extras.get("num_targets", 1))

    @property
    def target_scale(self) -> tuple[float, float]:
        """(mean, std) of the training targets: the model's outputs are in these units."""
        extras = self.sig.extras
        return float(extras.get("target_mean", 0.0)), float(extras.get("target_std", 1.0)) or 1.0

    def _fits(self, shape: list[int], batch: int) -> bool:
        return shape == [batch, self.num_outputs] or (self.num_outputs == 1 and shape == [batch])

    def _wants(self) -> str:
        return f"regression needs {self.num_outputs} value(s) per sample, (B, {self.num_outputs})"

    def target(self, y):
        mean, std = self.target_scale
        return ((y.float() - mean) / std).view(-1, 1)

    def loss(self, out, y):
        return self.loss_fn(out.float().view(y.shape[0], -1), self.target(y))

    @cached_property
    def loss_fn(self):
        import torch  # lazy: torch

        return torch.nn.MSELoss()

    def add_metrics(self, sums, out, y, ones) -> None:
        import torch  # lazy: torch

        mean, std = self.target_scale
        p = out.detach().double().reshape(y.shape) * std + mean
        t = y.double()  # targets arrive in their own units
        err = p - t
        sums += torch.stack([err.abs().sum(), (err * err).sum(), t.sum(), (t * t).sum()])

    def compute_metrics(self, sums, n: float) -> dict:
        abs_sum, sq_sum, t_sum, t2_sum = (float(v) for v in sums)
        var = t2_sum - t_sum * t_sum / n
        return {
            "mae": abs_sum / n,
            "rmse": math.sqrt(sq_sum / n),
            "r2": 1.0 - sq_sum / var if var > 0 else 0.0,
        }

    def values(self, out):
        """Outputs -> predicted values in the target's own units, one per sample (in float64 when the
        outputs are: the report's table rows are)."""
        import torch  # lazy: torch

        mean, std = self.target_scale
        first = out.view(out.shape[0], -1)[:, 0]
        return (first if first.dtype == torch.float64 else first.float()) * std + mean

    predictions = values

    def per_sample(self, out, y) -> tuple:
        """The value predicted and its squared error, both in the target's units."""
        value = self.values(out)
        return value, (value - y.float()) ** 2, None

    report_views = ("regression",)

    def results(self, out, top_k: int = 3) -> list[dict]:
        return [{"value": v} for v in self.values(out).tolist()]

    def describe_outputs(self) -> dict:
        return {
            "kind": "value",
            "formula": "value = output * target_std + target_mean",
            "target_mean": self.sig.extras.get("target_mean", 0.0),
            "target_std": self.sig.extras.get("target_std", 1.0),
        }
