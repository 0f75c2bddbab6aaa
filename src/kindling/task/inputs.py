"""The input kinds: how a batch of raw inputs becomes what the model takes, per kind of input.

    inputs = inputs_for(sig)               # or task.inputs
    preprocess = inputs.preprocess(device) # uint8 images / float features / int64 tokens -> model input
    x, lengths = inputs.collate(samples)   # predict's samples -> one batch
    inputs.describe()                      # export's "preprocess" section

The same preprocessing at training and prediction time: the trainer, evaluate, predict, export and
the LR finder all build it here. Data sources still know their own kind (they make it); this module is
where the rest of kindling asks what it means. torch is imported inside the methods.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from kindling.data.tables import encode_records
from kindling.errors import UserError


class Inputs:
    """Float feature vectors (`vector`), normalised by the Signature's per-feature mean and std."""

    kind = "vector"
    dtype = "float32"  # what the model's (exported) input holds
    view = (1, -1)  # how per-feature mean / std broadcast over a batch
    random_name = "random inputs"
    file_suffixes: frozenset[str] = frozenset({".npy"})  # the files predict reads, one sample each
    table_rows = True  # rows of a table (CSV, JSON rows) are samples
    text_lines = False  # lines of text are samples
    pictures = False  # samples are pictures: the report and TensorBoard show them
    json_field = "rows"  # what a JSON request to the server carries its samples in (None: uploads only)

    def __init__(self, sig):
        self.sig = sig

    # ------------------------------------------------------------------ raw inputs -> samples

    def read_file(self, path: Path):
        """A file other than .npy -> one raw sample; only images have such files. A table model's rows
        come in a table file (`kindling predict RUN rows.csv`) or a .npy array of them."""
        raise UserError(
            f"{path}: this model takes table rows, not {path.suffix or 'this'} files; pass a CSV (or TSV, "
            "Parquet, JSON lines) file of its columns: kindling predict RUN rows.csv"
        )

    def read_image(self, data: bytes, name: str, max_pixels: int | None):
        """Uploaded image bytes -> one raw sample; only image models take them."""
        raise UserError(f"this model takes {self.sig.input_kind} input, not an image")

    def encode_rows(self, records: list[dict], columns: list[str]) -> list:
        """Checked table rows -> one float vector each: the columns in order."""
        import numpy as np  # lazy: numpy

        if not self.table_rows:
            raise UserError(f"this model takes {self.sig.input_kind} input, not table rows")
        out = []
        for i, row in enumerate(records):
            try:
                out.append(np.array([float(row[c]) for c in columns], dtype=np.float32))
            except (TypeError, ValueError) as exc:
                raise UserError(f"row {i}: every column must be a number ({exc})") from exc
            if not np.isfinite(out[-1]).all():
                raise UserError(f"row {i}: values must be finite numbers")
        return out

    # ------------------------------------------------------------------ samples -> the model's input

    def preprocess(self, device="cpu") -> Callable:
        """x (uint8 images or float features, on any device) -> model input on `device`."""
        import torch  # lazy: torch

        sig = self.sig
        if not sig.mean:
            return lambda x: x.to(device, non_blocking=True)
        std = torch.tensor(sig.std, dtype=torch.float32, device=device).view(self.view)
        mean = torch.tensor(sig.mean, dtype=torch.float32, device=device).view(self.view)
        # (x / 255 - mean) / std folded into one multiply and one subtract, in place
        scale_u8, scale_f = 1.0 / (255.0 * std), 1.0 / std
        shift = mean / std
        device = torch.device(device)

        def preprocess(x: torch.Tensor) -> torch.Tensor:
            if x.device != device:
                x = x.to(device, non_blocking=True)
            scale = scale_u8 if x.dtype == torch.uint8 else scale_f
            return x.float().mul_(scale).sub_(shift) if x.dtype != torch.float32 else x.mul(scale).sub_(shift)

        return preprocess

    def collate(self, samples: list) -> tuple:
        """Predict's samples (arrays of the input shape) -> (raw batch, lengths or None)."""
        import numpy as np  # lazy: numpy

        return np.stack(samples), None

    def random_batch(self, n: int, generator) -> tuple:
        """n random raw inputs of the right shape and kind -> (x, lengths or None): export's stand-in."""
        import torch  # lazy: torch

        return torch.randn((n, *self.sig.input_shape), generator=generator), None

    def blank_batch(self, n: int) -> tuple:
        """n constant raw inputs as numpy -> (x, lengths or None): what the server's tuning times."""
        import numpy as np  # lazy: numpy

        dtype = np.uint8 if self.pictures else np.float32
        return np.zeros((n, *self.sig.input_shape), dtype), None

    def describe(self) -> dict:
        """How to get from a raw input to the model's input, for a reader without kindling."""
        pre: dict = {"kind": self.sig.input_kind}
        if self.sig.mean:
            pre.update({"mean": self.sig.mean, "std": self.sig.std, "formula": "input = (x - mean) / std"})
        return pre


