"""Models whose prediction is an average: a fold ensemble, and a model under test-time augmentation.

    model = build("ensemble", sig, {"members": [spec] * 5, "convention": "logits"})  # kindling cv --ensemble
    model, record = with_tta(model, sig, "light", task)                               # --tta

Both are plain nn.Modules, so the Bundle, evaluate, predict, serve and the ONNX export (one graph) take
them as any model. What is averaged is the Task's to say (`Task.average`): softmax probabilities for
classes, each label's sigmoid for multi-label, the values for regression; the result is a raw output of
the Task's own convention, so everything downstream reads it unchanged. A fold ensemble's weights are
its members' under the prefixes `fold0.`, `fold1.` ... of one safetensors file.
"""

from __future__ import annotations

from collections.abc import Callable

from torch import nn

from kindling.data.tta import views_for
from kindling.errors import UserError
from kindling.models.common import forward
from kindling.models.registry import build
from kindling.task import task_for

MAX_MEMBERS = 100  # a header is anyone's to write: a Bundle naming a million members is refused, not built


class Ensemble(nn.Module):
    """K models of the same inputs, their outputs averaged by `average` (a Task's)."""

    def __init__(self, members: list[nn.Module], average: Callable):
        super().__init__()
        self.size = len(members)
        for i, member in enumerate(members):
            self.add_module(f"fold{i}", member)
        self.average = average
        self.takes_lengths = bool(getattr(members[0], "takes_lengths", False))
        # every member averages its mirror image in its own forward: so does the ensemble (kindling.data.tta)
        self.averages_flips = all(getattr(m, "averages_flips", False) for m in members)

    def members(self) -> list[nn.Module]:
        return [getattr(self, f"fold{i}") for i in range(self.size)]

    def forward(self, x, lengths=None):
        return self.average([forward(m, x, lengths, self.takes_lengths) for m in self.members()])


class TestTimeAugmented(nn.Module):
    """`model` run on every view of a batch, its outputs averaged by `average` (a Task's)."""

    def __init__(self, model: nn.Module, views: list, average: Callable):
        super().__init__()
        self.model, self.views, self.average = model, views, average
        self.takes_lengths = bool(getattr(model, "takes_lengths", False))

    def forward(self, x, lengths=None):
        return self.average(
            [forward(self.model, view(x), lengths, self.takes_lengths) for _, view in self.views]
        )


def ensemble(sig, members: list, convention: str | None = None) -> nn.Module:
    """K models averaged into one (kindling cv --ensemble)

    `members`: model specs ({"name": ..., "options": ...}) built through the registry, or modules already
    built (a Bundle rebuilds each member from its own record, the user's code included); `convention`: how
    the members' outputs read (logits or log_probs), as training detected it."""
    if not isinstance(members, list) or not 1 <= len(members) <= MAX_MEMBERS:
        raise UserError(f"an ensemble holds 1 to {MAX_MEMBERS} members, not {_count(members)}")
    built = []
    for i, member in enumerate(members):
        if isinstance(member, nn.Module):
            built.append(member)
            continue
        if not isinstance(member, dict) or not isinstance(member.get("name"), str):
            raise UserError(f"ensemble member {i} is not a model spec ({{'name': ..., 'options': ...}})")
        if member["name"] == "ensemble" or "code" in member or ":" in member["name"]:
            raise UserError(
                f"ensemble member {i} ('{member['name'][:60]}') is an ensemble or your own code; "
                "build it from its Bundle (kindling.load)"
            )
        built.append(build(member["name"], sig, member.get("options") or {}))
    try:
        task = task_for(sig, convention=convention)
    except ValueError as exc:  # a convention the task does not have (an edited header)
        raise UserError(f"ensemble: {exc}") from exc
    return Ensemble(built, task.average)


def _count(members) -> str:
    return str(len(members)) if isinstance(members, list) else type(members).__name__


def with_tta(model: nn.Module, sig, augment: str, task) -> tuple[nn.Module, dict]:
    """`model` under test-time augmentation matched to its training augmentation (kindling.data.tta),
    and the record evaluate and predict print with their results."""
    views, record = views_for(augment, sig, model)
    record["averaged"] = task.averages
    return TestTimeAugmented(model, views, task.average).eval(), record
