"""The model registry: each model is a small constructor, found through the `kindling.models` entry points
(kindling's own in its pyproject.toml, another package's in its own) and built by name.

    def lenet(sig: Signature, **options) -> nn.Module: ...     # lenet = "kindling.models.classic:lenet"

`get(spec)` is the one lookup: a registered name, any torchvision classification model by name, or, for
a spec with ':' (`file.py:Name`, `package.module:Name`), the user's own code. `build(spec, sig, options)`
checks the options against the constructor's keyword arguments, so a typo is refused with a did-you-mean
instead of surfacing as a TypeError deep inside.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable

from kindling import plugins
from kindling.errors import UserError, did_you_mean, unknown
from kindling.models.usercode import constructor


def names() -> list[str]:
    """The registered model names (torchvision's are not listed), without importing any model module."""
    return sorted(plugins.found(plugins.MODELS))


def user_reference(spec: str) -> Callable:
    """The constructor for a model in the user's own code, `file.py:Name` or `package.module:Name`: the
    single place such a spec resolves (kindling.models.usercode imports it and records where it came from)."""

    return constructor(spec)


def get(spec: str) -> Callable:
    """The constructor `spec` names: a `kindling.models` entry, a torchvision model, or the user's code."""
    if ":" in spec:
        return user_reference(spec)
    plugin = plugins.found(plugins.MODELS).get(spec)
    if plugin is not None:
        return plugins.load(plugin)
    from kindling.models.vision import lookup  # lazy: torch

    ctor = lookup(spec)  # every torchvision classification model by name
    if ctor is not None:
        return ctor
    raise unknown("model", spec, names(), "see `kindling list models`")


def build(name: str, sig, options: dict | None = None):
    """Build model `name` for the signature's input shape and output count."""
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
