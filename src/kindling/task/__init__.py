"""The Task: the one place that knows what a model's inputs and outputs mean.

    task = task_for(data.signature, model)
    loss = task.loss(out, y)               # scaled targets, the right loss for the kind of problem
    task.predictions(out)                  # class indices, values in the target's units, or 0/1 labels
    task.monitor_for("auto"), task.mode("val_acc")
    task.inputs.preprocess(device)         # the input kind's hooks (kindling.task.inputs)

Classification, regression and multi-label differ in the loss, in how raw outputs become probabilities
or values, in the metrics and in which of them picks the best model (`kindling.task.problems`,
`kindling.task.regression`, `kindling.task.multilabel`). The
trainer, evaluate, predict, export and the LR finder ask the Task; none of them branches on `sig.task`
or, for the maths, on `sig.input_kind`. The Task also knows the model's output convention: logits, or
log-probabilities (a `log_softmax` head trained with NLL, as seed 002 does), marked by a model's
`outputs_log_probs` attribute or detected from one real batch (`detect_convention`), and it refuses a
wrong output shape before training starts (`check_outputs`, run by `kindling.task.probe` in the trainer
and, for a user's own model, when it is built). `task.per_sample(out, y)` gives the report's per-sample
predictions and losses, and `task.report_views` the views of them the report draws.

Nothing here imports torch at import time: `import kindling` stays light.
"""

from __future__ import annotations

from kindling.errors import UserError
from kindling.task.inputs import Inputs, inputs_for
from kindling.task.multilabel import MultiLabel
from kindling.task.problems import LOG_PROB_TOLERANCE, Classification, Task
from kindling.task.regression import Regression

__all__ = [
    "LOG_PROB_TOLERANCE",
    "MONITOR_MODES",
    "Classification",
    "Inputs",
    "MultiLabel",
    "Regression",
    "TASKS",
    "Task",
    "inputs_for",
    "task_for",
    "task_of_bundle",
]

TASKS: dict[str, type[Task]] = {t.name: t for t in (Classification, Regression, MultiLabel)}
MONITOR_MODES = {m: mode for t in TASKS.values() for m, mode in t.monitors.items()}


def task_for(
    sig,
    model=None,
    *,
    label_smoothing: float = 0.0,
    convention: str | None = None,
    class_weights: list[float] | None = None,
    threshold: float | None = None,
    thresholds: list[float] | None = None,
) -> Task:
    """The Task of a Signature. The output convention comes from `convention` (what training detected,
    kept in the Bundle), else from the model's `outputs_log_probs` attribute, else the task's default.
    `class_weights` weigh the loss, `threshold` decides two classes (kindling.task.imbalance, .threshold);
    `thresholds`: a multi-label model's per-label thresholds, tuned on validation (kept in the Bundle)."""
    if sig.task not in TASKS:
        raise UserError(f"task '{sig.task}' is not one of {', '.join(TASKS)}")
    cls = TASKS[sig.task]
    if convention is None and getattr(model, "outputs_log_probs", False) and "log_probs" in cls.conventions:
        convention = "log_probs"
    task = cls(sig, label_smoothing, convention, class_weights=class_weights, threshold=threshold)
    if thresholds is not None and hasattr(task, "thresholds"):
        task.thresholds = [float(t) for t in thresholds]
    return task


def task_of_bundle(bundle) -> Task:
    """The Task a Bundle was trained with (its recorded output convention, else its model's attribute),
    deciding as its header says (a two-class threshold chosen on val: `meta["decision"]`; a multi-label
    model's per-label thresholds: `meta["metrics"]["thresholds"]`)."""
    from kindling.task.threshold import check_decision  # lazy: numpy

    recorded = bundle.meta.get("metrics") or {}
    names = bundle.signature.class_names
    threshold = check_decision(bundle.meta.get("decision"), bundle.path or "the bundle", len(names))
    return task_for(
        bundle.signature,
        bundle.model,
        convention=recorded.get("outputs"),
        threshold=threshold,
        thresholds=recorded.get("thresholds"),
    )
