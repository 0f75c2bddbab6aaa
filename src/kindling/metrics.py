"""Task metrics, accumulated on the device without a sync per batch, reducible across DDP ranks."""

from __future__ import annotations

import math

import torch


class Metrics:
    """Running sums for one phase. `update` per batch; `compute()` -> {'loss', 'acc', ...}."""

    def __init__(self, task: str, num_classes: int, device, target_scale: tuple[float, float] = (0.0, 1.0)):
        self.task, self.num_classes = task, num_classes
        self.t_mean, self.t_std = target_scale
        width = num_classes * num_classes if task == "classification" else 4
        self.sums = torch.zeros(2 + width, dtype=torch.float64, device=device)  # loss_sum, n, then task sums
        self.n = 0
        self._ones_cache: torch.Tensor | None = None

    def update(self, loss: torch.Tensor, outputs: torch.Tensor, y: torch.Tensor) -> None:
        """Few kernels, no host sync: on a GPU each extra launch is time the step pays."""
        n = y.shape[0]
        self.n += n  # counted on the host
        with torch.no_grad():
            self.sums[0].add_(loss.detach(), alpha=n)
            if self.task == "classification":
                # index_add_ instead of bincount: bincount syncs the host on CUDA to size its output
                cell = outputs.detach().argmax(1).add_(y, alpha=self.num_classes)
                self.sums[2:].index_add_(0, cell, self._ones(n))
            else:
                p = outputs.detach().double().reshape(y.shape) * self.t_std + self.t_mean
                t = y.double()  # targets arrive in their own units
                err = p - t
                self.sums[2:] += torch.stack([err.abs().sum(), (err * err).sum(), t.sum(), (t * t).sum()])

    def _ones(self, n: int) -> torch.Tensor:
        if self._ones_cache is None or self._ones_cache.shape[0] < n:
            self._ones_cache = torch.ones(n, dtype=torch.float64, device=self.sums.device)
        return self._ones_cache[:n]

    def state(self) -> torch.Tensor:
        self.sums[1] = self.n
        return self.sums.detach().cpu().clone()

    def load(self, sums: torch.Tensor) -> None:
        self.sums.copy_(sums.to(self.sums.device))
        self.n = int(sums[1])

    def all_reduce(self) -> None:
        import torch.distributed as dist

        self.sums[1] = self.n
        if dist.is_available() and dist.is_initialized():
            dist.all_reduce(self.sums)
        self.n = int(self.sums[1])

    def compute(self) -> dict:
        self.sums[1] = self.n
        s = self.sums.cpu()
        n = max(1.0, float(self.n))
        out = {"loss": float(s[0]) / n, "n": int(s[1])}
        if self.task == "classification":
            cm = s[2:].view(self.num_classes, self.num_classes).long()
            out["acc"] = float(cm.diag().sum()) / n
            out["confusion_matrix"] = cm.tolist()
        else:
            abs_sum, sq_sum, t_sum, t2_sum = (float(v) for v in s[2:])
            var = t2_sum - t_sum * t_sum / n
            out["mae"] = abs_sum / n
            out["rmse"] = math.sqrt(sq_sum / n)
            out["r2"] = 1.0 - sq_sum / var if var > 0 else 0.0
        return out


def per_class(confusion: list[list[int]], class_names: list[str]) -> dict:
    """Per-class accuracy (recall), precision, recall, F1 and support from a confusion matrix (rows: truth)."""
    cm = torch.tensor(confusion, dtype=torch.float64)
    tp = cm.diag()
    support = cm.sum(1)
    predicted = cm.sum(0)
    recall = torch.where(support > 0, tp / support.clamp_min(1), torch.zeros_like(tp))
    precision = torch.where(predicted > 0, tp / predicted.clamp_min(1), torch.zeros_like(tp))
    f1 = torch.where(
        precision + recall > 0,
        2 * precision * recall / (precision + recall).clamp_min(1e-12),
        torch.zeros_like(tp),
    )
    report = {
        name: {
            "precision": float(precision[i]),
            "recall": float(recall[i]),
            "f1": float(f1[i]),
            "support": int(support[i]),
        }
        for i, name in enumerate(class_names)
    }
    return {
        "per_class_accuracy": {name: float(recall[i]) for i, name in enumerate(class_names)},
        "report": report,
        "macro_f1": float(f1.mean()) if len(class_names) else 0.0,
    }


MONITOR_MODES = {"val_acc": "max", "val_loss": "min", "val_mae": "min", "val_rmse": "min", "val_r2": "max"}
