"""The kinds of problem: what a model's outputs mean, the Task every kind is, and classification
(regression: kindling.task.regression; multi-label: kindling.task.multilabel).

Each kind knows its loss, how raw outputs become probabilities, predictions or values, its target
scaling, its metrics and which of them can pick the best model. torch is imported inside the methods.
"""

from __future__ import annotations

import copy
from functools import cached_property

from kindling.errors import UserError
from kindling.task.inputs import inputs_for

LOG_PROB_TOLERANCE = 1e-3  # a row of log-probabilities: |sum(exp(row)) - 1| under this for every row
# Under this many validation samples, a monitor left to kindling (`auto`) is the task's small-split
# monitor (the loss; MAE for regression), whoever chose the model (kindling, a recipe, a flag, the user's
# own class): accuracy on n samples moves in steps of 1/n, so several epochs share the best one and the
# first of them, often undertrained, is kept. Measured by benchmarks/bench_monitor.py (the small-table
# MLP, 60 epochs, 10 seeds, nested validation splits; BENCHMARKS.md): the epoch val_acc picked was worse
# on test than val_loss's by 2 to 5 points at 25 samples, 0.3 to 1.1 at 100, 0.2 at 400 and 800, and
# 0.04 and 0.02 (noise) at 1,600 and 3,200, where the best accuracy had also stopped tying (30%, 0% of
# runs; 40-100% below). Accuracy never picked clearly better; from 1,000 samples it is as good, and it is
# the figure users read.
SMALL_VAL = 1000


