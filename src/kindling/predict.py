"""Predictor: Bundle -> preprocess -> forward -> labels / values. What predict and serve use.

    predictor = Predictor.load("runs/digits")
    predictor.predict_files(["seven.png"], top_k=3)
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from kindling.bundle import Bundle, load_bundle
from kindling.errors import UserError

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp", ".tif", ".tiff"}


def load_image(source, shape: list[int], name: str = "image") -> np.ndarray:
    """Any image (path or bytes; L, RGB, RGBA, P, CMYK, 16-bit) -> uint8 array of `shape` (C, H, W).

    Converted and resized as training did (bilinear), as seed 000's predict script does.
    """
    import io

    from PIL import Image, UnidentifiedImageError

    channels, height, width = shape
    try:
        img = Image.open(io.BytesIO(source) if isinstance(source, bytes) else source)
        img.load()
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
        raise UserError(f"{name} is not a readable image ({exc.__class__.__name__}: {exc}); pass a PNG or JPEG file") from exc
    except Image.DecompressionBombError as exc:
        raise UserError(f"{name} is too large to decode safely ({exc})") from exc
    if img.mode in ("I;16", "I;16B", "I;16L", "I"):
        arr = np.asarray(img, dtype=np.float64)
        img = Image.fromarray((arr / max(1.0, arr.max()) * 255).astype(np.uint8))
    if img.mode in ("RGBA", "LA", "P") and channels == 3:
        img = img.convert("RGBA")
        background = Image.new("RGBA", img.size, (255, 255, 255, 255))
        img = Image.alpha_composite(background, img)
    img = img.convert("L" if channels == 1 else "RGB")
    if img.size != (width, height):
        img = img.resize((width, height), Image.BILINEAR)
    arr = np.asarray(img, dtype=np.uint8)
    return arr[None] if channels == 1 else arr.transpose(2, 0, 1)


class Predictor:
    def __init__(self, bundle: Bundle, device: str = "cpu"):
        from kindling.data.transforms import make_preprocess, target_scale

        self.bundle, self.sig, self.device = bundle, bundle.signature, device
        self.preprocess = make_preprocess(self.sig, device)
        self.t_mean, self.t_std = target_scale(self.sig)

    @classmethod
    def load(cls, run: str | Path, device: str = "cpu") -> Predictor:
        return cls(load_bundle(run, device), device)

    # ------------------------------------------------------------------ inputs -> batch

    def load_input(self, path: str | Path) -> np.ndarray:
        """One file -> one raw sample (uint8 image or float vector) of the signature's shape."""
        path = Path(path)
        if not path.is_file():
            raise UserError(f"input {path} does not exist")
        if path.suffix.lower() == ".npy":
            return self._from_array(np.load(path, allow_pickle=False), str(path))
        if self.sig.input_kind != "image":
            raise UserError(f"{path}: this model takes {self.sig.input_kind} input, not an image file; pass a .npy array")
        return load_image(path, self.sig.input_shape, str(path))

    def _from_array(self, arr: np.ndarray, name: str) -> np.ndarray:
        shape = list(self.sig.input_shape)
        if list(arr.shape) != shape:
            if arr.size != int(np.prod(shape)):
                raise UserError(f"{name}: array of shape {list(arr.shape)} does not fit the model's input {shape}")
            arr = arr.reshape(shape)
        return arr

    # ------------------------------------------------------------------ forward

    def predict_batch(self, raw: np.ndarray, top_k: int = 3, lengths=None) -> list[dict]:
        """raw: (N, *input_shape) -> one dict per sample: label, label_name, probability, top_k (or value)."""
        import torch

        x = torch.from_numpy(np.ascontiguousarray(raw))
        with torch.no_grad():
            model = self.bundle.model
            out = model(self.preprocess(x), lengths) if getattr(model, "takes_lengths", False) else model(self.preprocess(x))
        if self.sig.task == "regression":
            values = (out.float().view(len(raw), -1)[:, 0] * self.t_std + self.t_mean).tolist()
            return [{"value": v} for v in values]
        if getattr(model, "outputs_log_probs", False):
            probs = out.float().exp()
        else:
            probs = torch.softmax(out.float(), dim=1)
        k = max(1, min(top_k, probs.shape[1]))
        top_p, top_i = probs.topk(k, dim=1)
        names = self.sig.class_names
        results = []
        for p_row, i_row in zip(top_p.tolist(), top_i.tolist()):
            tops = [{"label": i, "label_name": names[i], "probability": p} for p, i in zip(p_row, i_row)]
            results.append({"label": i_row[0], "label_name": names[i_row[0]], "probability": p_row[0], "top_k": tops})
        return results

    def predict_files(self, paths: list[str | Path], top_k: int = 3, batch_size: int = 256) -> list[dict]:
        results = []
        for lo in range(0, len(paths), batch_size):
            chunk = paths[lo : lo + batch_size]
            raw = np.stack([self.load_input(p) for p in chunk])
            for path, res in zip(chunk, self.predict_batch(raw, top_k)):
                results.append({"input": str(path), **res})
        return results
