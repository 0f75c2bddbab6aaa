"""The training loggers: TensorBoard event files (torch.utils.tensorboard.SummaryWriter) or CSV files,
and MLflow tracking beside either (kindling.report.mlflow_logger).

`train.logger` picks one or several: auto (TensorBoard when installed, else CSV), tensorboard, csv,
mlflow or none (`tensorboard,mlflow`, or a list in a recipe). Only rank 0 logs. metrics.jsonl is written
by the runner whatever the logger.
"""

from __future__ import annotations

import importlib.util
import time
from pathlib import Path

from kindling.errors import UserError, unknown
from kindling.util.fileio import atomic_write_text

LOGGERS = ["auto", "tensorboard", "csv", "mlflow", "none"]
MLFLOW_PIP = "pip install 'kindling[mlflow]'"
FLUSH_SECONDS = 30  # SummaryWriter's thread writes the events out at least this often; and each epoch


def resolve_logger(name: str) -> str:
    """auto -> tensorboard when the package is importable, else csv. Unknown names are refused."""
    if name not in LOGGERS:
        raise unknown("logger", name, LOGGERS)
    has_tb = importlib.util.find_spec("tensorboard") is not None
    if name == "auto":
        return "tensorboard" if has_tb else "csv"
    if name == "tensorboard" and not has_tb:
        raise UserError(
            "train.logger=tensorboard but the tensorboard package is not installed; "
            "`pip install tensorboard` or use --set train.logger=csv"
        )
    if name == "mlflow" and importlib.util.find_spec("mlflow") is None:
        raise UserError(
            f"train.logger=mlflow but the mlflow package is not installed; `{MLFLOW_PIP}` "
            "(or `pip install mlflow`), or use --logger tensorboard"
        )
    return name


def resolve_loggers(value: str | list[str]) -> list[str]:
    """train.logger (one name, comma-separated names or a list) -> the loggers to run, each resolved and
    checked (`resolve_logger`), in order, without repeats; none alone -> []."""
    names = value if isinstance(value, list) else str(value).split(",")
    chosen = [resolve_logger(str(n).strip()) for n in names if str(n).strip()]
    return [n for n in dict.fromkeys(chosen) if n != "none"]


