"""Imbalanced classes: the class weights of the loss (`--class-weights`), the checks of the imbalance
settings against the data, and the advice the data doctor and the end of a run give.

    weights = class_weights("auto", sig.class_names, counts)     # None for "none"
    check_against_data(cfg, sig, train_labels, has_val=True)     # before any file is written
    advice(counts, names, cfg.train)                             # None unless a class is rare

`auto` is inverse frequency, smoothed by a square root: w_c = (n_c + 1) ** -0.5, scaled so that a training
sample weighs 1 on average (sum_c n_c w_c = N). Full inverse frequency (scikit-learn's "balanced",
N / (K n_c)) makes a class of 38 samples weigh 29x one of 1,089 (tnews), so a handful of samples steer
every step and their noise with them; the square root (as word2vec tempers word frequencies and LVIS its
repeat factors) keeps the order of the classes and halves the spread on a log scale (5.4x there), and the
+1 keeps a class that train lacks finite. The full rebalancing is `--sampler balanced`, or a FILE.
A FILE maps class names to weights (JSON or YAML `{spam: 4, ham: 1}`, or CSV lines `spam,4`); classes
it leaves out weigh 1. The loss is PyTorch's weighted cross-entropy (or NLL): sum_i w_{y_i} l_i / sum_i w_{y_i}
over a batch. It weighs training and validation losses alike; `kindling evaluate`'s loss is unweighted.
"""

from __future__ import annotations

import csv
import io
import math
from pathlib import Path

from kindling.errors import UserError, did_you_mean
from kindling.util.fileio import read_utf8

RARE = 10  # a class under a tenth of the largest one's samples is named in the warnings
FLAG = "--class-weights"


def class_counts(labels, num_classes: int) -> list[int]:
    """Samples per class in `labels` (a tensor of class ids), every class counted, empty ones as 0."""
    import torch  # lazy: torch

    return torch.bincount(labels.detach().cpu().long(), minlength=num_classes).tolist()


def auto_weights(counts: list[int]) -> list[float]:
    """Inverse square-root frequency, (n_c + 1) ** -0.5, scaled so a training sample weighs 1 on average."""
    raw = [(n + 1) ** -0.5 for n in counts]
    total = sum(counts)
    scale = total / sum(n * w for n, w in zip(counts, raw)) if total else 1.0
    return [w * scale for w in raw]


def class_weights(setting: str, class_names: list[str], counts: list[int]) -> list[float] | None:
    """`train.class_weights` -> one weight per class (None: the plain loss)."""
    if setting in ("none", "", None):
        return None
    if setting == "auto":
        return auto_weights(counts)
    return read_weights(Path(setting).expanduser(), class_names)


def read_weights(path: Path, class_names: list[str]) -> list[float]:
    """A weights FILE -> one weight per class; a class it leaves out weighs 1. Names are checked against
    the data's classes, weights are finite numbers >= 0, not all 0: otherwise one line naming the file."""

    text = read_utf8(path, f"give class weights as JSON, YAML or CSV text ({FLAG})")
    pairs = _csv_pairs(path, text) if path.suffix.lower() in (".csv", ".tsv") else _mapping(path, text)
    if not pairs:
        raise UserError(f"{path} names no class; write one `class: weight` per class ({FLAG})")
    weights = dict.fromkeys(class_names, 1.0)
    seen: set[str] = set()
    for name, value in pairs:
        if name not in weights:
            listed = ", ".join(class_names[:12]) + (", ..." if len(class_names) > 12 else "")
            raise UserError(
                f"{path}: class '{_short(name)}' is not one of the data's classes"
                f"{did_you_mean(name, class_names)}; they are {listed} ({FLAG})"
            )
        if name in seen:
            raise UserError(f"{path}: class '{_short(name)}' is given twice; give each class once ({FLAG})")
        seen.add(name)
        weights[name] = _weight(path, name, value)
    if not any(weights.values()):
        raise UserError(f"{path}: every class weighs 0; give at least one class a weight > 0 ({FLAG})")
    return [weights[name] for name in class_names]


def _weight(path: Path, name: str, value) -> float:
    number = None
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        number = float(value)
    elif isinstance(value, str):
        try:
            number = float(value)
        except ValueError:
            pass
    if number is None or not math.isfinite(number) or number < 0:
        raise UserError(
            f"{path}: the weight of class '{_short(name)}' is {_short(repr(value))}; a weight must be a "
            f"finite number >= 0 ({FLAG})"
        )
    return number


def _mapping(path: Path, text: str) -> list[tuple[str, object]]:
    """JSON or YAML (JSON is YAML): a mapping of class names to weights."""
    import yaml  # lazy: yaml

    try:
        tree = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        at = f" at line {mark.line + 1}" if mark is not None else ""
        raise UserError(
            f"{path} is not valid JSON or YAML{at}; write `class: weight` lines ({FLAG})"
        ) from exc
    if tree is None:
        return []
    if not isinstance(tree, dict):
        raise UserError(
            f"{path} holds a {type(tree).__name__}, not a mapping of class names to weights "
            f'(e.g. {{"spam": 4, "ham": 1}}) ({FLAG})'
        )
    return [(str(k), v) for k, v in tree.items()]


