"""Models: constructors that adapt to a data Signature, found through the `kindling.models` entry points."""

from kindling.models.registry import build, get, names

__all__ = ["build", "get", "names"]
