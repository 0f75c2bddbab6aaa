"""What the user sees while training: a tqdm bar per phase on a TTY or in Jupyter (a notebook widget
bar there, through tqdm.auto), plain lines otherwise."""

from __future__ import annotations

import sys
import time


class PhaseBar:
    """A bar for one phase (train / val). Updates its postfix at most a few times a second."""

    def __init__(self, desc: str, total: int, initial: int = 0, enabled: bool = True):
        self.bar = None
        self.last = 0.0
        if enabled and in_notebook():
            from tqdm.auto import tqdm  # a widget bar; lazy: tqdm

            self.bar = tqdm(total=total, initial=initial, desc=desc, leave=False)
        elif enabled and sys.stdout.isatty():
            from tqdm import tqdm  # lazy: tqdm

            self.bar = tqdm(
                total=total, initial=initial, desc=desc, leave=False, dynamic_ncols=True, file=sys.stdout
            )

    def update(self, postfix_fn=None) -> None:
        if self.bar is None:
            return
        self.bar.update(1)
        now = time.perf_counter()
        if postfix_fn is not None and now - self.last > 0.3:
            self.last = now
            self.bar.set_postfix_str(postfix_fn(), refresh=False)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


def in_notebook() -> bool:
    """True inside a Jupyter kernel (where stdout is no TTY, but a widget bar can be drawn)."""
    shell = sys.modules.get("IPython")
    ip = shell.get_ipython() if shell is not None and hasattr(shell, "get_ipython") else None
    return ip is not None and type(ip).__name__ == "ZMQInteractiveShell"


def fmt(value, digits: int = 4) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def epoch_line(rec: dict, epochs: int, best: bool, also: tuple[str, ...] = ()) -> str:
    """`epoch 3/10  train loss 0.1234 acc 0.9650 | val loss 0.0800 acc 0.9800 | lr 1.0e-03 | 1.2s *`;
    `also`: your own metrics' keys, shown after the validation's (`top3 0.9950`)."""
    metric = "f1" if "train_f1" in rec else "acc" if "train_acc" in rec else "mae"  # f1: multi-label
    parts = [
        f"epoch {rec['epoch']}/{epochs}",
        f"train loss {fmt(rec.get('train_loss'))} {metric} {fmt(rec.get('train_' + metric))}",
    ]
    if rec.get("val_loss") is not None:
        parts.append(f"val loss {fmt(rec['val_loss'])} {metric} {fmt(rec.get('val_' + metric))}")
        parts[-1] += "".join(f" {key} {fmt(rec.get('val_' + key))}" for key in also)
    parts.append(f"lr {rec['lr']:.2e}")
    parts.append(f"{rec['seconds']:.1f}s" + (" *best" if best else ""))
    return " | ".join(parts)


def live_postfix(metrics) -> str:
    """The bar's postfix: running loss, and what the task adds (accuracy for classification)."""
    return metrics.live_text()
