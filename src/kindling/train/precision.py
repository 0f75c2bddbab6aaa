"""Mixed precision and torch.compile, allowed only where they help."""

from __future__ import annotations

import contextlib

import torch

from kindling.errors import UserError


def cpu_has_native_bf16() -> bool:
    for probe in ("_is_avx512_bf16_supported", "_is_amx_tile_supported"):
        fn = getattr(torch.cpu, probe, None) or getattr(getattr(torch._C, "_cpu", None), probe, None)
        if fn is not None:
            try:
                if fn():
                    return True
            except RuntimeError:
                pass
    return False


def autocast_for(precision: str, device: torch.device):
    """(context factory, GradScaler or None) for `--precision 32|bf16|fp16`; refuses slow choices."""
    if precision in ("32", "fp32"):
        return contextlib.nullcontext, None
    if precision not in ("bf16", "fp16"):
        raise UserError(f"--precision '{precision}' is not one of 32, bf16, fp16")
    if device.type == "cpu":
        if precision == "fp16":
            raise UserError(
                "--precision fp16 needs a GPU; on a CPU use --precision 32 (or bf16 on a CPU with native bf16)"
            )
        if not cpu_has_native_bf16():
            raise UserError(
                "--precision bf16 refused: this CPU has no native bf16 (no AVX512-BF16/AMX), where it runs several "
                "times slower than fp32; use --precision 32"
            )
        # with native bf16 the trainer still measures both and refuses bf16 if it is slower (calibrate.py)
    dtype = torch.bfloat16 if precision == "bf16" else torch.float16
    scaler = torch.amp.GradScaler(device.type) if precision == "fp16" else None
    return (lambda: torch.autocast(device.type, dtype=dtype)), scaler


def maybe_compile(model, enabled: bool, device: torch.device):
    if not enabled:
        return model
    if device.type == "cpu":
        raise UserError(
            "--compile refused on the CPU: torch.compile made small models slower here (compile time dominates and "
            "the kernels gain little); use it on a GPU"
        )
    return torch.compile(model)
