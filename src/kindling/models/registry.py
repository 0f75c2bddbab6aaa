"""The model registry: each model is a small registered constructor, built by name.

    @register("lenet")
    def lenet(sig: Signature, **options) -> nn.Module: ...

`build(name, sig, options)` checks the options against the constructor's keyword arguments, so a typo
is refused with a did-you-mean instead of surfacing as a TypeError deep inside.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable

from kindling.errors import UserError, did_you_mean, unknown
from kindling.optional import import_optional

_MODELS: dict[str, Callable] = {}
_FAMILIES = [
    "kindling.models.classic",
    "kindling.models.mlp",
    "kindling.models.text",
    "kindling.models.vision",
]


def register(name: str) -> Callable:
    def wrap(fn: Callable) -> Callable:
        if name in _MODELS:
            raise ValueError(f"model '{name}' registered twice")
        _MODELS[name] = fn
        return fn

    return wrap


def _load_families() -> None:
    for module in _FAMILIES:
        import_optional(module)


def names() -> list[str]:
    _load_families()
    return sorted(_MODELS)


def describe(name: str) -> str:
    doc = inspect.getdoc(_MODELS[name]) or ""
    return doc.splitlines()[0] if doc else ""


def get(name: str) -> Callable:
    _load_families()
    if name not in _MODELS:
        from kindling.models import vision

        ctor = vision.lookup(name)  # every torchvision classification model by name
        if ctor is not None:
            return ctor
        raise unknown("model", name, _MODELS, "see `kindling list models`")
    return _MODELS[name]


def build(name: str, sig, options: dict | None = None):
    """Build model `name` for the signature's input shape and output count."""
    if ":" in name:  # the user's own code: file.py:Name or package.module:Name
        from kindling.models import usercode

        return usercode.build(name, sig, options)
    ctor = get(name)
    options = dict(options or {})
    params = inspect.signature(ctor).parameters
    accepts_any = any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values())
    allowed = [p for p in params if p not in ("sig", "kwargs")]
    for key in options:
        if key not in allowed and not accepts_any:
            raise UserError(
                f"model '{name}' has no option '{key}'{did_you_mean(key, allowed)}; "
                f"its options: {', '.join(allowed) or 'none'}"
            )
    try:
        return ctor(sig, **options)
    except (TypeError, ValueError) as exc:
        raise UserError(f"model '{name}' cannot be built with options {options}: {exc}") from exc
