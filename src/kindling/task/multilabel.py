"""Multi-label classification: any number of the labels per sample.

One logit per label, trained with binary cross-entropy on (N, K) 0/1 targets; a label is predicted
where its sigmoid is over the label's threshold. The thresholds start at 0.5 (what the trainer's
running metrics and the monitor, `val_f1`, use) and are tuned per label on the validation split once
training ends (`tune_thresholds`, kindling.train.thresholds): the one of 0.05, 0.075, ..., 0.95 that gives
the label its best F1 there, ties going to the one nearest 0.5. The Bundle keeps them, and evaluate,
predict, serve, export and the report use them.

`export --format onnx` carries them in the file's `metadata_props` (`kindling.thresholds`) and in the
JSON beside it (`postprocess.thresholds`).

evaluate's figures come from scikit-learn over the whole split (`split_metrics`): subset accuracy
(every label of the sample right), micro and macro F1, mAP (the mean over labels of the average
precision, a ranking figure that needs no threshold), per-label precision, recall, F1, AP and support.
"""

from __future__ import annotations

import json
from functools import cached_property

from kindling.task.problems import Task

GRID = [round(0.05 + 0.025 * i, 3) for i in range(37)]  # the thresholds tried: 0.05 .. 0.95


class MultiLabel(Task):
    """Any number of the classes per sample: one logit each, sigmoid, a label where it is over its
    threshold. Targets are (N, C) 0/1."""

    name = "multilabel"
    monitors = {"val_f1": "max", "val_loss": "min", "val_acc": "max"}
    default_monitor = "val_f1"
    conventions = ("logits",)
    threshold = 0.5  # every label's threshold until validation tunes them
    thresholds: list[float] | None = None  # per label, tuned on validation and kept in the Bundle
    whole_split = True  # evaluate keeps every output: mAP and scikit-learn's figures need the whole split
    averages = "sigmoid probabilities"  # what `average` averages (a fold ensemble, test-time augmentation)

    def _wants(self) -> str:
        return f"the data has {self.num_outputs} labels, which needs (B, {self.num_outputs})"

    def label_thresholds(self) -> list[float]:
        """One threshold per label: the tuned ones, else 0.5 each."""
        if self.thresholds is not None and len(self.thresholds) == self.num_outputs:
            return [float(t) for t in self.thresholds]
        return [self.threshold] * self.num_outputs

    def _cut(self, like):
        """The thresholds as a (1, K) tensor on `like`'s device, made once per device and thresholds (a
        copy to the GPU on every training step would cost the step a transfer)."""
        import torch  # lazy: loads torch

        key = (str(like.device), tuple(self.label_thresholds()))
        cached = self.__dict__.get("_cut_cache")
        if cached is None or cached[0] != key:
            cut = torch.tensor(key[1], dtype=torch.float32, device=like.device).view(1, -1)
            self.__dict__["_cut_cache"] = cached = (key, cut)
        return cached[1]

    # ------------------------------------------------------------------ training

    def target(self, y):
        return y.float()

    @cached_property
    def loss_fn(self):
        import torch  # lazy: loads torch

        return torch.nn.BCEWithLogitsLoss()

    @property
    def metric_width(self) -> int:
        return 3 * self.num_outputs + 1  # true positives, false positives, false negatives per label; exact

    def add_metrics(self, sums, out, y, ones) -> None:
        import torch  # lazy: loads torch

        k = self.num_outputs
        pred, truth = self.predictions(out.detach()).double(), y.double()
        tp, fp, fn = (pred * truth).sum(0), (pred * (1 - truth)).sum(0), ((1 - pred) * truth).sum(0)
        exact = (pred == truth).all(1).double().sum().view(1)
        sums += torch.cat([tp, fp, fn, exact]).view(3 * k + 1)

    def compute_metrics(self, sums, n: float) -> dict:
        k = self.num_outputs
        tp, fp, fn = (sums[i * k : (i + 1) * k].double() for i in range(3))
        f1 = 2 * tp / (2 * tp + fp + fn).clamp_min(1e-12)
        micro = 2 * tp.sum() / (2 * tp.sum() + fp.sum() + fn.sum()).clamp_min(1e-12)
        return {"acc": float(sums[3 * k]) / n, "f1": float(micro), "macro_f1": float(f1.mean()) if k else 0.0}

    def live_text(self, sums: list[float], n: float) -> str:
        k = self.num_outputs
        tp, fp, fn = (sum(sums[2 + i * k : 2 + (i + 1) * k]) for i in range(3))
        return f" f1 {2 * tp / max(1e-12, 2 * tp + fp + fn):.4f}"

    # ------------------------------------------------------------------ prediction

    def probabilities(self, out):
        return out.float().sigmoid()

    def predictions(self, out):
        return (self.probabilities(out) > self._cut(out)).long()

    def average(self, outputs: list):
        """Each label's sigmoid probability averaged, as its logit (log p - log(1 - p))."""
        import torch  # lazy: loads torch

        probs = torch.stack([self.probabilities(o) for o in outputs]).mean(0)
        eps = torch.finfo(probs.dtype).eps
        probs = probs.clamp(eps, 1 - eps)
        return probs.log() - (-probs).log1p()

    def per_sample(self, out, y) -> tuple:
        """The 0/1 labels predicted and the binary cross-entropy averaged over the labels."""
        import torch.nn.functional as F  # lazy: loads torch

        loss = F.binary_cross_entropy_with_logits(out.float(), y.float(), reduction="none").mean(1)
        return self.predictions(out), loss, None

    report_views = ("per-label scores", "label grid", "label top losses")

    def results(self, out, top_k: int = 3) -> list[dict]:
        """Per sample: `labels` (the names over their thresholds), `predictions` (those labels with their
        probability and threshold, most probable first) and `top_k` (the k most probable labels, over
        their threshold or not, each saying which)."""
        names, cuts = self.sig.class_names, self.label_thresholds()
        k = max(1, min(top_k, len(names)))
        results = []
        for row in self.probabilities(out).tolist():
            ranked = sorted(range(len(row)), key=lambda i: -row[i])
            entry = [
                {
                    "label": i,
                    "label_name": names[i],
                    "probability": row[i],
                    "threshold": cuts[i],
                    "above": row[i] > cuts[i],
                }
                for i in ranked
            ]
            chosen = [e for e in entry if e["above"]]
            results.append(
                {"labels": [e["label_name"] for e in chosen], "predictions": chosen, "top_k": entry[:k]}
            )
        return results

    def describe_outputs(self) -> dict:
        return {
            "kind": "logits",
            "to_probabilities": "sigmoid",
            "labels": "every label whose probability is over its threshold",
            "thresholds": dict(zip(self.sig.class_names, self.label_thresholds())),
            "class_names": self.sig.class_names,
        }

    # ------------------------------------------------------------------ the whole split

    def split_metrics(self, out, y) -> dict:
        """scikit-learn's figures for a whole split's raw outputs and 0/1 targets (see the module)."""
        return label_metrics(
            self.probabilities(out).cpu().numpy(),
            y.cpu().numpy(),
            self.label_thresholds(),
            self.sig.class_names,
        )

    def tune_thresholds(self, out, y) -> list[float]:
        """Per label, the threshold of GRID with the best F1 on these outputs (see the module)."""
        return tune_thresholds(self.probabilities(out).cpu().numpy(), y.cpu().numpy())


