"""The trainer's side of your own loss, metrics and callbacks (`train.loss`, `train.metrics`,
`train.callbacks`: `--loss`, `--metric`, `--callback`, or `kindling.fit(loss=, metrics=, callbacks=)`).

    own = Own.load(cfg.train)     # the runner, before the run folder is written: every spec imported
    own.attach(trainer)           # the trainer's setup: the loss checked on one batch, the callbacks added

What each is called with is kindling.task.userfns's; where the code comes from and how it is trusted is
kindling.models.userrefs's; the events are kindling.train.events's (docs/callbacks.md, one example each).

**When one raises.** The run stops with one line naming it and the event, and keeps a checkpoint that
resumes exactly: written there when the state allows it (at an epoch's start, after an optimizer step, in
the validation that ends an epoch: the checkpoint then redoes that validation), else the last one written
(after the loss raised mid-step, or in `on_epoch_end`, whose epoch is already saved). A callback's own
state goes in the checkpoint when it has `state_dict()` and `load_state_dict(state)` (plain numbers,
strings, lists, dicts and tensors), so a resumed run's callbacks continue where they were.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
import torch.distributed as dist

from kindling.errors import UserError, one_line
from kindling.models import userrefs
from kindling.task.userfns import (
    SplitMetrics,
    UserCodeFailed,
    check_key,
    check_loss,
    mode_of,
    raised,
    with_loss,
)
from kindling.train import persist, rng
from kindling.train.events import EVENTS, StopTraining


class UserCallback:
    """One of the user's callbacks as the trainer fires it: the events it defines, each guarded so that
    an exception names the callback and the event (`raise StopTraining(...)` stops training cleanly)."""

    def __init__(self, obj, name: str):
        self.obj, self.name = obj, name

    def on_fit_start(self, trainer) -> None:
        self._call("fit_start", trainer)

    def on_epoch_start(self, trainer) -> None:
        self._call("epoch_start", trainer)

    def on_step_end(self, trainer) -> None:
        self._call("step_end", trainer)

    def on_validation_end(self, trainer, metrics: dict) -> None:
        self._call("validation_end", trainer, metrics)

    def on_epoch_end(self, trainer, record: dict) -> None:
        self._call("epoch_end", trainer, record)

    def on_fit_end(self, trainer) -> None:
        self._call("fit_end", trainer)

    def _call(self, event: str, trainer, *args) -> None:
        method = getattr(self.obj, f"on_{event}", None)
        if method is None:
            return
        try:
            method(trainer, *args)
        except StopTraining:
            raise
        except Exception as exc:
            raise UserCodeFailed(
                raised(f"your callback {self.name}", exc) + f" in on_{event}", event, self.name
            ) from exc


@dataclass
class Own:
    """The user's loss, metrics and callbacks of one run, loaded."""

    loss: userrefs.Named | None = None
    metrics: dict[str, userrefs.Named] = field(default_factory=dict)
    callbacks: list[userrefs.Named] = field(default_factory=list)

    @classmethod
    def load(cls, tc, kept: bool = False) -> Own:
        """Every spec of the train config imported and checked (before any file is written); `kept`:
        the global random stream left as it was (a loss module's own parameters draw from it)."""
        if kept:
            with rng.kept():
                return cls.load(tc)
        own = cls(loss=userrefs.load("loss", tc.loss) if tc.loss else None)
        for text in tc.metrics or []:
            named = userrefs.load("metric", text)
            check_key(named.key)
            if named.key in own.metrics:
                raise UserError(f"--metric {named.key} is given twice; name one of them KEY=FILE.py:NAME")
            own.metrics[named.key] = named
        for text in tc.callbacks or []:
            named = userrefs.load("callback", text)
            if not any(callable(getattr(named.obj, f"on_{event}", None)) for event in EVENTS):
                raise UserError(
                    f"your callback {named.key} ({one_line(text, 80)}) has none of the methods on_"
                    f"{', on_'.join(EVENTS)}, so it would never run; see docs/callbacks.md"
                )
            own.callbacks.append(named)
        return own

    @property
    def every(self) -> list[userrefs.Named]:
        return [*([self.loss] if self.loss else []), *self.metrics.values(), *self.callbacks]

    def remember(self) -> None:
        """Training with them here: the ledger of trusted code records each file (kindling.util.codetrust)."""
        for named in self.every:
            userrefs.remember(named)

    # ------------------------------------------------------------------ in the trainer

    def attach(self, trainer) -> Own:
        """The loss in the trainer's Task (checked on one real batch, no random stream moved), the
        callbacks after the built-in ones, a loss module on the training device. -> self"""
        if self.loss is not None:
            fn = self.loss.obj
            if isinstance(fn, torch.nn.Module):
                fn.to(trainer.device)
            trainer.task = with_loss(trainer.task, fn, self.loss.key)
            _probe_loss(trainer, self.loss.key)
        trainer.callbacks.extend(UserCallback(n.obj, n.key) for n in self.callbacks)
        self.state()  # a state_dict() a checkpoint cannot hold is refused now, before any step
        return self

    def monitor_and_mode(self, task, monitor: str, has_val: bool) -> tuple[str, str]:
        """The metric that picks the best model and which way it improves: the task's (`auto` -> its
        default), or val_KEY of one of the user's metrics."""
        yours = self.monitor(monitor, has_val)
        return yours or (task.monitor_for(monitor), task.mode(task.monitor_for(monitor)))

    def monitor(self, monitor: str, has_val: bool) -> tuple[str, str] | None:
        """(monitor, mode) when `monitor` names one of the user's metrics (val_KEY), else None."""
        key = monitor.removeprefix("val_")
        if not monitor.startswith("val_") or key not in self.metrics:
            return None
        if not has_val:
            raise UserError(
                f"--monitor {monitor}: your metrics are computed on the validation split, and this data has "
                "none; give one (data.val, or a val_fraction above 0), or monitor val_loss"
            )
        return monitor, mode_of(self.metrics[key].obj)

    def again(self, failed: UserCodeFailed) -> str:
        """The flag that names the failing one's file again, for a resume with it fixed ('' for an
        object of a Python session, which is handed again instead)."""
        if failed.event == "loss":
            found = [self.loss] if self.loss else []
        elif failed.event == "metric":
            found = [self.metrics[failed.who]] if failed.who in self.metrics else []
        else:
            found = [n for n in self.callbacks if n.key == failed.who]
        if not found or found[0].record["kind"] == "session":
            return ""
        named = found[0]
        text = (
            named.record["reference"]
            if named.role != "metric"
            else f"{named.key}={named.record['reference']}"
        )
        return f" {userrefs.FLAGS[named.role]} {text}"

    def split_metrics(self, task) -> SplitMetrics | None:
        if not self.metrics:
            return None
        return SplitMetrics({k: n.obj for k, n in self.metrics.items()}, task)

    def records(self) -> dict:
        """Where each one's code came from: the Bundle's header and the checkpoint keep this."""
        if not self.every:
            return {}
        return {
            "loss": self.loss.record if self.loss else None,
            "metrics": {k: {**n.record, "mode": mode_of(n.obj)} for k, n in self.metrics.items()},
            "callbacks": [n.record for n in self.callbacks],
        }

    def sources(self) -> list[tuple[dict, bytes]]:
        return [(n.record, n.source) for n in self.every if n.source is not None]

    # ------------------------------------------------------------------ their state, for resume

    def state(self) -> dict:
        """Each callback's `state_dict()`, checked to be loadable with weights_only=True."""
        saved = {}
        for i, named in enumerate(self.callbacks):
            get = getattr(named.obj, "state_dict", None)
            if callable(get):
                try:
                    value = get()
                except Exception as exc:
                    raise UserCodeFailed(
                        raised(f"your callback {named.key}", exc) + " in state_dict", "state", named.key
                    ) from exc
                _check_plain(value, named.key)
                saved[f"{i}:{named.key}"] = value
        return saved

    def restore(self, saved: dict) -> None:
        for i, named in enumerate(self.callbacks):
            value = (saved or {}).get(f"{i}:{named.key}")
            put = getattr(named.obj, "load_state_dict", None)
            if value is None or not callable(put):
                continue
            try:
                put(value)
            except Exception as exc:
                raise UserCodeFailed(
                    raised(f"your callback {named.key}", exc) + " in load_state_dict", "state", named.key
                ) from exc


