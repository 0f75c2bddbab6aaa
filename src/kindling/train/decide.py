"""What the Bundle keeps of how training treated imbalanced classes, and the two-class threshold chosen on
validation once training ends (`--threshold auto`, kindling.task.threshold).

    extra = bundle_record(trainer)   # header keys for every Bundle save: class weights, sampler, a fixed threshold
    after_training(trainer)          # auto: the best model over val, the threshold into the Bundle's header

Chosen after the last epoch, on the best model (the Bundle's weights, EMA included, as predict uses
them), before the report's evaluation runs (`fit_end`), so evaluate, the report, predict, serve and export
all decide with it. A run stopped before its end keeps argmax until its resume finishes.
"""

from __future__ import annotations

import numpy as np

from kindling.bundle.files import load_bundle, read_meta, update_meta
from kindling.task import imbalance, task_of_bundle
from kindling.task.threshold import HOW, choose_threshold, decision_record


def bundle_record(trainer) -> dict:
    """Header keys beside the required ones: `imbalance` (weights, sampler) and a fixed `decision`."""
    tc, names = trainer.tc, list(trainer.sig.class_names)
    extra: dict = {}
    if trainer.class_weights is not None or tc.sampler != "none":
        weights = trainer.class_weights
        extra["imbalance"] = {
            "class_weights": dict(zip(names, weights)) if weights is not None else None,
            "class_weights_from": tc.class_weights,
            "sampler": tc.sampler,
        }
    if isinstance(tc.threshold, (int, float)):
        extra["decision"] = decision_record(tc.threshold, "set with --threshold", names)
    return extra


def after_training(trainer) -> None:
    """`--threshold auto`: the best model over the validation split, the threshold that maximises balanced
    accuracy there written into the Bundle's header; one line says what it chose."""
    if trainer.tc.threshold != "auto" or not trainer.dist.is_main or trainer.tc.dry_run:
        return
    folder = trainer.run_dir / "best"
    if not (folder / "model.safetensors").is_file() or trainer.val_split is None:
        return
    scores, y = _val_scores(trainer, folder)
    names = list(trainer.sig.class_names)
    chosen = choose_threshold(scores, y)
    if chosen is None:
        trainer.echo(
            "note: --threshold auto: the validation split holds one class only; the Bundle keeps argmax"
        )
        return
    threshold, score = chosen
    at_argmax = balanced_at(scores, y, 0.5)

    record = decision_record(
        threshold, HOW, names, val_balanced_accuracy=score, val_balanced_accuracy_at_argmax=at_argmax
    )
    update_meta(folder, decision=record)
    trainer.echo(
        f"threshold {threshold:.4f} on p({names[1]}), chosen on val: balanced accuracy {score:.4f} "
        f"({at_argmax:.4f} at argmax); kept in the Bundle"
    )


def balanced_at(scores, y, threshold: float) -> float:
    """Balanced accuracy of deciding the second class at `threshold` (0.5: argmax for two classes)."""
    from sklearn.metrics import balanced_accuracy_score  # lazy: sklearn

    return float(balanced_accuracy_score(y, (np.asarray(scores) >= threshold).astype(int)))


def _val_scores(trainer, folder):
    """The Bundle's model over the whole validation split: p(second class) per sample, and the truth."""
    import torch  # lazy: torch

    bundle = load_bundle(folder, str(trainer.device))
    task = task_of_bundle(bundle)
    scores, truth = [], []
    with torch.no_grad():
        for x, y, lengths in trainer.val_split.batches(trainer.cfg.data.eval_batch_size):
            out = trainer._forward(bundle.model, trainer.preprocess(x), lengths)
            scores.append(task.probabilities(out)[:, 1].double().cpu())
            truth.append(y.cpu())
    return torch.cat(scores).numpy(), np.asarray(torch.cat(truth).long())


def end_of_run_line(cfg, data, run_dir) -> str | None:
    """`note: the smallest class ... ; try --class-weights auto ...` (or the flags the run used), with the
    best model's balanced accuracy and macro-F1 on val, when a class has under a tenth of the largest's
    samples (kindling.task.imbalance.advice); None otherwise."""

    sig = data.signature
    if sig.task != "classification":
        return None
    counts = imbalance.class_counts(data.train.y, len(sig.class_names))
    if imbalance.rare(counts, list(sig.class_names)) is None:
        return None
    scores = {}
    if (run_dir / "best" / "model.safetensors").is_file():
        meta = read_meta(run_dir / "best")
        scores = dict((meta.get("metrics") or {}).get("val") or {})
        scores["threshold_balanced_accuracy"] = (meta.get("decision") or {}).get("val_balanced_accuracy")
    line = imbalance.advice(counts, list(sig.class_names), cfg.train, scores)
    return f"note: {line}" if line else None
