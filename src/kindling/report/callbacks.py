"""Training callbacks that leave pictures behind: TensorBoard (or CSV) logs, and the plots at the end
(kindling.report.at_end).

`callbacks_for(cfg, run_dir)` is what the runner asks for (runner.CALLBACK_PROVIDERS). The logger is
`train.logger`: auto (TensorBoard when installed, else CSV), tensorboard, csv or none; `none` also skips
the end-of-training plots (the cheapest run; `kindling report` draws them later). metrics.jsonl is
written by the runner whatever the logger. Only rank 0 logs.

The callbacks only gather numbers and arrays (torch work: the prediction grid's forward pass, the graph,
the final evaluation); the event files and the plots are made by a ReportSink, in the report sidecar
process that `prepare` starts before torch loads (kindling.report.sidecar), else in this process.
"""

from __future__ import annotations

import importlib.util
import os
import time
from pathlib import Path

from kindling.errors import UserError, unknown
from kindling.report.sink import ReportSink

LOGGERS = ["auto", "tensorboard", "csv", "none"]
FLUSH_SECONDS = 2.0  # TensorBoard events reach the event file at least this often (torch's default: 120)


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
    return name


def prepare(cfg):
    """Called by runner.train before anything loads torch: start the report sidecar when this process
    will log (rank 0, a logger, not a dry run). None when there is nothing to start or it cannot start."""
    if resolve_logger(cfg.train.logger) == "none" or cfg.train.dry_run or os.environ.get("RANK", "0") != "0":
        return None
    from kindling.data.sources import source_module
    from kindling.report.sidecar import Sidecar

    module = source_module(cfg.data.name) or ""
    images = module == "kindling.data.embedded" or module.startswith("kindling.data.images")
    return Sidecar.start(matplotlib=not images)  # an image run's plots are all drawn with PIL


def callbacks_for(cfg, run_dir: Path, prepared=None) -> list:
    """The logger and the plots; both feed `prepared` (the sidecar) when there is one."""
    choice = resolve_logger(cfg.train.logger)
    if choice == "none":
        return []
    from kindling.report.at_end import PlotsAtEnd

    sink = prepared if prepared is not None else ReportSink()
    logger = TensorBoardLogger(run_dir, sink) if choice == "tensorboard" else CsvLogger(run_dir)
    return [logger, PlotsAtEnd(run_dir, sink)]


