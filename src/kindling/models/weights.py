"""Pretrained weights for a model, loaded safely: safetensors, or torch.load(weights_only=True).

`--pretrained PATH` takes a .safetensors file or a .pth/.pt state dict (also wrapped as
{"state_dict": ...} or {"model": ...}, and with DDP's "module." prefixes). `--pretrained imagenet`
(or a torchvision weights name such as IMAGENET1K_V1) fetches torchvision's weights when online.
Tensors whose shape differs from the model's (the replaced head) are left as initialised; a grey
stem takes the RGB weights summed. A file matching too little of the model is refused.
"""

from __future__ import annotations

import pickle
import zipfile
from pathlib import Path
from urllib.parse import urlparse

import torch
from torch import nn

from kindling.errors import UserError

ONLINE_NAMES = {"imagenet", "default"}


def read_state(path: str | Path) -> dict[str, torch.Tensor]:
    """A state dict from `path`, never unpickling code."""
    path = Path(path).expanduser()
    if not path.is_file():
        raise UserError(
            f"--pretrained {path} does not exist; pass a .pth/.pt/.safetensors weights file or 'imagenet'"
        )
    if path.suffix == ".safetensors":
        from safetensors.torch import load_file  # lazy: safetensors

        try:
            return load_file(str(path))
        except Exception as exc:  # safetensors raises its own types for damaged headers
            raise UserError(f"--pretrained {path} is not a readable safetensors file ({exc})") from exc

    if not zipfile.is_zipfile(path):  # torch.save has written zip archives since PyTorch 1.6
        raise UserError(
            f"--pretrained {path} is truncated or not a PyTorch weights file (not a torch.save archive)"
        )
    try:
        obj = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        text = " ".join(str(exc).split())
        reason = text.split("WeightsUnpickler error:", 1)[-1].split(". ")[0].strip()[:120]
        raise UserError(
            f"--pretrained {path} holds more than weights (refused to unpickle it: {reason}); "
            "save model.state_dict() instead of the whole model"
        ) from exc
    except (RuntimeError, EOFError, ValueError, OSError) as exc:
        first = (str(exc).strip().splitlines() or ["unreadable"])[0][:160]
        raise UserError(f"--pretrained {path} is truncated or not a PyTorch weights file ({first})") from exc
    return _unwrap(obj, path)


def _unwrap(obj, path: Path) -> dict[str, torch.Tensor]:
    if isinstance(obj, dict):
        for key in ("state_dict", "model_state_dict", "model"):
            if isinstance(obj.get(key), dict):
                obj = obj[key]
                break
    if not isinstance(obj, dict) or not any(isinstance(v, torch.Tensor) for v in obj.values()):
        raise UserError(f"--pretrained {path} holds no state dict of tensors")
    return {k.removeprefix("module."): v for k, v in obj.items() if isinstance(v, torch.Tensor)}


def is_online(source: str) -> bool:
    """Whether `--pretrained source` names torchvision's published weights ('imagenet', IMAGENET1K_V1)."""
    return source.lower() in ONLINE_NAMES or (source.isupper() and not Path(source).exists())


def torchvision_weights(model_name: str, which: str):
    """The torchvision weights enum member `which` ('imagenet': the default) names for `model_name`."""
    import torchvision.models as tvm  # lazy: torchvision

    try:
        enum = tvm.get_model_weights(model_name)
    except (ValueError, KeyError) as exc:
        raise UserError(
            f"torchvision has no pretrained weights for '{model_name}'; pass --pretrained PATH"
        ) from exc
    weights = enum.DEFAULT if which.lower() in ONLINE_NAMES else getattr(enum, which, None)
    if weights is None:
        names = ", ".join(w.name for w in enum)
        raise UserError(
            f"--pretrained {which}: '{model_name}' has weights {names} (or 'imagenet' for the default)"
        )
    return weights


def hub_file(weights) -> Path:
    """Where torch's hub cache keeps `weights` once downloaded ($TORCH_HOME/hub/checkpoints/...)."""

    return Path(torch.hub.get_dir()) / "checkpoints" / Path(urlparse(weights.url).path).name


def fetch_torchvision(model_name: str, which: str) -> dict[str, torch.Tensor]:
    """torchvision's published weights for `model_name` (downloaded into torch's hub cache)."""
    weights = torchvision_weights(model_name, which)
    try:
        return weights.get_state_dict(progress=False, check_hash=True)
    except Exception as exc:  # offline: URLError and friends
        first = " ".join(str(exc).split())[:120]
        path = hub_file(weights)
        raise UserError(
            f"{model_name} {weights.name} weights are not in the torch hub cache ({path}) and could not be "
            f"downloaded ({first}); fetch {weights.url} into {path.parent} on a machine online (TORCH_HOME "
            "moves the cache), or pass --pretrained PATH to a local .pth/.safetensors file"
        ) from exc


def ensure_available(model_name: str, source: str) -> None:
    """Refuse, in one line and before any training work, torchvision's weights when they are not in the
    hub cache and cannot be downloaded now (offline); when they can, they are downloaded now, into the
    cache that fit start reads. A weights file is not read twice: models.finetune.check saw it exists."""
    if is_online(source) and not hub_file(torchvision_weights(model_name, source)).is_file():
        fetch_torchvision(model_name, source)


def load_into(model: nn.Module, state: dict[str, torch.Tensor], source: str) -> tuple[int, list[str]]:
    """Copy matching tensors of `state` into `model` -> (tensors loaded, names left as initialised)."""
    own = model.state_dict()
    loaded, skipped = 0, []
    with torch.no_grad():
        for key, target in own.items():
            src = state.get(key)
            if src is None:
                skipped.append(key)
            elif src.shape == target.shape:
                target.copy_(src)
                loaded += 1
            elif src.ndim == 4 and src.shape[0] == target.shape[0] and src.shape[2:] == target.shape[2:]:
                c = target.shape[1]  # a stem adapted to other input channels: spread the summed weights
                target.copy_(src.sum(1, keepdim=True).repeat(1, c, 1, 1) / c)
                loaded += 1
            else:
                skipped.append(key)
    if loaded < len(own) / 2:
        first = ", ".join(skipped[:3])
        raise UserError(
            f"--pretrained {source} does not fit this model: only {loaded} of {len(own)} tensors match "
            f"(e.g. missing {first}); pass weights saved from the same architecture"
        )
    return loaded, skipped


def load_pretrained(model: nn.Module, model_name: str, source: str) -> str:
    """Load `source` (a path, or 'imagenet') into `model`; return a one-line summary."""
    state = fetch_torchvision(model_name, source) if is_online(source) else read_state(source)
    loaded, skipped = load_into(model, state, source)
    kept = (
        f"; left as initialised: {', '.join(skipped[:4])}{' ...' if len(skipped) > 4 else ''}"
        if skipped
        else ""
    )
    return f"pretrained weights from {source}: {loaded} tensors loaded{kept}"