PLAIN = (str, int, float, bool, type(None))


def _check_plain(value, name: str, depth: int = 0) -> None:
    if isinstance(value, (PLAIN, torch.Tensor)):
        return
    if depth < 20 and isinstance(value, (list, tuple)):
        for item in value:
            _check_plain(item, name, depth + 1)
        return
    if depth < 20 and isinstance(value, dict):
        for key, item in value.items():
            _check_plain(key, name, depth + 1)
            _check_plain(item, name, depth + 1)
        return
    raise UserCodeFailed(
        f"your callback {name}'s state_dict() holds a {type(value).__name__}; keep to numbers, strings, "
        "lists, dicts and tensors (a checkpoint is loaded with weights_only=True)",
        "state",
        name,
    )


def _probe_loss(trainer, name: str) -> None:
    """The user's loss on one real batch, in eval mode with gradients on (nothing is stepped)."""
    x, y, lengths = next(trainer.train_split.batches(min(trainer.batch_size, 16)))
    model = trainer.model
    was_training = model.training
    model.eval()
    try:
        with rng.kept(), trainer.autocast():
            out = trainer._forward(model, trainer.preprocess(x), lengths)
            check_loss(trainer.task, out, y.to(trainer.device), name)
    finally:
        model.train(was_training)


# ---------------------------------------------------------------- a stop