def _csv_pairs(path: Path, text: str) -> list[tuple[str, object]]:
    """CSV / TSV rows `class,weight`; a first row whose weight is not a number is a header."""

    rows = [r for r in csv.reader(io.StringIO(text), delimiter="\t" if path.suffix == ".tsv" else ",") if r]
    pairs = []
    for i, row in enumerate(rows):
        if len(row) != 2:
            raise UserError(f"{path}:{i + 1}: {len(row)} fields; write `class,weight` on each line ({FLAG})")
        name, value = row[0].strip(), row[1].strip()
        if i == 0 and not _is_number(value):
            continue  # a header: class,weight
        pairs.append((name, value))
    return pairs


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _short(text: str, limit: int = 40) -> str:
    text = str(text)
    return text if len(text) <= limit else text[: limit - 3] + "..."


# ---------------------------------------------------------------- the settings against the data


def check_against_data(cfg, sig, train_labels, has_val: bool) -> list[float] | None:
    """The imbalance settings that need the data, refused in one line before any file is written: weights
    and a sampler for classes only, a threshold for two of them (chosen on a validation split), a weights
    FILE read and checked. Returns the class weights."""
    tc = cfg.train
    classes = sig.task == "classification"
    for key, value, flag in (("class_weights", tc.class_weights, FLAG), ("sampler", tc.sampler, "--sampler")):
        if value != "none" and not classes:
            raise UserError(
                f"train.{key} = {_short(value)!r} applies to classification, and this data is a {sig.task} "
                f"task; leave it out ({flag} none)"
            )
    threshold = tc.threshold
    if threshold != "none":
        if not classes or len(sig.class_names) != 2:
            what = f"{len(sig.class_names)} classes" if classes else f"a {sig.task} task"
            raise UserError(
                f"train.threshold = {threshold!r} applies to two-class problems, and this data has {what}; "
                "leave it out (--threshold none)"
            )
        if threshold == "auto" and not has_val:
            raise UserError(
                "--threshold auto is chosen on the validation split, and this data has none; give "
                "data.val (or data.val_fraction > 0), or a fixed --threshold such as 0.5"
            )
    if not classes:
        return None
    return class_weights(
        tc.class_weights, list(sig.class_names), class_counts(train_labels, len(sig.class_names))
    )


def weights_line(setting: str, weights: list[float], names: list[str]) -> str:
    """`class weights (auto: ...): ham 0.54, spam 1.40` (the first 10 classes)."""
    how = "auto: inverse square-root frequency" if setting == "auto" else f"from {setting}"
    shown = ", ".join(f"{n} {w:.3g}" for n, w in list(zip(names, weights))[:10])
    return f"class weights ({how}): {shown}" + (", ..." if len(names) > 10 else "")


# ---------------------------------------------------------------- advice


def rare(counts: list[int], names: list[str]) -> tuple[str, int, str, int] | None:
    """(smallest class, its count, largest class, its count) when the smallest class present in train has
    under a tenth of the largest's samples; else None."""
    present = [(n, name) for n, name in zip(counts, names) if n > 0]
    if len(present) < 2:
        return None
    small, large = min(present), max(present)
    if small[0] * RARE >= large[0]:
        return None
    return small[1], small[0], large[1], large[0]


def remedies(num_classes: int) -> str:
    """The flags that answer imbalance, as the warnings name them."""
    two = " and --threshold auto" if num_classes == 2 else ""
    return f"try --class-weights auto or --sampler balanced{two}"


def advice(counts: list[int], names: list[str], tc=None, scores: dict | None = None) -> str | None:
    """One line when a class is rare (see `rare`): what is rare, the scores that show it (`scores`:
    balanced_accuracy, macro_f1, acc of the best model on val, and threshold_balanced_accuracy when a
    threshold was chosen), and the flags: the ones to try, or the ones this run used (`tc`, its train
    config)."""
    found = rare(counts, names)
    if found is None:
        return None
    small, n_small, large, n_large = found
    line = (
        f"the smallest class ({_short(small)}, {n_small:,} train samples) has under a tenth of the largest's "
        f"({_short(large)}, {n_large:,})"
    )
    if scores and scores.get("balanced_accuracy") is not None:
        at = scores.get("threshold_balanced_accuracy")
        line += f"; val balanced accuracy {scores['balanced_accuracy']:.4f}" + (
            f" at argmax, {at:.4f} at the threshold" if at is not None else ""
        )
        line += f", macro-F1 {scores.get('macro_f1', float('nan')):.4f}, accuracy {scores.get('acc', float('nan')):.4f}"
    used = _used(tc) if tc is not None else []
    if used:
        return f"{line}; trained with {' '.join(used)}"
    return f"{line}; {remedies(len(names))}"


def _used(tc) -> list[str]:
    used = [f"--class-weights {tc.class_weights}"] if tc.class_weights != "none" else []
    used += [f"--sampler {tc.sampler}"] if tc.sampler != "none" else []
    return used + ([f"--threshold {tc.threshold}"] if tc.threshold != "none" else [])