def log_every(trainer) -> int:
    """Per-step scalars every N optimizer steps: train.log_interval, else about 4 points per epoch."""
    if trainer.tc.log_interval:
        return int(trainer.tc.log_interval)
    return max(1, min(50, trainer.steps_per_epoch // 4))


class Logger:
    """No-op events, the rank-0 switch and per-step points: the loss and throughput since the last one."""

    def __init__(self, run_dir: Path):
        self.run_dir = Path(run_dir)
        self.active = False

    def on_fit_start(self, trainer) -> None:
        self.active = trainer.dist.is_main
        self.every = log_every(trainer)
        self._window = (0.0, 0.0, time.perf_counter())
        self._last_step = -1

    def on_epoch_start(self, trainer) -> None: ...
    def on_validation_end(self, trainer, metrics: dict) -> None: ...
    def on_epoch_end(self, trainer, record: dict) -> None: ...
    def on_fit_end(self, trainer) -> None: ...

    def on_step_end(self, trainer) -> None:
        step = trainer.progress.step
        sums = getattr(trainer, "_epoch_metrics", None)
        if not self.active or step % self.every or step == self._last_step or sums is None:
            return
        self._last_step = step
        loss_sum, n = float(sums.sums[0]), float(sums.n)
        prev_loss, prev_n, prev_t = self._window
        if n < prev_n:  # a new epoch restarted the running sums
            prev_loss, prev_n = 0.0, 0.0
        now = time.perf_counter()
        self._window = (loss_sum, n, now)
        if n > prev_n:
            loss, rate = (loss_sum - prev_loss) / (n - prev_n), (n - prev_n) / max(1e-9, now - prev_t)
            self.log_step(
                step, {"loss": loss, "lr": trainer.optimizer.param_groups[0]["lr"], "samples_per_s": rate}
            )

    def log_step(self, step: int, values: dict) -> None: ...


class CsvLogger(Logger):
    """steps.csv (per-step scalars) and metrics.csv (per-epoch records), rewritten atomically each epoch."""

    def __init__(self, run_dir: Path):
        super().__init__(run_dir)
        self.steps: list[tuple] = []

    def log_step(self, step: int, values: dict) -> None:
        self.steps.append((step, values["loss"], values["lr"], values["samples_per_s"]))

    def on_epoch_end(self, trainer, record: dict) -> None:
        if not self.active:
            return

        lines = ["step,loss,lr,samples_per_s"] + [
            f"{s},{loss:.6g},{lr:.6g},{sps:.1f}" for s, loss, lr, sps in self.steps
        ]
        atomic_write_text(self.run_dir / "steps.csv", "\n".join(lines) + "\n")
        keys = list(dict.fromkeys(k for r in trainer.history for k in r))
        rows = [",".join(keys)] + [
            ",".join("" if r.get(k) is None else str(r.get(k)) for k in keys) for r in trainer.history
        ]
        atomic_write_text(self.run_dir / "metrics.csv", "\n".join(rows) + "\n")


class TensorBoardLogger(Logger):
    """Event files in run_dir/tb: scalars per step and per epoch, an augmented training batch, for an image
    classifier a green/red prediction grid per validation, and the hyperparameters with the final metrics."""

    def on_fit_start(self, trainer) -> None:
        super().on_fit_start(trainer)
        if not self.active:
            return
        from torch.utils.tensorboard import SummaryWriter  # lazy: torch

        from kindling.report import tensorboard as tb  # lazy: torch

        step = trainer.progress.step
        self.writer = SummaryWriter(
            str(self.run_dir / "tb"), purge_step=step if step > 0 else None, flush_secs=FLUSH_SECONDS
        )
        self.grid = None
        if not trainer.task.inputs.pictures:
            return
        x, _ = tb.training_batch(trainer)
        self.writer.add_image("train/augmented_batch", tb.batch_grid(tb.denormalise(x, trainer.sig)), step)
        if trainer.task.class_targets and trainer.val_split is not None and len(trainer.val_split):
            self.grid = tb.PredictionGrid(trainer.val_split)
            trainer.val_watchers.append(self.grid.watch)  # the validation pass reports its predictions

    def log_step(self, step: int, values: dict) -> None:
        for key, value in values.items():
            self.writer.add_scalar(f"step/{key}", value, step)

    def on_validation_end(self, trainer, metrics: dict) -> None:
        right = self.grid.right() if self.active and self.grid is not None else None
        if right is not None:
            self.writer.add_image("val/predictions", self.grid.picture(right), trainer.progress.step)

    def on_epoch_end(self, trainer, record: dict) -> None:
        if not self.active:
            return
        for key, value in record.items():
            if key in ("epoch", "step") or key.endswith("_n") or not isinstance(value, (int, float)):
                continue
            phase, _, name = key.partition("_")
            tag = f"{name}/{phase}" if phase in ("train", "val") else f"epoch/{key}"
            self.writer.add_scalar(tag, value, record["epoch"])
        if record.get("seconds"):
            rate = (record.get("train_n") or 0) / record["seconds"]
            self.writer.add_scalar("epoch/samples_per_s", rate, record["epoch"])
        self.writer.flush()  # an interrupted run (no fit_end) keeps its finished epochs

    def on_fit_end(self, trainer) -> None:
        if not self.active:
            return
        from torch.utils.tensorboard.summary import hparams  # lazy: torch

        from kindling.report import tensorboard as tb  # lazy: torch

        hp, metrics = tb.hparams_record(trainer.cfg, trainer.history, trainer.progress)
        step = trainer.progress.step
        for summary in hparams(hp, metrics):  # the HParams dashboard's experiment, session start and end
            self.writer.file_writer.add_summary(summary, step)
        for key, value in metrics.items():
            self.writer.add_scalar(key, value, step)
        self.writer.close()
