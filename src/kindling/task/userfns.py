"""Your own loss and metrics, as the Task calls them.

    task = with_loss(task, fn, "focal")       # training's loss: fn(outputs, targets), checked each step
    split = SplitMetrics({"top3": top3}, task)
    for out, y in batches: split.add(out, y)
    split.compute()                           # {"top3": 0.987}: each metric once, over the whole split

**A loss** takes `(outputs, targets)` as the seeds' `criterion(outputs, labels)` does: the model's raw
outputs for a batch (logits, or log-probabilities for a `log_softmax` head) and the targets the built-in loss
would get (`task.target(y)`: class indices for classification, a 0/1 matrix for multi-label, the
standardised values, shape (B, 1), for regression). It returns one number as a tensor that depends on the
outputs; anything else (a vector, an int, a detached value, an exception) is one line naming it.

**A metric** takes `(outputs, targets)` for the whole split at once, called once per validation round
(and by `evaluate` on the split it reads): every batch's outputs concatenated in the split's order (float32,
on the CPU; for regression, values in the target's own units) and the targets as the data gives them
(class indices, values, a 0/1 matrix). Nothing is averaged over batches, so top-k accuracy, F1, AUC or a
business score come out as on the whole split. It returns a finite number (a Python number, a 0-d tensor or
a NumPy scalar); `mode = "min"` on the function says a lower value is better (default: higher).
"""

from __future__ import annotations

import math

from kindling.errors import UserError, one_line

# the names evaluate and the trainer already give a split's values: a metric of yours takes another
RESERVED = frozenset(
    "loss n split acc accuracy f1 macro_f1 mae rmse r2 confusion_matrix report per_class_accuracy "
    "baseline error".split()
)


class UserCodeFailed(UserError):
    """Your loss, metric or callback raised, or returned what cannot be used. `event` says when: the
    trainer decides from it whether the state it stopped in can be saved for an exact resume."""

    def __init__(self, message: str, event: str = "", who: str = ""):
        super().__init__(message)
        self.event, self.who = event, who  # who: the loss's name, the metric's key, the callback's name


def raised(what: str, exc: BaseException) -> str:
    return f"{what} raised {type(exc).__name__}: {one_line(str(exc), 80) or '(no message)'}"


def _a(name: str) -> str:
    return f"an {name}" if name[:1].lower() in "aeiou" else f"a {name}"


# ---------------------------------------------------------------- the loss


class UserLoss:
    """The user's loss in place of the Task's `loss_fn`."""

    weight = None  # what the Task asks a loss_fn for its class weights: none of kindling's (--class-weights)

    def __init__(self, fn, name: str):
        self.fn, self.name = fn, name

    def __call__(self, out, target):
        import torch  # lazy: `import kindling` loads no torch, and the Task is imported by it

        try:
            loss = self.fn(out, target)
        except Exception as exc:
            raise UserCodeFailed(
                raised(f"your loss {self.name}", exc) + "; fix it", "loss", self.name
            ) from exc
        if not isinstance(loss, torch.Tensor) or loss.numel() != 1 or not loss.is_floating_point():
            got = (
                f"a tensor of shape {tuple(loss.shape)} ({str(loss.dtype).removeprefix('torch.')})"
                if isinstance(loss, torch.Tensor)
                else _a(type(loss).__name__)
            )
            raise UserCodeFailed(
                f"your loss {self.name} returned {got}; return one number as a float tensor "
                "(e.g. .mean() over the batch)",
                "loss",
                self.name,
            )
        if torch.is_grad_enabled() and not loss.requires_grad:
            raise UserCodeFailed(
                f"your loss {self.name} returned a tensor that does not depend on the outputs (no gradient); "
                "compute it from `outputs` with torch operations, without .item(), .detach() or NumPy",
                "loss",
                self.name,
            )
        return loss.reshape(())


def with_loss(task, fn, name: str):
    """`task` training with `fn` instead of its built-in loss (the instance's `loss_fn`; the class keeps
    its own for evaluate, which reports the task's standard loss as with label smoothing)."""
    task.loss_fn = UserLoss(fn, name)
    return task


def check_loss(task, out, y, name: str) -> None:
    """The loss on one real batch before any step: a result that cannot train, or NaN, is one line now
    rather than a traceback (or a stop) later."""
    loss = task.loss(out, y)
    if not math.isfinite(float(loss.detach())):
        raise UserCodeFailed(
            f"your loss {name} is {float(loss.detach())} on the first batch of the training data, before any "
            "step; check it for log(0), division by zero or sqrt of a negative",
            "loss",
            name,
        )


# ---------------------------------------------------------------- metrics


def check_key(key: str) -> None:
    if key in RESERVED:
        raise UserError(
            f"--metric {key}=...: '{key}' is one of kindling's own values; name your metric another way "
            f"(--metric my_{key}=FILE.py:NAME)"
        )


def mode_of(fn) -> str:
    """'max' unless the metric says `mode = "min"` (a lower value is better)."""
    mode = getattr(fn, "mode", "max")
    return mode if mode in ("min", "max") else "max"


def merged(result: dict, yours: dict) -> dict:
    """A split's values with the user's added; a key the task already gives is refused, not overwritten."""
    clash = sorted(set(result) & set(yours))
    if clash:
        raise UserCodeFailed(
            f"your metric {clash[0]} has the name of one of kindling's own values; name it another way "
            f"(--metric my_{clash[0]}=FILE.py:NAME)",
            "metric",
            clash[0],
        )
    return {**result, **yours}


class SplitMetrics:
    """The user's metrics over one pass: each batch's outputs and targets kept on the device (no host
    sync per batch), moved to the CPU once, then each metric called once on the whole split."""

    def __init__(self, metrics: dict, task):
        self.metrics, self.task = metrics, task
        self.outs: list = []
        self.ys: list = []

    def add(self, out, y) -> None:
        self.outs.append(out.detach())
        self.ys.append(y.detach())

    def compute(self, gather=None) -> dict[str, float]:
        """{key: value}; `gather(tensor)` puts a distributed pass's rows back together, in order."""
        import torch  # lazy: as above

        if not self.outs:
            return {}
        out, y = torch.cat(self.outs), torch.cat(self.ys)
        if gather is not None:
            out, y = gather(out), gather(y)
        self.outs, self.ys = [], []
        view = getattr(self.task, "values", None)  # regression: values in the target's own units
        out = (view(out) if view is not None else out.float()).cpu()
        y = y.cpu()
        return {key: self._one(key, fn, out, y) for key, fn in self.metrics.items()}

    @staticmethod
    def _one(key: str, fn, out, y) -> float:
        try:
            value = fn(out, y)
        except Exception as exc:
            raise UserCodeFailed(raised(f"your metric {key}", exc), "metric", key) from exc
        try:
            number = float(value.item() if hasattr(value, "item") else value)
        except (TypeError, ValueError, RuntimeError):
            number = None
        if number is None or isinstance(value, bool) or not math.isfinite(number):
            shape = getattr(value, "shape", None)
            shown = (
                f"{_a(type(value).__name__)} of shape {tuple(shape)}" if shape else one_line(repr(value), 40)
            )
            raise UserCodeFailed(
                f"your metric {key} returned {shown}; return one finite number",
                "metric",
                key,
            )
        return number
