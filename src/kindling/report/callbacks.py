"""Training callbacks that leave pictures behind: TensorBoard (or CSV) logs, and the plots at the end.

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


class PlotsAtEnd(_Base):
    """At the end of training: the best model's predictions on the test (else val) split give both the
    evaluation and the pictures -> run_dir/plots/*.png, and plots/report.json with everything else
    report.html shows, so that `kindling report` needs neither torch nor matplotlib afterwards.

    Without a test split those predictions are the best epoch's own validation pass (watched as it ran,
    with evaluate's metrics added up from the same outputs): no second pass at the end. Otherwise the best
    model is loaded and run over the test split. The sidecar then draws every plot, one group per core.
    (Drawing the learning curves there while the best model ran was slower: the sidecar, niced, got
    little of the cores torch's two threads were using, and it stalled them.)"""

    MAX_KEPT = 1 << 24  # probabilities kept per validation pass (64 MB): above, the best model runs again

    def on_step_end(self, trainer) -> None: ...

    def on_fit_start(self, trainer) -> None:
        super().on_fit_start(trainer)
        self._pass = self._best = None
        if self.active and _val_pass_is_evaluation(trainer, self.MAX_KEPT):
            trainer.val_watchers.append(lambda out, y, offset: self._watch(trainer, out, y, offset))

    def _watch(self, trainer, out, y, offset: int) -> None:
        from contextlib import nullcontext

        from kindling.report.evidence import Collected

        if offset == 0:
            self._settle(trainer)
            self._pass_step = trainer.progress.step
            if trainer.autocast is nullcontext:  # as evaluate, in full precision: the same numbers
                self._pass = Collected(trainer.model, trainer.sig, trainer.data.val, "val", trainer.device)
        if self._pass is not None:
            self._pass(out, y)

    def _settle(self, trainer) -> None:
        """The pass fed last is the best epoch's when the trainer saved the best model at its step (two
        passes at one step saw the same weights: the same outputs)."""
        if (
            self._pass is not None
            and self._pass.complete
            and trainer.progress.last_improved_step == self._pass_step
        ):
            self._best = self._pass
        self._pass = None

    def on_fit_end(self, trainer) -> None:
        if not trainer.dist.is_main:
            return
        from kindling.report import saved
        from kindling.report.evidence import history_specs, plot_split
        from kindling.report.plots import write_index

        folder = str(self.run_dir / "plots")
        specs, notes = history_specs(trainer.history)
        has_best = (self.run_dir / "best" / "model.safetensors").is_file()
        split_name, split = plot_split(trainer.data)
        evaluation = None
        if has_best and split is not None:
            preds, evaluation = self._from_validation(trainer) or self._run_best(trainer, split_name, split)
            specs += self._prediction_specs(trainer, preds)
        self._send(folder, specs)
        doctor, data_notes = saved.data_summary(trainer.data) if has_best else (None, [])
        entries, errors = self._collect(folder, specs)
        write_index(folder, entries)  # plots/index.json
        if has_best:  # the rest of the page, last: `kindling report` then reads files only
            notes = data_notes + notes + errors + saved.plot_notes(entries)
            saved.save(self.run_dir, evaluation, doctor, notes, trainer.mode, table_plots=_table(trainer))
        trainer.echo(f"plots in {self.run_dir / 'plots'}")

    def _from_validation(self, trainer):
        """(Predictions, evaluation) of the best epoch's validation pass, when this process watched it."""
        if self.active:
            self._settle(trainer)
        return self._best.result() if self._best is not None else None

    def _run_best(self, trainer, split_name: str, split):
        from kindling.bundle import load_bundle
        from kindling.report.evidence import collect_and_evaluate

        bundle = load_bundle(self.run_dir / "best", str(trainer.device))
        return collect_and_evaluate(bundle.model, bundle.signature, split, split_name, trainer.device)

    @staticmethod
    def _prediction_specs(trainer, preds) -> list:
        from kindling.report.evidence import prediction_specs

        # the tables callback draws a table's regression plots at fit end; not twice
        return [] if _table(trainer) else prediction_specs(preds, trainer.sig)

    def _send(self, folder: str, specs: list) -> None:
        for spec in specs:
            self.sink.call("draw", folder=folder, spec=spec)
        self.sink.flush()

    def _collect(self, folder: str, specs: list) -> tuple[list[dict], list[str]]:
        """The drawn plots' index entries, and a note per failure. A sidecar that died is replaced by
        drawing here."""
        done = self.sink.request("finish")
        if "error" not in done:
            return done["entries"], done["errors"]
        local = ReportSink()
        for spec in specs:
            local.call("draw", folder=folder, spec=spec)
        drawn = local.request("finish")
        note = f"{done['error']}: the plots were drawn by the training process; the TensorBoard logs may end early"
        return drawn["entries"], [note, *drawn["errors"]]


def _table(trainer) -> bool:
    return trainer.sig.task == "regression" and trainer.sig.input_kind == "tabular"


def _val_pass_is_evaluation(trainer, max_kept: int) -> bool:
    """Is the trainer's validation pass what evaluate would run for the plots: the plot split is val (no
    test split), the pass covers all of it in order in one process, and keeping its results fits?"""
    from kindling.report.evidence import plot_split

    name, split = plot_split(trainer.data)
    whole = not (trainer.tc.dry_run or trainer.tc.overfit_batches or trainer.dist.enabled)
    return (
        name == "val"
        and whole
        and trainer.val_split is not None
        and len(split) * max(1, len(trainer.sig.class_names)) <= max_kept
    )
