"""Models: a registry of constructors that adapt to a data Signature."""

from kindling.models.registry import build, names, register

__all__ = ["build", "names", "register"]
