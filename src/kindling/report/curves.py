"""Pictures of training itself rather than of one model: several runs' curves overlaid (`kindling compare`)
and the LR range test (`kindling lr-find`). Same conventions as plots.py: Agg canvas, numpy in, Plot out.
"""

from __future__ import annotations

import numpy as np

from kindling.report.plots import TRAIN_COLOR, VAL_COLOR, Plot, _metric_keys, new_figure, set_title, to_png


def compare_curves(runs: dict[str, list[dict]]) -> Plot:
    """Several runs' val (or train) loss and metric overlaid, one colour per run."""
    from matplotlib.ticker import MaxNLocator  # lazy: matplotlib

    fig = new_figure(10, 3.8)
    ax_loss, ax_metric = fig.subplots(1, 2)
    metric = (_metric_keys([r for h in runs.values() for r in h]) or ["loss"])[0]
    for name, history in runs.items():
        epochs = [r["epoch"] for r in history]
        for ax, key in ((ax_loss, "loss"), (ax_metric, metric)):
            phase = "val" if any(f"val_{key}" in r for r in history) else "train"
            ax.plot(
                epochs,
                [r.get(f"{phase}_{key}", np.nan) for r in history],
                "o-",
                ms=3,
                label=f"{name} ({phase})",
            )
    for ax, key in ((ax_loss, "loss"), (ax_metric, metric)):
        ax.set_xlabel("epoch")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        set_title(ax, key)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    fig.tight_layout()
    return Plot("compare_curves", "Curves of the runs", to_png(fig), {"runs": list(runs), "metric": metric})


def lr_find_plot(lrs: list[float], losses: list[float], suggested: float | None) -> Plot:
    fig = new_figure(7, 4)
    ax = fig.add_subplot()
    ax.plot(lrs, losses, color=TRAIN_COLOR)
    ax.set_xscale("log")
    ax.set_xlabel("learning rate (log scale)")
    ax.set_ylabel("smoothed loss")
    if suggested:
        ax.axvline(suggested, color=VAL_COLOR, ls="--", label=f"suggested {suggested:.2e}")
        ax.legend()
    set_title(ax, "LR range test")
    ax.grid(alpha=0.3)
    fig.tight_layout()
    return Plot("lr_find", "LR range test", to_png(fig), {"lr": lrs, "loss": losses, "suggested": suggested})
