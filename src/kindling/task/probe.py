"""One no-grad forward of a model before it trains: the Task refuses outputs that cannot mean it.

    out = probe(task, model, name, forward, x, lengths)   # the trainer: one real batch
    check_user_model(task, model, name, forward)           # models.usercode: two random samples, at build

A model that does not fit the data's input shape, or whose outputs have the wrong shape (10 outputs for
3 classes), is one line naming the model and both shapes, before any step. A user's own model is also
checked at build time, so the mistake shows before the data loads into a run: its outputs must be
finite and not probabilities, and a model that returns log-probabilities (seed 002's `log_softmax` +
`F.nll_loss`) is marked `outputs_log_probs`, read by `kindling.task.task_for`. `forward` is the
caller's (`kindling.models.common.forward`): the Task imports nothing from the models or the loop.
"""

from __future__ import annotations

from collections.abc import Callable

from kindling.errors import UserError

PROBE_SAMPLES = 2  # a user's model at build time: a batch of two, so BatchNorm-like layers work
PROBE_SEED = 0  # their inputs come from a private generator: the global random stream stays untouched


def probe(task, model, name: str, forward: Callable, x, lengths=None, errors: tuple = (RuntimeError,)):
    """`model`'s outputs on `x` (already preprocessed), in eval mode and without grad, shape-checked by
    `task`. An exception of `errors` (a layer that does not fit the input, usually) is the user's mistake."""
    import torch  # lazy: torch

    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            out = forward(model, x, lengths)
    except torch.cuda.OutOfMemoryError:
        raise
    except errors as exc:
        first = str(exc).strip().splitlines()[0][:200] if str(exc).strip() else type(exc).__name__
        shape = ", ".join(["B", *map(str, x.shape[1:])])
        raise UserError(
            f"model {name} fails on a batch of this data's shape ({shape}): {type(exc).__name__}: {first}; "
            "make its first layers fit inputs of that shape"
        ) from exc
    finally:
        model.train(was_training)
    task.check_outputs(name, out, len(x))
    return out


def check_user_model(task, model, name: str, forward: Callable) -> None:
    """A user's model, just built: refuse what the Task cannot train (wrong shape, NaN, probabilities)
    and mark log-probability outputs, so the trainer uses NLL instead of cross-entropy on top of them."""
    import torch  # lazy: torch

    generator = torch.Generator().manual_seed(PROBE_SEED)
    x, lengths = task.inputs.random_batch(PROBE_SAMPLES, generator)
    out = probe(task, model, name, forward, task.inputs.preprocess("cpu")(x), lengths, errors=(Exception,))
    out = out.float()
    if not bool(torch.isfinite(out).all()):
        raise UserError(
            f"model {name} gives NaN or infinite outputs on one batch of ordinary inputs; check its forward"
        )
    if "log_probs" not in task.conventions:  # only classification reads its outputs more than one way
        return
    if task.detect_convention(out) == "log_probs":
        model.outputs_log_probs = True  # read by task_for: the trainer, evaluate, predict and export
    elif bool((out >= 0).all()) and task.detect_convention(out.clamp_min(1e-30).log()) == "log_probs":
        raise UserError(  # probabilities are what log-probabilities are the log of
            f"model {name} returns probabilities (softmax); return logits, or log_softmax for NLL, "
            "so the loss is computed stably"
        )