def resumable_here(trainer, event: str) -> bool:
    """Whether the trainer's state where `event` failed is one a checkpoint resumes exactly from."""
    p = trainer.progress
    if event == "epoch_start":
        return True
    if event == "step_end":
        return p.batch % trainer.tc.accumulate == 0
    if event in ("validation_end", "metric"):
        return trainer._ending is not None  # the validation that ends an epoch: redone on resume
    return False


def stopped(trainer, failed: UserCodeFailed) -> UserCodeFailed:
    """The error ending a run the user's code stopped, once a checkpoint that resumes exactly is written
    where the trainer's state allows it (else the last one written stays)."""
    saved = resumable_here(trainer, failed.event)
    if saved:
        persist.save_last(trainer)
    return UserCodeFailed(stop_line(trainer, failed, saved), failed.event, failed.who)


def stop_line(trainer, failed: UserCodeFailed, saved: bool) -> str:
    """The one line of a run your code stopped: what raised, where, and how to go on."""
    p = trainer.progress
    if failed.event == "fit_end":
        where = "after training (the best model is saved)"
    elif failed.event == "epoch_end" or (failed.event == "state" and p.epoch and not p.batch):
        where = f"after epoch {p.epoch}"
    elif trainer._ending is not None:
        where = f"in epoch {p.epoch}'s validation"
    else:
        where = f"at epoch {p.epoch + 1}, batch {p.batch}"
    resume = f"fix it, then: kindling train --resume {trainer.run_dir}{trainer.own.again(failed)}"
    if saved:
        kept = "its checkpoint resumes there"
    elif (trainer.run_dir / "checkpoints" / "last.pt").is_file():
        which = " (an earlier epoch's)" if trainer.unsaved else " (this epoch's)"  # persist.CHECKPOINT_GAP_S
        kept = "the last checkpoint is kept" + (which if failed.event == "epoch_end" else "")
    else:
        kept, resume = "nothing was saved", "fix it and run again"
    return f"{failed}; stopped {where}; {kept}; {resume}"


def gather_rows(dist_info, total: int):
    """For a distributed pass (rank r holds rows r, r + world, ...): a function putting one tensor's rows
    back in the split's order, on every rank."""

    def gather(t):
        world = dist_info.world
        rows = -(-total // world)
        padded = torch.zeros((rows, *t.shape[1:]), dtype=t.dtype, device=t.device)
        padded[: len(t)] = t
        parts = [torch.empty_like(padded) for _ in range(world)]
        dist.all_gather(parts, padded)
        return torch.stack(parts, 1).reshape(rows * world, *t.shape[1:])[:total]

    return gather
