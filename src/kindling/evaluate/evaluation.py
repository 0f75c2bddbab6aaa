"""`kindling evaluate RUN`: the Bundle on a split of its data -> loss, accuracy, per-class table, confusion."""

from __future__ import annotations

import sys
from pathlib import Path

import torch

from kindling import data as data_mod
from kindling.bundle.files import Bundle, load_bundle
from kindling.bundle.rundir import data_config_for
from kindling.errors import UserError
from kindling.models.averaged import with_tta
from kindling.models.common import forward
from kindling.models.userrefs import bundle_metrics
from kindling.task import task_for, task_of_bundle
from kindling.task.inputs import make_preprocess
from kindling.task.metrics import per_class
from kindling.task.userfns import SplitMetrics
from kindling.util.fileio import atomic_write_json, finite


def evaluate(
    run: str | Path,
    split: str = "test",
    data_spec: str | None = None,
    device: str = "cpu",
    trust_code: bool = False,
    tta: bool = False,
    objects: dict | None = None,
) -> dict:
    """Metrics of the run's best model on `split` (test or val) of its data. `tta`: averaged over the
    flips and shifts it trained with (kindling.data.tta), recorded in the result's "tta". `objects`: what
    kindling.fit handed over, when the run's data is theirs (a `Run` holds it)."""

    if split not in ("test", "val", "train"):
        raise UserError(f"--split '{split}' is not one of test, val, train")
    bundle = load_bundle(run, device, trust_code)
    data_cfg = data_config_for(bundle, data_spec)
    model, task, record = bundle.model, task_of_bundle(bundle), None
    if tta:  # refused before the data is read when the model has no views (a table, a text)
        model, record = with_tta(model, bundle.signature, data_cfg.augment, task)
    # other data than the run's: encode it with the model's own fitted vocabulary / encoders
    fitted = bundle.signature if data_spec else None
    dm = data_mod.build(data_cfg, quiet=True, fitted=fitted, objects=objects)
    part = dm.split(split)
    if part is None or len(part) == 0:
        raise UserError(f"the data has no {split} split; use --split val or give data.{split}")
    mine = own_metrics(bundle, trust_code)
    result = evaluate_model(model, bundle.signature, part, split, device, task=task, metrics=mine)
    return {**result, "tta": record} if record is not None else result


NOT_FINITE = "some metrics are not finite numbers (null here): the model's outputs overflow"


def metrics_file(run_dir: str | Path, split: str, tta: bool = False) -> Path:
    """RUN/metrics_<split>.json, or RUN/metrics_<split>_tta.json for test-time augmentation."""
    return Path(run_dir) / f"metrics_{split}{'_tta' if tta else ''}.json"


def strict_metrics(metrics: dict) -> dict:
    """The metrics as strict JSON holds them: a NaN or infinite value is null, and "error" says why."""
    strict, bad = finite(metrics)
    if bad:
        strict["error"] = NOT_FINITE
    return strict


def write_metrics(run_dir: str | Path, split: str, metrics: dict, tta: bool = False) -> dict:
    """The one writer of RUN/metrics_<split>.json, for `kindling evaluate` and `Run.evaluate` alike:
    strict JSON (a non-finite metric is null, see strict_metrics), written atomically. Returns what it wrote."""
    strict = strict_metrics(metrics)
    atomic_write_json(metrics_file(run_dir, split, tta), strict)
    return strict


def own_metrics(bundle: Bundle, trust_code: bool = False, note=None) -> dict:
    """{key: fn}: the metrics of your own the Bundle trained with, imported as its model's code is
    (kindling.models.userrefs); one of a notebook that is gone is left out with a note on stderr."""

    note = note or (lambda text: print(f"kindling: note: {text}", file=sys.stderr))
    try:
        return bundle_metrics(bundle.meta, bundle.path, trust_code, note)
    except UserError as exc:
        raise UserError(f"{bundle.path}: {exc}") from exc


def evaluate_model(
    model, sig, part, split: str, device="cpu", each_batch=None, task=None, metrics: dict | None = None
) -> dict:
    """`model` (eval mode, no grad) over one split -> evaluate's metrics. `each_batch(out, y)` sees every
    batch's raw outputs, so a caller that also needs per-sample results (the report's plots) gets them
    from the same pass and the same numbers. `metrics`: your own ({key: fn}, on the whole split)."""

    preprocess = make_preprocess(sig, device)
    evaluation = Evaluation(model, sig, device, task, metrics)
    was_training = model.training
    model.eval()
    with torch.no_grad():
        for x, y, lengths in part.batches(512):
            out = forward(model, preprocess(x), lengths)
            evaluation.update(out, y)
            if each_batch is not None:
                each_batch(out, y)
    model.train(was_training)
    return evaluation.result(split)


