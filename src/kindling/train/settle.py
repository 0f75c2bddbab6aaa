"""The config is settled once: `settle(cfg, data)` -> the finished config that the Trainer takes as it is.

    cfg, line = settle(cfg, data, own=own)   # a new RunConfig; the one given is left as it was

What it settles, from the user's config and the data it read:
- the monitor: `auto` becomes the Task's rule for a validation split of this size
  (kindling.task.problems.SMALL_VAL), or stays the user's own val_KEY metric (kindling.train.userfns);
- the defaults' choices (kindling.config.defaults.choose): model, batch size, epochs, learning rate and
  their companions, the fold ensemble of a small table;
- the photo size: a folder of photos decoded at `defaults.photo_side(cfg)` (passed to `data.build` as an
  argument) is recorded as data.image_size, so config.yaml and the Bundle keep it.

Nothing downstream changes the result: the Trainer refuses a config that is not settled
(`check_settled`), and config.yaml is written from it.
"""

from __future__ import annotations

import copy

from kindling.config import defaults
from kindling.errors import UserError
from kindling.task import TASKS, task_for

# keys a settled config never leaves to kindling (None / `auto`)
SETTLED = ("data.batch_size", "train.epochs", "optim.lr", "train.monitor")


def settle(
    cfg,
    data,
    *,
    own=None,
    resumed: bool = False,
    model_given: bool = False,
    ensemble_ok: bool = False,
):
    """-> (the finished RunConfig, the line saying what kindling chose or None). `cfg` is not changed.

    `data`: the DataModule read for `cfg`. `own`: the user's loss, metrics and callbacks
    (kindling.train.userfns.Own; loaded from cfg.train when None). `resumed`: a resumed run, whose
    choices were adopted from its config.yaml (nothing is chosen again, only a monitor still `auto`
    resolved). `model_given`: the model is already built (a Trainer handed a module), so only the
    training settings are chosen. `ensemble_ok`: the caller can train the fold ensemble
    (kindling.crossval) that a small table then gets (data.folds set)."""

    if own is None:
        from kindling.train.userfns import Own  # lazy: torch

        own = Own.load(cfg.train, kept=True)
    cfg = copy.deepcopy(cfg)
    n_val = len(data.val) if data.val is not None else 0
    monitor_chosen = cfg.train.monitor == defaults.AUTO and not resumed
    if own.monitor(cfg.train.monitor, has_val=True) is None:  # val_KEY of your metric stays as it is
        check_against_data(cfg, data.signature)
        cfg.train.monitor = task_for(data.signature).monitor_for(cfg.train.monitor, n_val)
    if resumed:
        return cfg, None
    return defaults.choose(
        cfg,
        data.signature,
        len(data.train),
        model_given=model_given,
        monitor_chosen=monitor_chosen,
        n_val=n_val,
        ensemble_ok=ensemble_ok,
    )


def check_settled(cfg) -> None:
    """Refuse a config that still leaves a key to kindling: the Trainer takes a settled one as it is."""
    left = [k for k in SETTLED if defaults.is_auto(cfg, k)]
    if left:
        raise ValueError(
            f"the Trainer takes a settled config, and this one leaves {', '.join(left)} to kindling; "
            "settle it first: cfg, _ = kindling.train.settle.settle(cfg, data, model_given=True)"
        )


def check_against_data(cfg, signature) -> None:
    """The rules that need the data: a monitor the task measures, found before training starts (it was
    found at the first validation, after an epoch and a page of output)."""

    allowed = tuple(TASKS[signature.task].monitors) if signature.task in TASKS else ()
    if allowed and cfg.train.monitor != "auto" and cfg.train.monitor not in allowed:
        raise UserError(
            f"train.monitor = {cfg.train.monitor!r} does not apply to a {signature.task} task: it must be "
            f"one of {' | '.join(allowed)} (--monitor {allowed[1 if len(allowed) > 2 else 0]})"
        )
