"""Training callbacks that leave pictures behind: TensorBoard (or CSV) logs, and the plots at the end.

`callbacks_for(cfg, run_dir)` is what the runner asks for (runner.CALLBACK_PROVIDERS). The logger is
`train.logger`: auto (TensorBoard when installed, else CSV), tensorboard, csv or none; `none` also skips
the end-of-training plots (the cheapest run; `kindling report` draws them later). metrics.jsonl is
written by the runner whatever the logger. Only rank 0 logs.
"""

from __future__ import annotations

import importlib.util
import threading
import time
from pathlib import Path

from kindling.errors import UserError, unknown

LOGGERS = ["auto", "tensorboard", "csv", "none"]


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


def callbacks_for(cfg, run_dir: Path) -> list:
    choice = resolve_logger(cfg.train.logger)
    if choice == "none":
        return []
    logger = TensorBoardLogger(run_dir) if choice == "tensorboard" else CsvLogger(run_dir)
    return [logger, PlotsAtEnd(run_dir)]


def log_every(trainer) -> int:
    """Per-step scalars every N optimizer steps: train.log_interval, else about 4 points per epoch."""
    if trainer.tc.log_interval:
        return int(trainer.tc.log_interval)
    return max(1, min(50, trainer.steps_per_epoch // 4))


class _Base:
    """No-op events, the rank-0 switch and a per-step window (loss and throughput since the last point)."""

    def __init__(self, run_dir: Path):
        self.run_dir = Path(run_dir)
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
        from torch.utils.tensorboard import SummaryWriter

        from kindling.report import tb

        resumed = trainer.progress.step > 0
        self.writer = SummaryWriter(
            str(self.run_dir / "tb"), purge_step=trainer.progress.step if resumed else None
        )
        self.image_task = trainer.sig.input_kind == "image" and trainer.sig.task == "classification"
        x, lengths = tb.training_batch(trainer)
        tb.write_graph(self.writer, trainer.model, x, lengths)
        if trainer.sig.input_kind == "image":
            grid = tb.batch_grid(tb.denormalise(x, trainer.sig)).permute(1, 2, 0).contiguous().numpy()
            summary = tb.image_summary("train/augmented_batch", grid)
            self.writer.file_writer.add_summary(summary, trainer.progress.step)
        self.grid = None
        if self.image_task and trainer.val_split is not None and len(trainer.val_split):
            self.grid = tb.PredictionGrid(trainer.val_split)

    def log_step(self, step: int, values: dict) -> None:
        from kindling.report import tb

        summary = tb.scalars_summary({f"step/{key}": value for key, value in values.items()})
        self.writer.file_writer.add_summary(summary, step)

    def on_validation_end(self, trainer, metrics: dict) -> None:
        if not self.active or self.grid is None:
            return
        model = trainer.ema.module if getattr(trainer, "ema", None) is not None else trainer.model
        summary = self.grid.summary(model, trainer.preprocess, "val/predictions")
        self.writer.file_writer.add_summary(summary, trainer.progress.step)

    def on_epoch_end(self, trainer, record: dict) -> None:
        if not self.active:
            return
        from kindling.report import tb

        values = {}
        for key, value in record.items():
            if key in ("epoch", "step") or key.endswith("_n") or not isinstance(value, (int, float)):
                continue
            phase, _, name = key.partition("_")
            values[f"{name}/{phase}" if phase in ("train", "val") else f"epoch/{key}"] = value
        if record.get("seconds"):
            values["epoch/samples_per_s"] = (record.get("train_n") or 0) / record["seconds"]
        self.writer.file_writer.add_summary(tb.scalars_summary(values), record["epoch"])
        self.writer.flush()  # an interrupted run keeps its curves

    def on_fit_end(self, trainer) -> None:
        if not self.active:
            return
        from kindling.report import tb

        tb.write_hparams(self.writer, trainer.cfg, trainer.history, trainer.progress)
        self.writer.close()


def _import_matplotlib() -> None:
    try:
        from matplotlib import figure, ticker  # noqa: F401
        from matplotlib.backends import backend_agg  # noqa: F401
    except Exception:  # a broken install is reported where the plots are drawn, not on this thread
        pass


class PlotsAtEnd(_Base):
    """At the end of training: the best model on the test (else val) split, run once, gives both the
    evaluation and the pictures -> run_dir/plots/*.png, and plots/report.json with everything else
    report.html shows, so that `kindling report` needs neither torch nor matplotlib afterwards."""

    def on_step_end(self, trainer) -> None: ...

    def on_fit_start(self, trainer) -> None:
        """Import matplotlib now, on a side thread, while training runs: the import is ~0.25 s of
        file reads and module set-up that would otherwise sit on the command's critical path at the end.
        torch's ops release the GIL while they compute, so the two overlap on a multi-core machine."""
        super().on_fit_start(trainer)
        self._warm = None
        if trainer.dist.is_main and not trainer.tc.dry_run:
            self._warm = threading.Thread(
                target=_import_matplotlib, name="kindling-plots-import", daemon=True
            )
            self._warm.start()

    def on_fit_end(self, trainer) -> None:
        if not trainer.dist.is_main:
            return
        if getattr(self, "_warm", None) is not None:
            self._warm.join()
        from kindling.report import saved
        from kindling.report.evidence import collect_and_evaluate, plot_split

        has_best = (self.run_dir / "best" / "model.safetensors").is_file()
        split_name, split = plot_split(trainer.data)
        preds = evaluation = None
        if has_best and split is not None:
            from kindling.bundle import load_bundle

            bundle = load_bundle(self.run_dir / "best", str(trainer.device))
            preds, evaluation = collect_and_evaluate(
                bundle.model, bundle.signature, split, split_name, trainer.device
            )
        plots, notes = self._draw_here(trainer, preds)
        if has_best:  # the rest of the page, last: `kindling report` then reads files only
            doctor, data_notes = saved.data_summary(trainer.data)
            table = trainer.sig.task == "regression" and trainer.sig.input_kind == "tabular"
            notes = data_notes + notes + saved.plot_notes(plots)
            saved.save(self.run_dir, evaluation, doctor, notes, trainer.mode, table_plots=table)
        trainer.echo(f"plots in {self.run_dir / 'plots'}")

    def _draw_here(self, trainer, preds) -> tuple[list, list[str]]:
        from kindling.report.evidence import draw_all, tables_regression_plots
        from kindling.report.plots import save_plots

        regression = None
        if trainer.sig.task == "regression" and trainer.sig.input_kind == "tabular":
            preds = None  # the tables callback draws a table's regression plots at fit end; not twice
        elif trainer.sig.task == "regression":
            regression = tables_regression_plots(self.run_dir)
        plots, notes = draw_all(trainer.history, preds, trainer.sig, regression)
        save_plots(self.run_dir / "plots", plots)
        return plots, notes