def log_every(trainer) -> int:
    """Per-step scalars every N optimizer steps: train.log_interval, else about 4 points per epoch."""
    if trainer.tc.log_interval:
        return int(trainer.tc.log_interval)
    return max(1, min(50, trainer.steps_per_epoch // 4))


class _Base:
    """No-op events, the rank-0 switch and a per-step window (loss and throughput since the last point)."""

    def __init__(self, run_dir: Path, sink=None):
        self.run_dir = Path(run_dir)
        self.sink = sink
        self.active = False

    def on_fit_start(self, trainer) -> None:
        self.active = trainer.dist.is_main
        self.every = log_every(trainer)
        self._window = (0.0, 0.0, time.perf_counter())

    def on_epoch_start(self, trainer) -> None: ...
    def on_validation_end(self, trainer, metrics: dict) -> None: ...
    def on_epoch_end(self, trainer, record: dict) -> None: ...
    def on_fit_end(self, trainer) -> None: ...

    def on_step_end(self, trainer) -> None:
        step = trainer.progress.step
        if not self.active or step % self.every or step == getattr(self, "_last_step", -1):
            return
        self._last_step = step
        sums = getattr(trainer, "_epoch_metrics", None)
        if sums is None:
            return
        loss_sum, n = float(sums.sums[0]), float(sums.n)
        prev_loss, prev_n, prev_t = self._window
        if n < prev_n:  # a new epoch restarted the running sums
            prev_loss, prev_n = 0.0, 0.0
        now = time.perf_counter()
        self._window = (loss_sum, n, now)
        if n > prev_n:
            self.log_step(
                step,
                {
                    "loss": (loss_sum - prev_loss) / (n - prev_n),
                    "lr": trainer.optimizer.param_groups[0]["lr"],
                    "samples_per_s": (n - prev_n) / max(1e-9, now - prev_t),
                },
            )

    def log_step(self, step: int, values: dict) -> None: ...


class CsvLogger(_Base):
    """steps.csv (per-step scalars) and metrics.csv (per-epoch records), rewritten atomically each epoch."""

    def __init__(self, run_dir: Path):
        super().__init__(run_dir)
        self.steps: list[tuple] = []

    def log_step(self, step: int, values: dict) -> None:
        self.steps.append((step, values["loss"], values["lr"], values["samples_per_s"]))

    def on_epoch_end(self, trainer, record: dict) -> None:
        if not self.active:
            return
        from kindling.fileio import atomic_write_text

        lines = ["step,loss,lr,samples_per_s"] + [
            f"{s},{loss:.6g},{lr:.6g},{sps:.1f}" for s, loss, lr, sps in self.steps
        ]
        atomic_write_text(self.run_dir / "steps.csv", "\n".join(lines) + "\n")
        keys = list(dict.fromkeys(k for r in trainer.history for k in r))
        rows = [",".join(keys)] + [
            ",".join("" if r.get(k) is None else str(r.get(k)) for k in keys) for r in trainer.history
        ]
        atomic_write_text(self.run_dir / "metrics.csv", "\n".join(rows) + "\n")


class TensorBoardLogger(_Base):
    """Event files in run_dir/tb: scalars per step and per epoch, an augmented training batch, the model
    graph, hyperparameters with the final metrics and, for images, a green/red prediction grid per validation."""

    def on_fit_start(self, trainer) -> None:
        super().on_fit_start(trainer)
        if not self.active:
            return
        from kindling.report import tb

        resumed = trainer.progress.step > 0
        self._flushed = time.perf_counter()
        self.sink.call(
            "open_events",
            logdir=str(self.run_dir / "tb"),
            purge_step=trainer.progress.step if resumed else None,
        )
        x, lengths = tb.training_batch(trainer)
        nodes = tb.graph_nodes(trainer.model, x, lengths)
        if nodes:
            self.sink.call("graph", nodes=nodes)
        if trainer.sig.input_kind == "image":
            grid = tb.batch_grid(tb.denormalise(x, trainer.sig)).permute(1, 2, 0).contiguous().numpy()
            self.sink.call("image", tag="train/augmented_batch", step=trainer.progress.step, image=grid)
        self.grid = None
        image_task = trainer.sig.input_kind == "image" and trainer.sig.task == "classification"
        if image_task and trainer.val_split is not None and len(trainer.val_split):
            self.grid = tb.PredictionGrid(trainer.val_split)
            trainer.val_watchers.append(self.grid.watch)  # the validation pass reports their predictions
            self.sink.call("grid_layout", **self.grid.layout)
        self.sink.flush()

    def log_step(self, step: int, values: dict) -> None:
        values = {f"step/{key}": value for key, value in values.items()}
        self.sink.call("scalars", step=step, values=values, wall_time=time.time())

    def on_validation_end(self, trainer, metrics: dict) -> None:
        if not self.active or self.grid is None:
            return
        model = trainer.ema.module if getattr(trainer, "ema", None) is not None else trainer.model
        right = self.grid.right(model, trainer.preprocess)
        step = trainer.progress.step
        self.sink.call("grid", tag="val/predictions", step=step, right=right, wall_time=time.time())

    def on_epoch_end(self, trainer, record: dict) -> None:
        if not self.active:
            return
        values = {}
        for key, value in record.items():
            if key in ("epoch", "step") or key.endswith("_n") or not isinstance(value, (int, float)):
                continue
            phase, _, name = key.partition("_")
            values[f"{name}/{phase}" if phase in ("train", "val") else f"epoch/{key}"] = value
        if record.get("seconds"):
            values["epoch/samples_per_s"] = (record.get("train_n") or 0) / record["seconds"]
        self.sink.call("scalars", step=record["epoch"], values=values, wall_time=time.time())
        # sent every FLUSH_SECONDS, not every epoch: each wake-up of the sidecar takes a core from torch's
        # threads. Ctrl-C loses nothing (closing sends the rest); only a killed run loses the last seconds.
        now = time.perf_counter()
        if now - self._flushed >= FLUSH_SECONDS or trainer.progress.epoch >= trainer.epochs:
            self.sink.flush()
            self._flushed = now

    def on_fit_end(self, trainer) -> None:
        if not self.active:
            return
        from kindling.report import tb

        hp, metrics = tb.hparams_record(trainer.cfg, trainer.history, trainer.progress)
        self.sink.call("hparams", hparams=hp, metrics=metrics, step=trainer.progress.step)
        self.sink.call("close_events")
        self.sink.flush()
