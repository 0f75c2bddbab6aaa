"""The hand-written PyTorch loop kindling is measured against: what a careful user writes by hand
over in-memory tensors (slice a batch, normalise, forward, loss, backward, step, track loss/accuracy)."""

from __future__ import annotations

import time

import torch


def hand_epoch(
    model, x_uint8, y, batch_size: int, optimizer, mean: float, std: float, seed: int, epoch: int
) -> tuple[float, float]:
    """One training epoch -> (wall seconds, CPU seconds of this thread), from before the first batch to
    after the last step's results are read. Same shuffling rule as kindling (seeded per epoch). The model
    is used in whatever memory format it is in; the batches are made as they come (contiguous)."""
    model.train()
    loss_fn = torch.nn.CrossEntropyLoss()
    g = torch.Generator().manual_seed(seed * 1_000_003 + epoch)
    order = torch.randperm(len(y), generator=g).to(y.device)
    running_loss, correct = 0.0, 0
    t0, c0 = time.perf_counter(), time.thread_time()
    for lo in range(0, len(y), batch_size):
        idx = order[lo : lo + batch_size]
        xb = (x_uint8[idx].float().div_(255.0) - mean) / std
        yb = y[idx]
        out = model(xb)
        loss = loss_fn(out, yb)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        running_loss += loss.detach() * len(yb)  # kept on the device: no sync per step
        correct += (out.argmax(1) == yb).sum()
    float(running_loss), int(correct)  # one sync at the end, as a careful loop does
    return time.perf_counter() - t0, time.thread_time() - c0


def raw_epoch(
    model, x_uint8, y, batch_size: int, optimizer, mean: float, std: float, seed: int, epoch: int
) -> float:
    """One training epoch; returns its wall seconds (hand_epoch's first figure)."""
    return hand_epoch(model, x_uint8, y, batch_size, optimizer, mean, std, seed, epoch)[0]
