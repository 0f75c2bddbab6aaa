"""What a user's model returns, checked before training starts (integrator: fold into Task).

One no-grad forward on two samples of the data's shape tells a wrong output shape (10 outputs for 2
classes) as one line naming the model and both shapes, and tells the output convention: logits, or
log-probabilities (seed 002's `log_softmax` + `F.nll_loss`), which the trainer, evaluate, predict and
export read from `model.outputs_log_probs`, as for kindling's own MNIST net.
"""

from __future__ import annotations

from kindling.errors import UserError


def check_user_model_outputs(model, sig, name: str) -> None:
    """One no-grad forward on a small batch of the data's shape: refuse a wrong output shape before
    training starts, and mark a model that returns log-probabilities (log_softmax, as seed 002's MNIST
    Net does) so the trainer uses NLL instead of cross-entropy on top of it.
    # integrator: fold into Task (detect_convention / check_outputs)"""
    import torch

    from kindling.models.common import forward

    x, lengths = _probe_batch(sig)
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            out = forward(model, x, lengths)
    except Exception as exc:
        raise UserError(
            f"model '{name}' fails on one batch of this data's shape (B, {', '.join(map(str, sig.input_shape))}): "
            f"{type(exc).__name__}: {str(exc)[:300]}"
        ) from exc
    finally:
        model.train(was_training)
    want = sig.num_outputs
    if not isinstance(out, torch.Tensor):
        raise UserError(
            f"model '{name}' returns a {type(out).__name__}; return one tensor of shape (B, {want})"
        )
    if tuple(out.shape) != (x.shape[0], want):
        what = f"{want} classes" if sig.task == "classification" else f"{want} target value(s)"
        got = "(" + ", ".join(["B", *map(str, out.shape[1:])]) + ")"
        raise UserError(
            f"model '{name}' gives outputs of shape {got} but the data has {what}, which needs (B, {want}); "
            "change its last layer or give its constructor a num_classes parameter"
        )
    if not bool(torch.isfinite(out).all()):
        raise UserError(
            f"model '{name}' gives NaN or infinite outputs on one batch of ordinary inputs; check its forward"
        )
    if sig.task == "classification" and want >= 2:
        _mark_convention(model, out.float(), name)


def _mark_convention(model, out, name: str) -> None:
    """logits (anything), log-probabilities (each row's logsumexp is 0) or probabilities (refused)."""
    import torch

    if bool((out <= 0).all()) and bool((torch.logsumexp(out, 1).abs() < 1e-4).all()):
        model.outputs_log_probs = True  # read by the trainer, evaluate, predict and export
    elif bool((out >= 0).all()) and bool(((out.sum(1) - 1).abs() < 1e-4).all()):
        raise UserError(
            f"model '{name}' returns probabilities (softmax); return logits, or log_softmax for NLL, "
            "so the loss is computed stably"
        )


def _probe_batch(sig) -> tuple:  # (x, lengths or None)
    """Two samples of the data's shape, drawn from a private generator (the global seed stays untouched)."""
    import torch

    gen = torch.Generator().manual_seed(0)
    if sig.input_kind == "text":
        vocab = max(2, len(sig.extras.get("vocab", [])))
        x = torch.randint(1, vocab, (2, *sig.input_shape), generator=gen)
        return x, torch.full((2,), x.shape[1], dtype=torch.long)
    return torch.randn(2, *sig.input_shape, generator=gen), None
