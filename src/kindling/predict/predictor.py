"""Predictor: Bundle -> preprocess -> forward -> labels / values. What predict, serve and export use.

    predictor = Predictor.load("runs/digits")
    predictor.predict_files(["seven.png"], top_k=3)

Inputs of every kind become "samples" (a uint8 image C,H,W, a float vector, an encoded table row, or a
text string); `predict_samples` stacks any list of them into one forward pass, which is what the
server's micro-batcher and the batched `kindling predict` both call.
"""

from __future__ import annotations

import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

from kindling.bundle.files import Bundle, load_bundle
from kindling.data.images.load import DEFAULT_MAX_PIXELS
from kindling.errors import UserError, summarise
from kindling.task import task_of_bundle
from kindling.task.held import read_held


class Predictor:
    def __init__(self, bundle: Bundle, device: str = "cpu", tta: bool = False):
        """`tta`: predictions averaged over the flips and shifts the model trained with
        (kindling.data.tta); `self.tta` records which views, for the output."""

        self.bundle, self.sig, self.device = bundle, bundle.signature, device
        self.task = task_of_bundle(bundle)  # what the outputs mean, and the input kind's hooks
        self.preprocess = self.task.inputs.preprocess(device)
        self.model, self.tta = bundle.model, None
        if tta:
            from kindling.models.averaged import with_tta  # lazy: torch

            augment = (bundle.meta.get("data") or {}).get("augment") or "none"
            self.model, self.tta = with_tta(bundle.model, self.sig, augment, self.task)

    @classmethod
    def load(
        cls, run: str | Path, device: str = "cpu", trust_code: bool = False, tta: bool = False
    ) -> Predictor:
        return cls(load_bundle(run, device, trust_code), device, tta)

    # ------------------------------------------------------------------ inputs -> samples

    def load_input(self, path: str | Path) -> np.ndarray:
        """One file -> one raw sample (uint8 image or float vector) of the signature's shape."""
        path = Path(path)
        if not path.is_file():
            raise UserError(f"input {path} does not exist")
        if path.suffix.lower() == ".npy":
            try:
                arr = np.load(path, allow_pickle=False)
            except ValueError as exc:
                raise UserError(f"{path} is not a plain .npy array ({exc})") from exc
            return self._from_array(arr, str(path))
        return self.task.inputs.read_file(path)

    def load_image_bytes(
        self, data: bytes, name: str, max_pixels: int | None = DEFAULT_MAX_PIXELS
    ) -> np.ndarray:
        """Uploaded bytes -> one image sample; UserError (or ImageTooLarge) for anything else."""
        return self.task.inputs.read_image(data, name, max_pixels)

    def _from_array(self, arr: np.ndarray, name: str) -> np.ndarray:
        shape = list(self.sig.input_shape)
        if list(arr.shape) != shape:
            if arr.size != int(np.prod(shape)):
                raise UserError(
                    f"{name}: array of shape {list(arr.shape)} does not fit the model's input {shape}"
                )
            arr = arr.reshape(shape)
        return arr

    def columns(self) -> list[str]:
        """The input columns of a table model (what a request's rows must contain)."""
        extras = self.sig.extras
        for key in ("columns", "feature_columns", "input_columns"):
            if isinstance(extras.get(key), list):
                return [str(c) for c in extras[key]]
        return []

    def encode_rows(self, records: list[dict]) -> list[np.ndarray]:
        """Table rows (column -> value) -> one encoded float vector per row, with the fitted encoders.

        `tabular` models use the tables source's encoders; `vector` models (the bundled tables) take
        their columns in order. A missing column, or one the model never had (a typo, usually), is a
        UserError naming it; the target and columns dropped in training are allowed and ignored.
        """
        if not self.task.inputs.table_rows:
            raise UserError(f"this model takes {self.sig.input_kind} input, not table rows")
        columns = self.columns() or [str(i) for i in range(self.sig.input_shape[0])]
        extras = self.sig.extras
        allowed = set(columns) | {extras.get("target")} | set(extras.get("dropped") or {})
        allowed |= set(extras.get("label_columns") or [])  # a multi-label table's 0/1 columns
        for i, row in enumerate(records):
            missing = [c for c in columns if c not in row]
            extra = [c for c in row if c not in allowed]
            if missing or extra:
                parts = [
                    f"missing column(s) {summarise(missing, 'columns')}" if missing else "",
                    f"unknown column(s) {summarise(extra, 'columns')}" if extra else "",
                ]
                raise UserError(
                    f"row {i}: {'; '.join(p for p in parts if p)}; the model's columns are "
                    f"{summarise(columns, 'columns')} (all of them: GET /metadata or the run's bundle.json)"
                )
        return self.task.inputs.encode_rows(records, columns)

    # ------------------------------------------------------------------ forward

    def predict_samples(self, samples: list, top_k: int = 3) -> list[dict]:
        """Any list of samples of this model's kind -> one result dict each, in one forward pass."""
        raw, lengths = self.task.inputs.collate(samples)
        return self.predict_batch(raw, top_k, lengths)

    def predict_batch(self, raw, top_k: int = 3, lengths=None) -> list[dict]:
        """raw: (N, *input_shape) -> one dict per sample: label, label_name, probability, top_k (or value)."""
        import torch  # lazy: torch

        from kindling.models.common import forward  # lazy: torch

        x = raw if isinstance(raw, torch.Tensor) else torch.from_numpy(np.ascontiguousarray(raw))
        if lengths is not None and not isinstance(lengths, torch.Tensor):
            lengths = torch.as_tensor(np.asarray(lengths), dtype=torch.int64)
        with torch.no_grad():
            out = forward(self.model, self.preprocess(x), lengths)
        results = self.task.results(out, top_k)
        if self.tta is not None:  # each prediction says it is an average over the views
            for result in results:
                result["tta_views"] = len(self.tta["views"])
        return results

    def predict_files(
        self, paths: list[str | Path], top_k: int = 3, batch_size: int = 256, progress: bool = False
    ) -> list[dict]:
        """Files -> results, `batch_size` at a time; images decode on a few threads while the model waits."""

        bar = _progress(len(paths), progress)
        results = []
        with ThreadPoolExecutor(max_workers=4) as pool:
            for lo in range(0, len(paths), batch_size):
                chunk = paths[lo : lo + batch_size]
                raw = np.stack(list(pool.map(self.load_input, chunk)))
                for path, res in zip(chunk, self.predict_batch(raw, top_k)):
                    results.append({"input": str(path), **res})
                if bar is not None:
                    bar.update(len(chunk))
        if bar is not None:
            bar.close()
        return results

    def predict_texts(
        self, texts: list[str], top_k: int = 3, batch_size: int = 256, progress: bool = False
    ) -> list[dict]:
        bar = _progress(len(texts), progress)
        results = []
        for lo in range(0, len(texts), batch_size):
            chunk = texts[lo : lo + batch_size]
            for text, res in zip(chunk, self.predict_samples(chunk, top_k)):
                results.append({"input": text, **res})
            if bar is not None:
                bar.update(len(chunk))
        if bar is not None:
            bar.close()
        return results

    # ------------------------------------------------------------------ the Python API's face

    @property
    def classes(self) -> list[str]:
        """The class names, in the order of the model's outputs ([] for regression)."""
        return list(self.sig.class_names)

    @property
    def signature(self):
        """What the model takes and gives: input kind and shape, classes, normalisation (the Bundle's)."""
        return self.sig

    def predict(self, inputs, top_k: int = 3, batch_size: int = 256) -> list[dict]:
        """Predictions for what a Python user holds, by the model's input kind (kindling.task.held): a
        DataFrame, dicts, an array or tensor, or a CSV path for tables; PIL images, arrays, tensors or
        paths for images; strings for text. One dict per input, named in its "input"."""
        held = read_held(self.task.inputs, inputs, self.columns())
        if held.files is not None:
            return self.predict_files(held.files, top_k, batch_size)
        samples = self.encode_rows(held.rows) if held.rows is not None else held.samples
        results = []
        for lo in range(0, len(samples), batch_size):
            results += self.predict_samples(samples[lo : lo + batch_size], top_k)
        return [{"input": name, **result} for name, result in zip(held.names, results)]


def _progress(total: int, enabled: bool):
    """A tqdm bar on stderr when asked for and stderr is a terminal (never in pipes or logs)."""

    if not enabled or not sys.stderr.isatty():
        return None
    from tqdm import tqdm  # lazy: tqdm

    return tqdm(total=total, desc="predict", unit="input", file=sys.stderr, dynamic_ncols=True, leave=False)
