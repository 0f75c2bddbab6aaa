"""What the trainer saves and restores: last.pt (the full state) and the best Bundle."""

from __future__ import annotations

import re
import time
from dataclasses import asdict

import torch
import torch.distributed as dist

from kindling.bundle.files import save_bundle as write
from kindling.bundle.files import save_code_copy
from kindling.errors import UserError
from kindling.models import usercode
from kindling.models.userrefs import copy_names
from kindling.task.threshold import confusion_scores
from kindling.train import checkpoint, decide, distributed, rng
from kindling.train.events import Progress
from kindling.util.envinfo import collect


def state_dict(trainer) -> dict:
    """The full training state as plain tensors, numbers and containers (weights_only-loadable)."""
    state = {
        "model": trainer.model.state_dict(),
        "optimizer": trainer.optimizer.state_dict(),
        "progress": asdict(trainer.progress),
        "history": trainer.history,
        "rng": rng.capture(),
        "threads": trainer.threads,
        "memory_format": trainer.memory_format,
        "world": trainer.dist.world,
        "epoch_metrics": None,  # save_last: the epoch's running sums, over every rank
        "sampler": trainer.sampler.state_dict(),  # kindling.train.sampler: checked on resume
        "class_weights": trainer.class_weights,
    }
    for name in ("scheduler", "scaler", "ema"):
        part = getattr(trainer, name)
        if part is not None:
            state[name] = part.state_dict()
    if usercode.is_reference(trainer.cfg.model.name):  # a resume must run the same code
        record, _ = usercode.provenance(trainer.cfg.model.name)
        state["code"] = {"file": record["file"], "sha256": record["sha256"]}
    _add_own(trainer, state)
    return state


def _add_own(trainer, state: dict) -> None:
    """The user's loss, metrics and callbacks (kindling.train.userfns): their code's sha256, for a resume
    to run the same; their callbacks' state; and, for a stop inside the validation that ends an epoch, that
    epoch's training sums, so that the resume redoes that validation (with the counters from before it)."""
    own = trainer.own
    if own is not None and own.every:
        state["own_code"] = {
            n.record["reference"]: {"file": n.record["file"], "sha256": n.record["sha256"]} for n in own.every
        }
        state["own_state"] = own.state()
    if getattr(trainer, "_ending", None) is not None:
        metrics, seconds, progress = trainer._ending
        state["progress"] = asdict(progress)
        state["ending"] = {"sums": metrics.state(), "seconds": seconds}


# last.pt at an epoch's end is written at most once a second by a single process. A small table trains
# hundreds of epochs of a few milliseconds each, and writing the full state after each was a third of such
# a run (the census table of tests/data/test_tables_raw.py: 820 writes, 5.2 s of 25 s). What is put off is
# written when training ends or stops, at a signal, and by --save-every-steps; a SIGKILL loses at most the
# last second. Under torchrun every epoch is written: the write is collective, and a clock is not.
CHECKPOINT_GAP_S = 1.0


def save_at_epoch_end(trainer) -> None:
    """last.pt at the end of an epoch, unless the last one was written less than CHECKPOINT_GAP_S ago."""
    if trainer.dist.enabled or time.monotonic() - trainer.saved_at >= CHECKPOINT_GAP_S:
        save_last(trainer)
    else:
        trainer.unsaved = True


def save_last(trainer) -> None:
    """checkpoints/last.pt, written by rank 0; every rank calls it (the epoch's sums are added up)."""
    trainer.saved_at, trainer.unsaved = time.monotonic(), False
    sums = trainer._epoch_metrics.state() if trainer._epoch_metrics is not None else None
    if sums is not None and trainer.dist.enabled:
        sums = _summed(trainer._epoch_metrics)
    streams = _rank_streams(trainer) if trainer.dist.enabled else None
    if trainer.dist.is_main:
        state = {**state_dict(trainer), "epoch_metrics": sums}
        if streams is not None:
            state["rank_rng"] = streams
        checkpoint.save(trainer.run_dir / "checkpoints" / "last.pt", state)
    distributed.barrier(trainer.dist)


def _rank_streams(trainer) -> list:
    """Every rank's torch random state (CPU, then its GPU's), gathered: each rank was seeded apart
    (seed + rank), and dropout and augmentation draw from these, so a resume in the same world gives each
    rank its own back. A tensor collective on the training device (gloo and NCCL alike)."""

    mine = torch.get_rng_state()
    if trainer.device.type == "cuda":
        mine = torch.cat([mine, torch.cuda.get_rng_state(trainer.device)])
    mine = mine.to(trainer.device)
    every = [torch.empty_like(mine) for _ in range(trainer.dist.world)]
    dist.all_gather(every, mine)
    return [t.cpu() for t in every]


def _restore_rank_stream(trainer, streams: list) -> None:

    cpu = torch.get_rng_state().numel()
    mine = streams[trainer.dist.rank]
    torch.set_rng_state(mine[:cpu].clone())
    if trainer.device.type == "cuda" and mine.numel() > cpu:
        torch.cuda.set_rng_state(mine[cpu:].clone(), trainer.device)


def _summed(metrics):
    """The running sums of an epoch cut short, added up over the ranks (on the training device: NCCL
    too). Resumed, rank 0 starts from them and the others from zero: the epoch's all_reduce then
    counts every sample once, whatever the new world size."""

    sums = metrics.state().to(metrics.sums.device)
    dist.all_reduce(sums)
    return sums.cpu()