class Evaluation:
    """evaluate's metrics added up from a model's raw outputs, batch by batch: from evaluate's own pass,
    or from the trainer's validation pass (the report's numbers for the best epoch, without a second pass)."""

    def __init__(self, model, sig, device="cpu", task=None, metrics: dict | None = None):
        """`task`: the run's Task (the trainer's, or a Bundle's) for its output convention and its
        decision threshold; evaluate's loss is the task's own, never label-smoothed, weighted nor your
        own loss, whatever training used (the numbers of runs trained differently compare).
        `metrics`: yours, {key: fn}."""

        self.sig = sig
        convention = task.convention if task is not None else None
        threshold = getattr(task, "threshold", None) if task is not None else None
        thresholds = getattr(task, "thresholds", None) if task is not None else None  # multi-label
        self.task = task_for(sig, model, convention=convention, threshold=threshold, thresholds=thresholds)
        self.metrics = self.task.metrics(device)
        self.yours = SplitMetrics(metrics, self.task) if metrics else None
        self.decided: list[tuple] = []  # classification: (truth, prediction, p(second class)) per batch
        self.kept: list | None = [] if self.task.whole_split else None  # for the Task's split_metrics

    def update(self, out, y) -> None:
        y = y.to(out.device)
        self.metrics.update(self.task.loss(out, y), out, y)
        if self.kept is not None:
            self.kept.append((out.detach().float().cpu(), y.cpu()))
        if self.yours is not None:
            self.yours.add(out, y)
        if self.task.class_targets:
            two = self.task.num_outputs == 2
            scores = self.task.probabilities(out)[:, 1].detach().cpu() if two else None
            self.decided.append((y.cpu(), self.task.predictions(out.detach()).cpu(), scores))

    def result(self, split: str) -> dict:
        result = self.metrics.compute()
        if self.kept:  # the whole split's figures replace the running sums' (multi-label: scikit-learn's)
            whole = self.task.split_metrics(*(torch.cat(part) for part in zip(*self.kept)))
            result = {"loss": result["loss"], "n": result["n"], **whole}
        result = {("accuracy" if k == "acc" else k): v for k, v in result.items()}
        if self.yours is not None:
            result["user_metrics"] = self.yours.compute()
        if "confusion_matrix" in result:
            result.update(per_class(result["confusion_matrix"], self.sig.class_names))
            result.update(self._imbalance())
        result["split"] = split
        return result

    def _imbalance(self) -> dict:
        """balanced accuracy, ROC-AUC and PR-AUC (two classes), and the threshold that decided."""

        from kindling.task.threshold import imbalance_metrics  # lazy: numpy

        if not self.decided:
            return {}
        y, pred, scores = (torch.cat(c).numpy() if c[0] is not None else None for c in zip(*self.decided))
        found = imbalance_metrics(y, pred, scores, self.task.num_outputs)
        if getattr(self.task, "threshold", None) is not None:
            found["threshold"] = self.task.threshold
        return found


def format_table(result: dict, class_names: list[str]) -> str:
    if "per_label" in result:
        return format_labels(result)
    lines = [f"split {result['split']}: n={result['n']}  loss={result['loss']:.4f}"]
    if result.get("tta"):
        tta = result["tta"]
        lines.append(f"test-time augmentation: {tta['averaged']} averaged over {len(tta['views'])} views "
                     f"({', '.join(tta['views'])}; {tta['from']})" + (f"; {tta['note']}" if tta.get("note") else ""))  # fmt: skip
    if result.get("user_metrics"):
        lines.append("yours: " + "  ".join(f"{k}={v:.4f}" for k, v in result["user_metrics"].items()))
    if "accuracy" not in result:
        lines.append(f"MAE {result['mae']:.4f}  RMSE {result['rmse']:.4f}  R2 {result['r2']:.4f}")
        return "\n".join(lines)
    lines[0] += f"  accuracy={result['accuracy']:.4f}  macro-F1={result['macro_f1']:.4f}"
    if "balanced_accuracy" in result:
        lines[0] += f"  balanced-accuracy={result['balanced_accuracy']:.4f}"
    if "roc_auc" in result:
        lines.append(
            f"{class_names[1]} (positive) vs {class_names[0]}: ROC-AUC {result['roc_auc']:.4f}  "
            f"PR-AUC {result['pr_auc']:.4f}"
        )
    if "threshold" in result:
        lines.append(
            f"decision: {class_names[1]} when its probability >= {result['threshold']:.4f} (the Bundle's threshold)"
        )
    width = max(5, *(len(c) for c in class_names))
    lines.append(f"{'class':<{width}}  accuracy  precision  recall     f1  support")
    for name in class_names:
        r = result["report"][name]
        lines.append(
            f"{name:<{width}}  {result['per_class_accuracy'][name]:8.4f}  {r['precision']:9.4f}  "
            f"{r['recall']:6.4f}  {r['f1']:5.4f}  {r['support']:7d}"
        )
    if len(class_names) <= 30:
        lines.append("confusion matrix (rows: true, columns: predicted)")
        cell = max(3, len(str(max(max(row) for row in result["confusion_matrix"]))))
        lines.append(" " * (width + 1) + " ".join(f"{c[:cell]:>{cell}}" for c in class_names))
        for name, row in zip(class_names, result["confusion_matrix"]):
            lines.append(f"{name:<{width}} " + " ".join(f"{v:>{cell}}" for v in row))
    return "\n".join(lines)


def format_labels(result: dict) -> str:
    """A multi-label evaluation: the headline figures, then one row per label (at its threshold)."""
    m_ap = result.get("mAP")
    lines = [
        f"split {result['split']}: n={result['n']}  loss={result['loss']:.4f}  "
        f"micro-F1={result['micro_f1']:.4f}  macro-F1={result['macro_f1']:.4f}  "
        f"mAP={'-' if m_ap is None else f'{m_ap:.4f}'}  subset accuracy={result['subset_accuracy']:.4f}"
    ]
    if result.get("user_metrics"):
        lines.append("yours: " + "  ".join(f"{k}={v:.4f}" for k, v in result["user_metrics"].items()))
    table = result["per_label"]
    width = max(5, *(len(name) for name in table))
    lines.append(f"{'label':<{width}}  threshold  precision  recall      f1      AP  support  predicted")
    for name, r in table.items():
        ap = "-" if r["ap"] is None else f"{r['ap']:.4f}"
        lines.append(
            f"{name:<{width}}  {r['threshold']:9.3f}  {r['precision']:9.4f}  {r['recall']:6.4f}  "
            f"{r['f1']:6.4f}  {ap:>6}  {r['support']:7d}  {r['predicted']:9d}"
        )
    return "\n".join(lines)
