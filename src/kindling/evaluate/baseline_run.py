"""The baseline wired into a run: fitted after training (and by `kindling baseline RUN`), saved beside the
model as RUN/baseline.json, compared with the best model's evaluation on the same split.

    result = after_training(data, run_dir, train_seconds, memory_budget_mb, echo)   # None when skipped
    saved = load(run_dir, split)                                                       # None when absent

The baseline is advice, never a reason to lose a run: whatever stops it (one class in train, a text
matrix over the memory budget, data streamed from disk, an error inside scikit-learn) is one line and
the run's result is kept. The time is bounded by the run's own: half the training time, 5 s to 60 s.
"""

from __future__ import annotations

import json
from pathlib import Path

from kindling.bundle.files import load_bundle
from kindling.evaluate import saved
from kindling.evaluate.baseline import BaselineSkipped, compare_line, fit_baseline, headline
from kindling.task import inputs_for, task_of_bundle
from kindling.util.fileio import atomic_write_json

NAME = "baseline.json"
MIN_S, MAX_S, FRACTION = 5.0, 60.0, 0.5
# TF-IDF's matrix, liblinear's copy of it and the token strings, per (sample, token): an estimate
BYTES_PER_TOKEN = 100


def budget_for(train_seconds: float) -> float:
    """Seconds the baseline may take: a fraction of the training time, at least MIN_S, at most MAX_S."""
    return max(MIN_S, min(MAX_S, FRACTION * float(train_seconds)))


def check_fits(data, memory_budget_mb: int) -> None:
    """Refuse (BaselineSkipped) what the baseline cannot hold: streamed data, a text matrix too large."""
    import torch  # lazy: torch

    for name in ("train", "val", "test"):
        part = data.split(name)
        if part is not None and not isinstance(part.x, torch.Tensor):
            raise BaselineSkipped(
                f"the data is streamed from disk (over data.memory_budget_mb={memory_budget_mb}), "
                "and the baseline needs it in memory"
            )
    if data.signature.input_kind == "text" and data.train is not None:
        lengths = data.train.lengths
        tokens = int(lengths.sum()) if lengths is not None else data.train.x.numel()
        need = 2 * tokens * BYTES_PER_TOKEN  # words and word pairs
        if need > int(memory_budget_mb) * 2**20:
            raise BaselineSkipped(
                f"its TF-IDF matrix over {len(data.train):,} train texts would need about "
                f"{need / 2**20:,.0f} MB, over data.memory_budget_mb={memory_budget_mb}"
            )


def fit_and_save(
    data, run_dir: Path, budget_s: float, memory_budget_mb: int, trust_code: bool = False
) -> dict:
    """Fit the baseline on `data`'s splits and write RUN/baseline.json; raises BaselineSkipped."""
    check_fits(data, memory_budget_mb)
    try:
        network = _network(run_dir, data, trust_code)
        result = fit_baseline(data, budget_s=budget_s, network=network)
    except BaselineSkipped:
        raise
    except Exception as exc:  # noqa: BLE001 - scikit-learn's refusal of odd data is a skip, not a crash
        raise BaselineSkipped(f"{type(exc).__name__}: {str(exc).splitlines()[0][:200]}") from exc
    result["budget_s"] = round(budget_s, 1)
    atomic_write_json(Path(run_dir) / NAME, result)
    return result


def _network(run_dir: Path, data, trust_code: bool):
    """The run's best model on the CPU for the linear probe on its features (images only), else None."""

    best = Path(run_dir) / "best"
    if not inputs_for(data.signature).pictures or not (best / "model.safetensors").is_file():
        return None

    try:
        return load_bundle(best, "cpu", trust_code).model.eval()
    except Exception:  # noqa: BLE001 - a model that cannot be loaded here costs the probe only
        return None


def load(run_dir: Path, split: str | None = None) -> dict | None:
    """RUN/baseline.json when it exists, reads, and (given `split`) was scored on that split."""
    try:
        result = json.loads((Path(run_dir) / NAME).read_text(encoding="utf-8"))
        headline(result)
    except (OSError, ValueError, KeyError, TypeError):
        return None
    if not isinstance(result, dict) or (split is not None and result.get("split") != split):
        return None
    return result


def network_evaluation(
    run_dir: Path, data, split: str, device: str = "cpu", trust_code: bool = False
) -> dict:
    """The best model's evaluation on `split`: the one training's recorder saved (plots/report.json),
    else one pass of the Bundle over the split."""

    found = saved.load(run_dir)
    evaluation = (found or {}).get("evaluation")
    if evaluation and evaluation.get("split") == split:
        return evaluation
    from kindling.evaluate.evaluation import evaluate_model  # lazy: torch

    bundle = load_bundle(Path(run_dir) / "best", device, trust_code)
    part = data.split(split)
    return evaluate_model(bundle.model, bundle.signature, part, split, device, task=task_of_bundle(bundle))


def after_training(data, run_dir: Path, train_seconds: float, memory_budget_mb: int, echo=print):
    """The end of a run: fit, save and print the compare line; any failure is one `note:` line."""
    run_dir = Path(run_dir)
    try:
        result = fit_and_save(data, run_dir, budget_for(train_seconds), memory_budget_mb)
        network = network_evaluation(run_dir, data, result["split"])
    except BaselineSkipped as exc:
        echo(f"note: no baseline: {exc}")
        return None
    except Exception as exc:  # noqa: BLE001 - the run is complete; the baseline is advice
        echo(
            f"note: the baseline failed ({type(exc).__name__}: {exc}); retry with `kindling baseline {run_dir}`"
        )
        return None
    echo(compare_line(network, result))
    return result
