"""Task metrics, accumulated on the device without a sync per batch, reducible across DDP ranks."""

from __future__ import annotations

import torch
import torch.distributed as dist


class Metrics:
    """Running sums for one phase. `update` per batch; `compute()` -> {'loss', 'acc', ...}.

    What the sums after (loss_sum, n) hold, and what they become, is the Task's (`kindling.task`)."""

    def __init__(self, task, device):
        self.task = task
        self.sums = torch.zeros(2 + task.metric_width, dtype=torch.float64, device=device)
        self.n = 0
        self._ones_cache: torch.Tensor | None = None

    def update(self, loss: torch.Tensor, outputs: torch.Tensor, y: torch.Tensor) -> None:
        """Few kernels, no host sync: on a GPU each extra launch is time the step pays."""
        n = y.shape[0]
        self.n += n  # counted on the host
        with torch.no_grad():
            self.sums[0].add_(loss.detach(), alpha=n)
            self.task.add_metrics(self.sums[2:], outputs, y, self._ones)

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

        self.sums[1] = self.n
        if dist.is_available() and dist.is_initialized():
            dist.all_reduce(self.sums)
        self.n = int(self.sums[1])

    def compute(self) -> dict:
        self.sums[1] = self.n
        s = self.sums.cpu()
        n = max(1.0, float(self.n))
        return {"loss": float(s[0]) / n, "n": int(s[1]), **self.task.compute_metrics(s[2:], n)}

    def live_text(self) -> str:
        """The progress bar's running numbers (reads the device once)."""
        sums = self.sums.tolist()
        n = max(1, self.n)
        return f"loss {sums[0] / n:.4f}" + self.task.live_text(sums, n)


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
