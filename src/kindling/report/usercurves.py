"""The report's picture of your own metrics (`--metric KEY=FILE.py:NAME`): each one's validation value
per epoch, from metrics.jsonl. No torch.

    keys = user_metric_keys(run_dir)           # from config.yaml: ["top3"]
    plot = user_metric_curves(history, keys)
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import yaml

from kindling.config.checks import metric_keys
from kindling.report.plots import VAL_COLOR, Plot, new_figure, set_title, to_png


def user_metric_keys(run_dir: Path) -> list[str]:
    """The keys of the run's own metrics (train.metrics of config.yaml); none when it cannot be read."""
    try:
        saved = yaml.safe_load((Path(run_dir) / "config.yaml").read_text(encoding="utf-8")) or {}
        metrics = (saved.get("train") or {}).get("metrics") or []
    except (OSError, UnicodeDecodeError, yaml.YAMLError, AttributeError):
        return []
    return metric_keys(metrics) if isinstance(metrics, list) else []


def user_metric_curves(history: list[dict], keys: list[str]) -> Plot | None:
    """One panel per metric of yours that metrics.jsonl holds, against epoch; None when it holds none."""
    from matplotlib.ticker import MaxNLocator  # lazy: matplotlib only when a picture is drawn

    shown = [k for k in keys if any(isinstance(r.get(f"val_{k}"), (int, float)) for r in history)]
    if not shown:
        return None
    epochs = [r["epoch"] for r in history]
    fig = new_figure(min(10, 3.6 * len(shown) + 1), 3.2)
    axes = fig.subplots(1, len(shown), squeeze=False)[0]
    data: dict = {"epoch": epochs}
    for ax, key in zip(axes, shown):
        values = [r.get(f"val_{key}") for r in history]
        data[f"val_{key}"] = values
        ax.plot(
            epochs, [np.nan if v is None else v for v in values], "o-", ms=3, color=VAL_COLOR, label="val"
        )
        ax.set_xlabel("epoch")
        ax.set_ylabel(key)
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.grid(alpha=0.3)
        set_title(ax, f"{key} (yours, validation)")
    fig.subplots_adjust(left=0.1, right=0.97, bottom=0.16, top=0.88, wspace=0.35)
    return Plot("user_metrics", "Your metrics", to_png(fig), data)