class Task:
    """What the outputs of a model for `sig` mean. Subclasses fill in one kind of problem."""

    name = ""
    monitors: dict[str, str] = {}  # the metrics that can pick the best model -> "max" | "min"
    default_monitor = "val_loss"
    small_split_monitor = "val_loss"  # `auto` on a validation split of fewer than SMALL_VAL samples
    conventions: tuple[str, ...] = ()  # how the model's outputs read, the first one the default
    class_targets = False  # one class id per sample: class counts, a prediction grid, sorting into folders
    averages = "values"  # what `average` averages (a fold ensemble, test-time augmentation)

    def __init__(
        self,
        sig,
        label_smoothing: float = 0.0,
        convention: str | None = None,
        *,
        class_weights: list[float] | None = None,
        threshold: float | None = None,
    ):
        """`class_weights`: one per class, in the loss (kindling.task.imbalance); `threshold`: a two-class
        decision on the second class's probability (kindling.task.threshold). Classification uses them."""

        self.sig = sig
        self.inputs = inputs_for(sig)  # the input kind's hooks: preprocessing, example batches, export
        self.label_smoothing = label_smoothing
        self.class_weights = class_weights
        if threshold is not None:
            self.threshold = threshold
        self.convention = convention or self.conventions[0]
        if self.convention not in self.conventions:
            raise ValueError(f"{self.name} outputs are {' or '.join(self.conventions)}, not {convention}")

    @property
    def num_outputs(self) -> int:
        return len(self.sig.class_names)

    # ------------------------------------------------------------------ monitor

    def monitor_for(self, monitor: str, n_val: int | None = None) -> str:
        """`auto` -> this task's default, or its small-split monitor when the validation split has fewer
        than SMALL_VAL samples (`n_val`; None: not known); a metric this task does not compute is the
        user's mistake."""
        if monitor == "auto":
            return self.small_split_monitor if n_val and n_val < SMALL_VAL else self.default_monitor
        if monitor not in self.monitors:
            raise UserError(
                f"--monitor {monitor} does not apply to a {self.name} task; "
                f"use auto or one of {', '.join(self.monitors)}"
            )
        return monitor

    def mode(self, monitor: str) -> str:
        """'max' or 'min': which way the monitored metric improves."""
        return self.monitors[self.monitor_for(monitor)]

    @property
    def metric_names(self) -> list[str]:
        return [m.removeprefix("val_") for m in self.monitors]

    # ------------------------------------------------------------------ the model's outputs

    def detect_convention(self, out) -> str:
        """How a batch of raw outputs reads; only classification has a choice to detect."""
        return self.conventions[0]

    def settled(self, model, out) -> Task:
        """This Task with the convention `out` (a checked batch of `model`'s outputs) shows, unless the
        model carries an `outputs_log_probs` mark: the mark wins over what one batch looks like."""
        if getattr(model, "outputs_log_probs", None) is not None:
            return self
        return self.with_convention(self.detect_convention(out))

    def with_convention(self, convention: str) -> Task:
        """This Task (its weights, threshold ...) reading outputs as `convention`."""

        if convention not in self.conventions:
            raise ValueError(f"{self.name} outputs are {' or '.join(self.conventions)}, not {convention}")
        task = copy.copy(self)
        task.convention = convention
        task.__dict__.pop("loss_fn", None)  # cached for the old convention
        return task

    def check_outputs(self, model_name: str, out, batch: int) -> None:
        """One clear line when `out` (a model's outputs for `batch` samples) cannot mean this task."""
        if not hasattr(out, "shape"):
            raise UserError(
                f"model {model_name} returns a {type(out).__name__}; return one tensor: {self._wants()}"
            )
        if not self._fits(list(out.shape), batch):
            got = "(" + ", ".join(["B", *map(str, out.shape[1:])]) + ")"
            raise UserError(
                f"model {model_name} gives outputs of shape {got} but {self._wants()}; change its last layer"
            )

    def _fits(self, shape: list[int], batch: int) -> bool:
        return shape == [batch, self.num_outputs]

    def _wants(self) -> str:
        return f"the data has {self.num_outputs} classes, which needs (B, {self.num_outputs})"

    # ------------------------------------------------------------------ training

    def target(self, y):
        """Targets as the loss wants them (scaled for regression)."""
        return y

    def loss(self, out, y):
        """The batch's mean loss from raw outputs and targets in their own units."""
        return self.loss_fn(out.float(), self.target(y))

    @cached_property
    def loss_fn(self):
        raise NotImplementedError

    def metrics(self, device):
        """Running sums for one phase (train epoch, validation pass, evaluate)."""
        from kindling.task.metrics import Metrics  # lazy: torch

        return Metrics(self, device)

    metric_width = 0  # task sums kept on the device after (loss_sum, n)

    def add_metrics(self, sums, out, y, ones) -> None:
        raise NotImplementedError

    def compute_metrics(self, sums: list[float], n: float) -> dict:
        raise NotImplementedError

    def live_text(self, sums: list[float], n: float) -> str:
        """What the progress bar shows besides the loss."""
        return ""

    # ------------------------------------------------------------------ prediction

    def predictions(self, out):
        raise NotImplementedError

    def average(self, outputs: list):
        """Raw outputs of several models or views for the same samples (a fold ensemble's members,
        test-time augmentation) -> one raw output of this task's convention that means their average.
        Values (regression) are averaged as they are: a standardised value is an affine map of the value."""
        import torch  # lazy: torch

        return torch.stack([o.float().view(o.shape[0], -1) for o in outputs]).mean(0)

    def per_sample(self, out, y) -> tuple:
        """(prediction, loss, probability of the prediction or None) for each sample of a batch of raw
        outputs and targets in their own units: what the report's pictures are drawn from."""
        raise NotImplementedError

    report_views: tuple[str, ...] = ()  # the report's views of the best model's predictions (report.render)

    def results(self, out, top_k: int = 3) -> list[dict]:
        """One JSON-ready dict per sample: what predict, serve and batch predict return."""
        raise NotImplementedError

    def describe_outputs(self) -> dict:
        """The postprocessing an exported model needs, for a reader without kindling."""
        raise NotImplementedError

    whole_split = False  # whether evaluate keeps a split's every output for `split_metrics`

    def split_metrics(self, out, y) -> dict:
        """Figures that need a whole split's raw outputs at once (evaluate), beside the running sums'."""
        return {}


