"""DataModule: what every data source builds (the Signature and its train / val / test splits).

Its own module, below the `kindling.data` package, so that what works on a built DataModule (the
folds of `kindling cv`, the sources) imports it without the registry that builds one.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from kindling.data.signature import Signature

if TYPE_CHECKING:  # torch-free: `kindling --help` and `list` must not load torch
    from kindling.data.memory import Split


@dataclass
class DataModule:
    signature: Signature
    train: Split
    val: Split | None
    test: Split | None
    description: str = ""

    def split(self, name: str) -> Split | None:
        return {"train": self.train, "val": self.val, "test": self.test}[name]