class Tabular(Inputs):
    """Table rows encoded by the tables source's fitted encoders: float vectors from there on."""

    kind = "tabular"

    def encode_rows(self, records: list[dict], columns: list[str]) -> list:
        import numpy as np  # lazy: numpy
        import pandas as pd  # lazy: pandas

        encoded = encode_records(self.sig, pd.DataFrame.from_records(records))
        return list(np.asarray(encoded, dtype=np.float32))


class Image(Inputs):
    """uint8 images (C, H, W), scaled to [0, 1] and normalised per channel."""

    kind = "image"
    view = (1, -1, 1, 1)
    table_rows = False
    pictures = True
    json_field = None

    @property
    def file_suffixes(self) -> frozenset[str]:
        from kindling.data.images.load import IMAGE_SUFFIXES  # lazy: numpy

        return frozenset(IMAGE_SUFFIXES | {".npy"})

    def read_file(self, path: Path):
        from kindling.data.images.load import load_image  # lazy: numpy

        return load_image(path, self.sig.input_shape, str(path), steps=self.sig.extras.get("image_steps"))

    def read_image(self, data: bytes, name: str, max_pixels: int | None):
        from kindling.data.images.load import load_image  # lazy: numpy

        if not data:
            raise UserError(f"{name} is empty (0 bytes); send a PNG or JPEG file")
        return load_image(data, self.sig.input_shape, name, max_pixels, self.sig.extras.get("image_steps"))

    def random_batch(self, n: int, generator) -> tuple:
        import torch  # lazy: torch

        shape = (n, *self.sig.input_shape)
        return torch.randint(0, 256, shape, dtype=torch.uint8, generator=generator), None

    def describe(self) -> dict:
        channels, height, width = self.sig.input_shape
        pre = {
            "kind": self.kind,
            "decode": "RGB" if channels == 3 else "L (greyscale)",
            "alpha": "composited on white",
            "resize": {"height": height, "width": width, "filter": "bilinear"},
            "layout": "NCHW",
            "scale": 1 / 255,
        }
        if self.sig.mean:
            pre.update(
                {"mean": self.sig.mean, "std": self.sig.std, "formula": "input = (x * scale - mean) / std"}
            )
        return pre


class Text(Inputs):
    """int64 token ids from the fitted vocabulary, padded, with each row's true length."""

    kind = "text"
    dtype = "int64"
    random_name = "random tokens"
    table_rows = False
    text_lines = True
    json_field = "texts"

    def preprocess(self, device="cpu") -> Callable:
        return lambda x: x.to(device, non_blocking=True)

    def collate(self, samples: list) -> tuple:
        from kindling.data.text import encode_texts  # lazy: numpy

        return encode_texts(self.sig, list(samples))

    def random_batch(self, n: int, generator) -> tuple:
        import torch  # lazy: torch

        vocab = max(2, len(self.sig.extras.get("vocab", [])) or 2)
        shape = (n, *self.sig.input_shape)
        x = torch.randint(1, vocab, shape, dtype=torch.int64, generator=generator)
        return x, torch.full((n,), self.sig.input_shape[0], dtype=torch.int64)

    def blank_batch(self, n: int) -> tuple:
        import numpy as np  # lazy: numpy

        length = self.sig.input_shape[0]
        return np.ones((n, length), np.int64), np.full(n, length)

    def describe(self) -> dict:
        return {"kind": self.kind}


INPUT_KINDS: dict[str, type[Inputs]] = {k.kind: k for k in (Inputs, Tabular, Image, Text)}


def inputs_for(sig) -> Inputs:
    """The input kind of a Signature; an unknown kind reads as plain float vectors."""
    return INPUT_KINDS.get(sig.input_kind, Inputs)(sig)


def make_preprocess(sig, device="cpu"):
    """Batch preprocessing built from the Signature, the same function at training and prediction time:
    x (uint8 images, float features or int64 tokens, on any device) -> model input on `device`."""
    return inputs_for(sig).preprocess(device)
