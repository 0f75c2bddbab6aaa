"""A multi-label model's per-label thresholds, tuned on the validation split once training ends.

While it trains, a multi-label model's running metrics and its monitor (`val_f1`) read every label at
0.5. At the end the best model runs once over the validation split, each label gets the threshold that
gives it its best F1 there (kindling.task.multilabel.tune_thresholds), and the Bundle keeps them in its
`metrics` (`thresholds`, one per label in the order of the class names): evaluate, predict, serve,
export and the report use them. This runs before the recorder draws the report, so the report's numbers
are the tuned model's. A run without a validation split keeps 0.5 (tuning on the training split would
only measure memory), and says so.
"""

from __future__ import annotations

from pathlib import Path

import torch

from kindling.bundle.files import load_bundle, read_meta, update_meta
from kindling.models.common import forward
from kindling.task import task_of_bundle
from kindling.train.events import Callback


class TuneThresholds(Callback):
    """At fit_end, rank 0: tune a multi-label Bundle's thresholds on validation (nothing for other tasks)."""

    def __init__(self, run_dir: Path):
        self.best = Path(run_dir) / "best"

    def on_fit_end(self, trainer) -> None:
        if not trainer.dist.is_main or trainer.tc.dry_run or not hasattr(trainer.task, "tune_thresholds"):
            return
        if not (self.best / "model.safetensors").is_file():
            return
        split = trainer.val_split
        if split is None or not len(split):
            trainer.echo("note: no validation split, so every label keeps the threshold 0.5")
            return
        bundle = load_bundle(self.best, str(trainer.device))
        task = task_of_bundle(bundle)
        out, y = outputs(bundle.model, task, split, trainer.cfg.data.eval_batch_size, trainer.device)
        thresholds = task.tune_thresholds(out, y)
        before = task.split_metrics(out, y)["micro_f1"]
        task.thresholds = thresholds
        after = task.split_metrics(out, y)["micro_f1"]
        tuned = {"thresholds": thresholds, "thresholds_on": f"val ({len(y)} samples)"}
        update_meta(self.best, metrics={**(read_meta(self.best).get("metrics") or {}), **tuned})
        shown = ", ".join(f"{n} {t:.3g}" for n, t in zip(task.sig.class_names[:8], thresholds))
        more = f", ... ({len(thresholds)} labels)" if len(thresholds) > 8 else ""
        trainer.echo(
            f"thresholds tuned on val ({len(y)} samples): {shown}{more}; val micro-F1 {before:.4f} at 0.5 "
            f"-> {after:.4f}"
        )


def outputs(model, task, split, batch_size: int, device) -> tuple:
    """(raw outputs, targets) of `model` (eval mode) over a whole split, in order, on the CPU."""

    preprocess = task.inputs.preprocess(device)
    outs, ys = [], []
    with torch.no_grad():
        for x, y, lengths in split.batches(batch_size):
            outs.append(forward(model, preprocess(x), lengths).float().cpu())
            ys.append(y.cpu())
    return torch.cat(outs), torch.cat(ys)