class Classification(Task):
    name = "classification"
    monitors = {"val_acc": "max", "val_loss": "min"}
    default_monitor = "val_acc"
    conventions = ("logits", "log_probs")
    class_targets = True
    averages = "softmax probabilities"
    threshold: float | None = None  # two classes: the second when its probability is >= this; else argmax

    def detect_convention(self, out) -> str:
        """Log-probabilities when every row's exp sums to 1 (a log_softmax head), logits otherwise.
        One class says nothing (a zero logit is also a log-probability of 1): logits."""
        import torch  # lazy: torch

        if self.num_outputs < 2:
            return "logits"
        with torch.no_grad():
            sums = out.detach().float().exp().sum(1)
        return "log_probs" if bool(((sums - 1).abs() < LOG_PROB_TOLERANCE).all()) else "logits"

    @cached_property
    def loss_fn(self):
        import torch  # lazy: torch

        weight = None if self.class_weights is None else torch.tensor(self.class_weights, dtype=torch.float32)
        if self.convention == "log_probs":
            return torch.nn.NLLLoss(weight=weight)
        return torch.nn.CrossEntropyLoss(weight=weight, label_smoothing=self.label_smoothing)

    def loss(self, out, y):
        fn = self.loss_fn
        if fn.weight is not None and fn.weight.device != out.device:  # the weights follow the outputs
            fn.to(out.device)
        return fn(out.float(), self.target(y))

    @property
    def metric_width(self) -> int:
        return self.num_outputs * self.num_outputs  # the confusion matrix

    def add_metrics(self, sums, out, y, ones) -> None:
        # index_add_ instead of bincount: bincount syncs the host on CUDA to size its output
        pred = out.detach().argmax(1) if self.threshold is None else self.predictions(out.detach())
        cell = pred.add_(y, alpha=self.num_outputs)
        sums.index_add_(0, cell, ones(y.shape[0]))

    def compute_metrics(self, sums, n: float) -> dict:
        k = self.num_outputs
        cm = sums.view(k, k).long()
        return {"acc": float(cm.diag().sum()) / n, "confusion_matrix": cm.tolist()}

    def live_text(self, sums: list[float], n: float) -> str:
        k = self.num_outputs
        return f" acc {sum(sums[2 + i * (k + 1)] for i in range(k)) / n:.4f}"

    def probabilities(self, out):
        import torch  # lazy: torch

        return out.float().exp() if self.convention == "log_probs" else torch.softmax(out.float(), dim=1)

    def log_probabilities(self, out):
        """Per-class log-probabilities (a sample's loss is minus the true class's), computed stably."""
        import torch  # lazy: torch

        return out.float() if self.convention == "log_probs" else torch.log_softmax(out.float(), dim=1)

    def predictions(self, out):
        if self.threshold is None:
            return out.argmax(1)
        return (self.probabilities(out)[:, 1] >= self.threshold).long()

    def average(self, outputs: list):
        """Softmax probabilities averaged, as their logarithm: read as logits or as log-probabilities
        alike, it gives back exactly the averaged probabilities (softmax(log p) = p when p sums to 1)."""
        import torch  # lazy: torch

        probs = torch.stack([self.probabilities(o) for o in outputs]).mean(0)
        return probs.clamp_min(torch.finfo(probs.dtype).tiny).log()

    def per_sample(self, out, y) -> tuple:
        """The class predicted, its cross-entropy (NLL of the log-probabilities) and its probability."""
        import torch.nn.functional as F  # lazy: torch

        log_p = self.log_probabilities(out)
        pred = log_p.argmax(1) if self.threshold is None else self.predictions(out)
        return pred, F.nll_loss(log_p, y, reduction="none"), log_p.gather(1, pred[:, None])[:, 0].exp()

    report_views = (
        "confusion matrix",
        "per-class accuracy",
        "prediction grid",
        "top losses",
        "confused pairs",
    )

    def results(self, out, top_k: int = 3) -> list[dict]:
        probs = self.probabilities(out)
        k = max(1, min(top_k, probs.shape[1]))
        top_p, top_i = probs.topk(k, dim=1)
        names = self.sig.class_names
        results = []
        for p_row, i_row in zip(top_p.tolist(), top_i.tolist()):
            tops = [{"label": i, "label_name": names[i], "probability": p} for p, i in zip(p_row, i_row)]
            results.append(
                {"label": i_row[0], "label_name": names[i_row[0]], "probability": p_row[0], "top_k": tops}
            )
        if self.threshold is not None:  # the decision is the threshold's; top_k stays by probability
            for result, label, row in zip(results, self.predictions(out).tolist(), probs.tolist()):
                result.update(label=label, label_name=names[label], probability=row[label])
                result["threshold"] = self.threshold
        return results

    def describe_outputs(self) -> dict:
        log_probs = self.convention == "log_probs"
        described = {
            "kind": self.convention,
            "to_probabilities": "exp" if log_probs else "softmax over dim 1",
            "class_names": self.sig.class_names,
        }
        if self.threshold is not None:
            names = self.sig.class_names
            described["threshold"] = self.threshold
            described["decision"] = f"{names[1]} when probability[:, 1] >= threshold, else {names[0]}"
        return described