def tune_thresholds(probs, truth) -> list[float]:
    """probs, truth: (N, K) -> K thresholds, each the one of GRID with the label's best F1 (ties: the one
    nearest 0.5); 0.5 for a label with no positive sample (nothing to tune on)."""
    import numpy as np  # lazy: loads numpy

    probs, truth = np.asarray(probs, dtype=np.float64), np.asarray(truth) > 0.5
    grid = np.asarray(GRID)
    order = np.argsort(np.abs(grid - 0.5), kind="stable")  # the first best in this order is nearest 0.5
    chosen = []
    for j in range(probs.shape[1]):
        t = truth[:, j]
        if not t.any():
            chosen.append(0.5)
            continue
        pred = probs[:, j : j + 1] > grid[None, :]  # (N, G)
        tp = (pred & t[:, None]).sum(0)
        f1 = 2 * tp / (pred.sum(0) + t.sum())
        chosen.append(float(grid[order[int(np.argmax(f1[order]))]]))
    return chosen


def label_metrics(probs, truth, thresholds: list[float], names: list[str]) -> dict:
    """Subset accuracy, micro / macro F1, mAP, Hamming loss and the per-label table, by scikit-learn."""
    import numpy as np  # lazy: loads numpy
    from sklearn import metrics  # lazy: loads sklearn

    probs = np.asarray(probs, dtype=np.float64)
    truth = (np.asarray(truth) > 0.5).astype(np.int64)
    pred = (np.asarray(probs) > np.asarray(thresholds)[None, :]).astype(np.int64)
    precision, recall, f1, support = metrics.precision_recall_fscore_support(
        truth, pred, average=None, zero_division=0
    )
    ap = [
        float(metrics.average_precision_score(truth[:, j], probs[:, j])) if truth[:, j].any() else None
        for j in range(truth.shape[1])
    ]
    scored = [a for a in ap if a is not None]
    per_label = {
        name: {
            "precision": float(precision[j]),
            "recall": float(recall[j]),
            "f1": float(f1[j]),
            "ap": ap[j],
            "threshold": float(thresholds[j]),
            "support": int(support[j]),
            "predicted": int(pred[:, j].sum()),
        }
        for j, name in enumerate(names)
    }
    return {
        "subset_accuracy": float(metrics.accuracy_score(truth, pred)),
        "micro_f1": float(metrics.f1_score(truth, pred, average="micro", zero_division=0)),
        "macro_f1": float(metrics.f1_score(truth, pred, average="macro", zero_division=0)),
        "mAP": float(np.mean(scored)) if scored else None,
        "hamming_loss": float(metrics.hamming_loss(truth, pred)),
        "per_label": per_label,
    }


def onnx_with_thresholds(graph: bytes, meta: dict) -> bytes:
    """An ONNX model that carries a multi-label Bundle's thresholds in its `metadata_props`
    (`kindling.thresholds`: JSON label -> threshold), as the JSON beside it does; unchanged without them."""
    thresholds = (meta.get("metrics") or {}).get("thresholds")
    if not thresholds:
        return graph

    import onnx  # lazy: loads onnx

    model = onnx.load_from_string(graph)
    names = meta["signature"]["class_names"]
    value = json.dumps(dict(zip(names, thresholds)))
    kept = [p for p in model.metadata_props if p.key != "kindling.thresholds"]
    del model.metadata_props[:]
    model.metadata_props.extend(kept)
    model.metadata_props.add(key="kindling.thresholds", value=value)
    return model.SerializeToString()
