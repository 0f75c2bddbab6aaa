"""`kindling inspect MODEL --input-shape 3x32x32`: each layer's output shape and parameter count.

For convolutions and pooling the seeds' output-size formula is shown with the numbers filled in,
out = floor((n + 2p - d(k-1) - 1) / s) + 1 (seed 001 writes it as (n - k + 2p) / s + 1 for d = 1),
so the hand-computed `32 * 5 * 5` of seed 000's LeNet can be read off instead of worked out.
"""

from __future__ import annotations

from kindling.data.signature import Signature
from kindling.errors import UserError
from kindling.models.registry import build

FORMULA = "out = floor((n + 2p - d(k-1) - 1) / s) + 1"


def parse_shape(text: str) -> list[int]:
    """'3x32x32' -> [3, 32, 32]; '784' -> [784]."""
    try:
        shape = [int(part) for part in text.lower().replace(",", "x").split("x") if part.strip()]
    except ValueError as exc:
        raise UserError(f"--input-shape '{text}' is not C x H x W numbers, e.g. 3x32x32 or 1x28x28") from exc
    if len(shape) not in (1, 3) or min(shape, default=0) < 1:
        raise UserError(
            f"--input-shape '{text}' must be C x H x W (e.g. 3x32x32) or a feature count (e.g. 784)"
        )
    return shape


def _pair(v) -> tuple[int, int]:
    return (v, v) if isinstance(v, int) else tuple(v)


def size_formula(module, in_hw: tuple[int, int]) -> str:
    """The filled-in output-size formula for a Conv2d / MaxPool2d / AvgPool2d, else ''."""
    from torch import nn  # lazy: torch

    if not isinstance(module, (nn.Conv2d, nn.MaxPool2d, nn.AvgPool2d)):
        return ""
    k, s, p = _pair(module.kernel_size), _pair(module.stride or module.kernel_size), _pair(module.padding)
    d = _pair(getattr(module, "dilation", 1))
    if isinstance(p[0], str):  # padding="same"
        return "padding='same': out = n"
    n = in_hw[0]
    out = (n + 2 * p[0] - d[0] * (k[0] - 1) - 1) // s[0] + 1
    ceil = " (ceil_mode: rounds up)" if getattr(module, "ceil_mode", False) else ""
    return f"floor(({n} + 2*{p[0]} - {d[0]}*({k[0]}-1) - 1) / {s[0]}) + 1 = {out}{ceil}"


def inspect_model(name: str, input_shape: str, classes: int) -> str:
    """A table of the layers that run on one input of `input_shape`, with shapes and parameter counts."""
    import torch  # lazy: torch

    shape = parse_shape(input_shape)
    if classes < 1:
        raise UserError(f"--classes must be 1 or more, got {classes}")
    kind = "image" if len(shape) == 3 else "vector"
    sig = Signature("classification", kind, shape, [str(i) for i in range(classes)])
    model = build(name, sig, {})
    rows: list[tuple[str, str, str, int, str]] = []

    def hook(module, inputs, output, layer_name: str) -> None:
        first = inputs[0] if inputs else None
        in_hw = tuple(first.shape[-2:]) if isinstance(first, torch.Tensor) and first.ndim == 4 else (0, 0)
        out_shape = list(output.shape) if isinstance(output, torch.Tensor) else "?"
        params = sum(p.numel() for p in module.parameters(recurse=False))
        rows.append((layer_name, type(module).__name__, str(out_shape), params, size_formula(module, in_hw)))

    handles = [
        m.register_forward_hook(lambda mod, i, o, n=n: hook(mod, i, o, n))
        for n, m in model.named_modules()
        if n and not list(m.children())
    ]
    model.eval()
    try:
        with torch.no_grad():
            out = model(torch.zeros(1, *shape))
    except RuntimeError as exc:
        first = " ".join(str(exc).split())[:160]
        raise UserError(
            f"model '{name}' cannot take input {input_shape} ({first}); try a larger --input-shape"
        ) from exc
    finally:
        for h in handles:
            h.remove()
    return _table(name, shape, rows, model, out)


def _table(name: str, shape: list[int], rows, model, out) -> str:
    total = sum(p.numel() for p in model.parameters())
    w_name = max([5, *(len(r[0]) for r in rows)])
    w_type = max([4, *(len(r[1]) for r in rows)])
    w_shape = max([12, *(len(r[2]) for r in rows)])
    lines = [
        f"{name}: input [1, {', '.join(map(str, shape))}] -> output {list(out.shape)}",
        f"{'layer':<{w_name}}  {'type':<{w_type}}  {'output shape':<{w_shape}}  {'params':>10}  size formula",
    ]
    for layer, kind, out_shape, params, formula in rows:
        lines.append(f"{layer:<{w_name}}  {kind:<{w_type}}  {out_shape:<{w_shape}}  {params:>10,}  {formula}")
    lines.append(
        f"total parameters: {total:,} ({sum(p.numel() for p in model.parameters() if p.requires_grad):,} trainable)"
    )
    lines.append(
        f"conv / pool output size: {FORMULA}  (n input size, k kernel, p padding, s stride, d dilation)"
    )
    return "\n".join(lines)