def load_state(trainer, state: dict) -> None:
    """Restore everything `state_dict` saved; a state that does not fit this run is one line (exit 2)."""

    try:
        _restore(trainer, state)
    except (RuntimeError, KeyError, TypeError, ValueError, IndexError) as exc:
        first = re.sub(r"^Error\(s\) in loading state_dict for \w+: ", "", " ".join(str(exc).split()))
        first = first if len(first) <= 100 else first[:100].rsplit(" ", 1)[0] + " ..."
        raise UserError(
            f"{trainer.run_dir / 'checkpoints' / 'last.pt'} does not fit this run's model ({first}); "
            "resume with the run's own config, or retrain"
        ) from exc


def _restore(trainer, state: dict) -> None:
    """Restore everything `state_dict` saved; RNG last, so nothing after it consumes randomness."""

    if state.get("code"):
        usercode.check_resumed(trainer.cfg.model.name, state["code"])
    trainer.sampler.load_state_dict(state.get("sampler"))
    _check_weights(trainer, state)
    trainer.model.load_state_dict(state["model"])
    trainer.optimizer.load_state_dict(state["optimizer"])
    for name in ("scheduler", "scaler", "ema"):
        part = getattr(trainer, name)
        if part is not None and name in state:
            part.load_state_dict(state[name])
    trainer.progress = Progress(**state["progress"])
    trainer.history = list(state.get("history", []))
    if state.get("ending") is not None:  # stopped in the validation ending an epoch: redone first
        ended = trainer.task.metrics(trainer.device)
        ended.load(state["ending"]["sums"])
        trainer._ending = (ended, state["ending"]["seconds"], trainer.progress)
    if trainer.own is not None:
        trainer.own.restore(state.get("own_state") or {})
    saved_world = state.get("world", 1)
    if saved_world != trainer.dist.world and trainer.progress.batch:
        # another world size shards differently: keep the position in samples, not in batches
        trainer.progress.batch = trainer.progress.batch * saved_world // trainer.dist.world
    if state.get("epoch_metrics") is not None and trainer.progress.batch:
        trainer._epoch_metrics = trainer.task.metrics(trainer.device)
        if trainer.dist.is_main:  # the sums of every rank (save_last): counted once, here
            trainer._epoch_metrics.load(state["epoch_metrics"])
    if saved_world == trainer.dist.world:
        rng.restore(state["rng"])
        if state.get("rank_rng") is not None and len(state["rank_rng"]) == trainer.dist.world:
            _restore_rank_stream(trainer, state["rank_rng"])


def _check_weights(trainer, state: dict) -> None:
    """The loss a resumed run trains with is the one it started with (a weights FILE edited since is not)."""

    saved = state.get("class_weights")
    if "class_weights" in state and saved != trainer.class_weights:
        raise UserError(
            f"cannot resume: the class weights are now {_rounded(trainer.class_weights)}, the run started "
            f"with {_rounded(saved)} (--class-weights {trainer.tc.class_weights}); restore them, or start "
            "a new run (--run-dir)"
        )


def _rounded(weights) -> str:
    if weights is None:
        return "none"
    if not isinstance(weights, list) or not all(isinstance(w, (int, float)) for w in weights):
        return "damaged weights"
    return "[" + ", ".join(f"{w:.3g}" for w in weights[:6]) + (", ...]" if len(weights) > 6 else "]")


def save_bundle(trainer, metrics: dict, epoch: int) -> None:
    """Publish the Bundle (EMA weights when EMA is on) with the monitored metrics and provenance."""
    if not trainer.dist.is_main:
        return

    model = trainer.ema.module if trainer.ema is not None else trainer.model
    spec = {"name": trainer.cfg.model.name, "options": trainer.cfg.model.options}
    _record_code(trainer.run_dir / "best", spec)
    clean = {k: v for k, v in metrics.items() if k != "confusion_matrix"}
    if "confusion_matrix" in metrics:  # what imbalance hides from accuracy (kindling.task.threshold)
        clean.update(confusion_scores(metrics["confusion_matrix"]))
    if trainer.env is None:  # once per run: it runs `git rev-parse` and reads versions
        trainer.env = collect(trainer.device, trainer.threads, trainer.tc.seed)
    env = trainer.env
    meta = {"val": clean, "epoch": epoch, "monitor": trainer.monitor_key, "outputs": trainer.task.convention}
    _record_own(trainer, trainer.run_dir / "best", spec, meta)
    extra = decide.bundle_record(trainer)  # the class weights, sampler and a fixed threshold
    write(trainer.run_dir / "best", model, spec, trainer.sig, meta, env, asdict(trainer.cfg.data), extra)


def _record_code(folder, spec: dict) -> None:
    """The user's own model (`file.py:Name`): where its code came from, its sha256, and a copy of it."""

    if usercode.is_reference(spec["name"]):
        spec["code"], source = usercode.provenance(spec["name"], spec["options"])
        if spec["code"]["copy"]:
            save_code_copy(folder, spec["code"], source)


def _record_own(trainer, folder, spec: dict, meta: dict) -> None:
    """The user's loss, metrics and callbacks: where their code came from (`user_code` beside the
    metrics, which `evaluate` reads to recompute your metrics) and a copy of each file in code/."""

    own = trainer.own
    if own is None or not own.every:
        return
    code = spec.get("code") or {}
    taken = {code["copy"]: code["sha256"]} if code.get("copy") else {}
    copy_names([n.record for n in own.every], taken)
    meta["user_code"] = own.records()
    for record, source in own.sources():
        save_code_copy(folder, record, source)
