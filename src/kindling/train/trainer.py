"""The training loop. It reads top to bottom; extension points are named events on callbacks.

    cfg, _ = settle(cfg, data, model_given=True)   # kindling.train.settle: the config finished once
    trainer = Trainer(cfg, run_dir)                 # taken as it is: nothing here chooses a default
    summary = trainer.fit(model, data)

Events, in order: fit_start, epoch_start, step_end, validation_end, epoch_end, fit_end. A callback
stops training by raising `StopTraining`.
"""

from __future__ import annotations

import dataclasses
import math
import time
from pathlib import Path

import torch

from kindling.errors import NonFiniteLossError, UserError
from kindling.models.common import forward
from kindling.task import Task
from kindling.task.metrics import Metrics
from kindling.task.userfns import merged
from kindling.train import decide, distributed, persist, setup
from kindling.train.events import Callback, Interrupted, Progress, StopTraining
from kindling.train.progress import PhaseBar, epoch_line, live_postfix
from kindling.train.signals import SignalFlag
from kindling.train.slurm import requeue
from kindling.train.userfns import Own, UserCodeFailed, gather_rows, stopped


class Trainer:
    def __init__(
        self,
        cfg,
        run_dir: Path,
        callbacks: list[Callback] = (),
        resume: dict | None = None,
        echo=print,
        own: Own | None = None,
    ):
        self.cfg, self.tc, self.run_dir = cfg, cfg.train, Path(run_dir)
        self.callbacks = list(callbacks)
        self.own = own  # the user's loss, metrics and callbacks (kindling.train.userfns); None: read from cfg
        self.resume_state = resume
        self.echo = echo
        self.progress = Progress()
        self.history: list[dict] = []
        self.signals = SignalFlag()
        self.env: dict | None = None  # provenance for the Bundle, collected at the first save
        self.saved_at, self.unsaved = -math.inf, False  # when last.pt was written; a state not written
        # callbacks that want the validation pass's raw outputs (the TensorBoard prediction grid, the
        # report's plots of the best epoch) add `watch(out, y, offset)`: called for every batch of a whole
        # pass over the validation split in order (not a distributed one), offset = its first sample's index
        self.val_watchers: list = []

    # ------------------------------------------------------------------ public

    def fit(self, model: torch.nn.Module, data, task: Task | None = None) -> dict:
        """Train `model` on `data`; `task` (default: the data's, `kindling.task.task_for`) says what
        its outputs mean. Either way it is checked against the model's outputs before the first step."""
        self._setup(model, data, task)
        try:
            self._fit()
        except UserCodeFailed as failed:  # your loss, metric or callback raised: stop where it resumes
            raise stopped(self, failed) from failed
        return self.summary()

    def _fit(self) -> None:
        self.fire("fit_start")
        with self.signals:
            try:
                if self._ending is not None:  # resumed where the validation ending an epoch stopped
                    self._end_epoch(*self._ending[:2])
                while self.progress.epoch < self.epochs:
                    self.fire("epoch_start")
                    t0 = time.perf_counter()
                    train_metrics = self._train_epoch()
                    self._end_epoch(train_metrics, time.perf_counter() - t0)
            except StopTraining as stop:
                if self.progress.batch and self.progress.batch % self.tc.accumulate == 0:
                    persist.save_last(self)  # stopped mid-epoch: a resume with more epochs goes on from here
                if self.dist.is_main and str(stop):
                    self.echo(str(stop))
        if self.unsaved and not self.progress.batch:  # the last epoch's state, put off by the one-second gap
            persist.save_last(self)
        if self.progress.best_epoch < 0:  # never validated (dry run, no val split): keep the last weights
            persist.save_bundle(self, {}, self.progress.epoch)
        decide.after_training(self)  # a two-class threshold, chosen on val, into the Bundle
        self.fire("fit_end")

    def fire(self, event: str, *args) -> None:
        for cb in self.callbacks:
            getattr(cb, f"on_{event}")(self, *args)

    def summary(self) -> dict:
        p = self.progress
        return {
            "best": p.best,
            "best_epoch": p.best_epoch,
            "epochs": p.epoch,
            "steps": p.step,
            "skipped_steps": p.skipped_steps,
        }

    # ------------------------------------------------------------------ setup

    def _setup(self, model, data, task: Task | None = None) -> None:
        setup.prepare(self, model, data, task)  # kindling.train.setup: device, splits, task, optimizer

    def train_order_len(self) -> int:
        n = len(self.train_split)
        return -(-n // self.dist.world)

    def _sched_steps(self) -> int:
        return max(1, math.ceil(self.steps_per_epoch / self.tc.accumulate))

    # ------------------------------------------------------------------ the epoch

    def _train_epoch(self) -> Metrics:
        p = self.progress
        order = self.sampler.order(p.epoch, self.dist.rank, self.dist.world)  # kindling.train.sampler
        if self._epoch_metrics is None:
            self._epoch_metrics = self.task.metrics(self.device)
        metrics = self._epoch_metrics
        self.train_model.train()
        bar = PhaseBar(f"epoch {p.epoch + 1}/{self.epochs}", self.steps_per_epoch, p.batch, self.dist.is_main)
        for x, y, lengths in self.train_split.batches(self.batch_size, order, start=p.batch):
            self._train_step(x, y, lengths, metrics)
            p.batch += 1
            bar.update(lambda: live_postfix(metrics))
            self.fire("step_end")
            at_boundary = p.batch % self.tc.accumulate == 0
            if self.tc.val_every_steps and at_boundary and p.step % self.tc.val_every_steps == 0 and p.step:
                self._validate_and_track(p.epoch + 1)
            if self.tc.save_every_steps and at_boundary and p.batch % self.tc.save_every_steps == 0:
                persist.save_last(self)
            if at_boundary and distributed.any_flag(self.signals.signum is not None, self.dist):
                self._interrupt(bar)
            if p.batch >= self.steps_per_epoch:
                break
        bar.close()
        self._check_finite(None, metrics, force=True)
        if p.batch % self.tc.accumulate:  # flush a last partial accumulation
            self._optimizer_step()
        metrics.all_reduce()
        p.epoch, p.batch = p.epoch + 1, 0
        self._epoch_metrics = None
        return metrics

    def _train_step(self, x, y, lengths, metrics: Metrics) -> None:
        x = self.preprocess(x)
        if y.device != self.device:
            y = y.to(self.device, non_blocking=True)
        if self.augment is not None:
            x = self.augment(x)
        with self.autocast():
            out = self._forward(self.train_model, x, lengths)
            loss = self.task.loss(out, y)
        metrics.update(loss, out, y)
        self._check_finite(loss, metrics)
        scaled = loss / self.tc.accumulate if self.tc.accumulate > 1 else loss
        (self.scaler.scale(scaled) if self.scaler else scaled).backward()
        if (self.progress.batch + 1) % self.tc.accumulate == 0:
            self._optimizer_step()

    def _optimizer_step(self) -> None:
        if self.tc.clip_grad:
            if self.scaler:
                self.scaler.unscale_(self.optimizer)
            torch.nn.utils.clip_grad_norm_(self.model.parameters(), self.tc.clip_grad)
        if self.scaler:
            scale = self.scaler.get_scale()
            self.scaler.step(self.optimizer)
            self.scaler.update()
            if self.scaler.get_scale() < scale:
                self.progress.skipped_steps += 1
        else:
            self.optimizer.step()
        self.optimizer.zero_grad(set_to_none=True)
        self.progress.step += 1
        if self.ema is not None:
            self.ema.update_parameters(self.model)
        if self.scheduler is not None and self.sched_interval == "step":
            self.scheduler.step()

    def _forward(self, model, x, lengths):
        return forward(
            model, x, lengths, getattr(self.model, "takes_lengths", False)
        )  # self.model: unwrapped

    def _check_finite(self, loss: torch.Tensor | None, metrics: Metrics, force: bool = False) -> None:
        """Stop at a NaN/inf loss. On a GPU a host sync per step would stall it, so the running loss sum
        (NaN once any loss was) is read every 32 batches and at the epoch's end; the error names the window."""
        p = self.progress
        if self.device.type != "cuda":
            if loss is not None and not math.isfinite(loss.item()):
                self._non_finite(f"at epoch {p.epoch + 1}, step {p.step}, batch {p.batch}", loss.item())
            return
        self._unchecked += loss is not None
        if self._unchecked and (force or self._unchecked >= 32):
            if not math.isfinite(float(metrics.sums[0])):
                where = f"at epoch {p.epoch + 1}, step {p.step}, within the last {self._unchecked} batches (to batch {p.batch})"
                self._non_finite(where, float("nan"))
            self._unchecked = 0

    def _non_finite(self, where: str, value: float) -> None:
        last = self.run_dir / "checkpoints" / "last.pt"
        # without a checkpoint the runner removes the half-made run, so only a real one is mentioned
        kept = (
            f", the last good checkpoint is kept in {last.parent}"
            if last.is_file()
            else ", nothing was saved"
        )
        raise NonFiniteLossError(
            f"the training loss became {value} {where}; stopped{kept}; "
            "lower the learning rate (--lr) or clip gradients (--clip-grad 1.0)"
        )

    # ------------------------------------------------------------------ validation and bookkeeping

    @torch.no_grad()
    def evaluate_split(self, split, model=None) -> dict:
        model = model or (self.ema.module if self.ema is not None else self.model)
        was_training = model.training
        model.eval()
        metrics = self.task.metrics(self.device)
        order = torch.arange(len(split))[self.dist.rank :: self.dist.world] if self.dist.enabled else None
        total = -(-len(split if order is None else order) // self.cfg.data.eval_batch_size)
        bar = PhaseBar("validate", total, 0, self.dist.is_main and total > 1)
        watchers = self.val_watchers if split is self.val_split and order is None else ()
        yours = self.own.split_metrics(self.task)  # your metrics: over the whole split, once
        offset = 0
        for i, (x, y, lengths) in enumerate(split.batches(self.cfg.data.eval_batch_size, order)):
            bar.update()
            y = y.to(self.device, non_blocking=True)
            with self.autocast():
                out = self._forward(model, self.preprocess(x), lengths)
            metrics.update(self.task.loss(out, y), out, y)
            if yours is not None:
                yours.add(out, y)
            for watch in watchers:
                watch(out, y, offset)
            offset += len(y)
            if self.tc.dry_run and i == 0:
                break
        bar.close()
        metrics.all_reduce()
        model.train(was_training)
        result = metrics.compute()
        if yours is not None:
            whole = order is not None and not self.tc.dry_run  # a dry run's one batch: each rank's own
            gather = gather_rows(self.dist, len(split)) if whole else None
            result = merged(result, yours.compute(gather))
        return result

    def _validate_and_track(self, epoch: int) -> tuple[dict | None, bool]:
        if self.val_split is None:
            return None, False
        val = self.evaluate_split(self.val_split)
        self.progress.val_rounds += 1
        try:
            self.fire("validation_end", val)
        except StopTraining as stop:  # a callback's stop: once this round is tracked (and its epoch ended)
            self._stopping = stop
        improved = self._track(val, epoch)
        if self._stopping is not None and self._ending is None:
            raise self._stopping
        if (
            self.tc.patience_steps
            and self.progress.step - self.progress.last_improved_step >= self.tc.patience_steps
        ):
            raise StopTraining(
                f"early stop: no improvement of {self.monitor_key} in {self.tc.patience_steps} steps"
            )
        return val, improved

    def _track(self, metrics: dict, epoch: int) -> bool:
        """Update the best monitored value; save the Bundle when it improved."""
        value = metrics.get(self.monitor_key.split("_", 1)[1])
        if value is None:
            raise UserError(f"--monitor {self.monitor}: the {self.task.name} metrics have no such value")
        p = self.progress
        better = p.best is None or (
            value > p.best + self.tc.min_delta if self.mode == "max" else value < p.best - self.tc.min_delta
        )
        if better:
            p.best, p.best_epoch, p.bad_rounds, p.last_improved_step = value, epoch, 0, p.step
            persist.save_bundle(self, metrics, epoch)
        else:
            p.bad_rounds += 1
        return better

    def _end_epoch(self, train_metrics: Metrics, seconds: float) -> None:
        p = self.progress
        self._ending = (train_metrics, seconds, dataclasses.replace(p))  # a stop before the record saves this
        train = train_metrics.compute()
        val, improved = self._validate_and_track(p.epoch)
        if val is None:
            improved = self._track(train, p.epoch)
        lr = self.optimizer.param_groups[0]["lr"]  # the rate this epoch trained with
        if self.scheduler is not None and self.sched_interval == "epoch":
            self.scheduler.step()
        elif self.scheduler is not None and self.sched_interval == "val":
            self.scheduler.step((val or train)["loss"])
        record = {"epoch": p.epoch, "step": p.step, "lr": lr, "seconds": round(seconds, 3)}
        record.update({f"train_{k}": v for k, v in train.items() if k != "confusion_matrix"})
        if val is not None:
            record.update({f"val_{k}": v for k, v in val.items() if k != "confusion_matrix"})
        self.history.append(record)
        self._ending = None
        persist.save_at_epoch_end(self)
        if self.dist.is_main:
            self.echo(epoch_line(record, self.epochs, improved, also=tuple(self.own.metrics)))
        self.fire("epoch_end", record)
        if self._stopping is not None:
            raise self._stopping
        if self.tc.patience and p.bad_rounds >= self.tc.patience:
            raise StopTraining(
                f"early stop: {self.monitor_key} did not improve for {self.tc.patience} validation rounds"
            )

    # ------------------------------------------------------------------ interruption

    def _interrupt(self, bar: PhaseBar) -> None:

        bar.close()
        persist.save_last(self)
        p = self.progress
        saved = f"{self.signals.name} received: saved a resumable checkpoint at epoch {p.epoch + 1}, batch {p.batch}"
        raise Interrupted(saved + requeue(self.signals.signum, self.dist.is_main, saved))  # USR1 under Slurm
