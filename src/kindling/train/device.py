"""Device choice: cuda > mps > cpu, or the one asked for (the thread count is measured in kindling.util.measure)."""

from __future__ import annotations

import os

import torch

from kindling.errors import UserError


def pick_device(name: str = "auto") -> torch.device:
    if name == "auto":
        if torch.cuda.is_available():
            # modulo: under srun a task may see only its own GPU (CUDA_VISIBLE_DEVICES of one)
            return torch.device("cuda", int(os.environ.get("LOCAL_RANK", 0)) % torch.cuda.device_count())
        if getattr(torch.backends, "mps", None) and torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    try:
        device = torch.device(name)
    except RuntimeError as exc:
        raise UserError(f"--device '{name}' is not a device; use auto, cpu, cuda, cuda:N or mps") from exc
    if device.type == "cuda" and not torch.cuda.is_available():
        raise UserError("--device cuda asked for, but no CUDA GPU is visible here; use --device cpu or auto")
    if device.type == "mps" and not (
        getattr(torch.backends, "mps", None) and torch.backends.mps.is_available()
    ):
        raise UserError("--device mps asked for, but MPS is not available here; use --device cpu or auto")
    return device
