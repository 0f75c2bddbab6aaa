"""The Signature: everything training fitted that a model needs at prediction time.

It travels inside the Bundle as JSON, so a model is never separated from its preprocessing.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass
class Signature:
    task: str  # classification | regression | multilabel
    input_kind: str  # image | tabular | text | vector
    input_shape: list[int]  # one sample, e.g. [1, 8, 8] (C, H, W) or [n_features]
    class_names: list[str] = field(default_factory=list)
    mean: list[float] = field(default_factory=list)  # per channel (images) or per feature
    std: list[float] = field(default_factory=list)
    extras: dict[str, Any] = field(default_factory=dict)  # source-specific fitted state (vocab, encoders)

    @property
    def num_outputs(self) -> int:
        if self.task in ("classification", "multilabel"):
            return len(self.class_names)
        return int(self.extras.get("num_targets", 1))

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> Signature:
        return cls(**{k: data[k] for k in cls.__dataclass_fields__ if k in data})
