"""What a Python user holds, as the samples of a model's input kind: what `Predictor.predict` and
`Run.predict` take.

    held = read_held(task.inputs, inputs, columns)   # -> Held: names, and rows, samples or files

By the model's input kind:
- tables: a DataFrame (or one row as a Series), a dict or a list of dicts (column -> value), a NumPy
  array or tensor of any float or int dtype holding one row or rows of the model's columns in order,
  or the path of a CSV / TSV / Parquet / JSON-lines file (or .npy) of them;
- images: PIL images, image files' paths, or arrays / tensors of one image or a batch: (C, H, W) or
  (N, C, H, W) of the model's own shape as uint8 (0-255) or float (0-1, as ToTensor gives), or any
  other size and layout a picture comes in ((H, W), (H, W, C)), which is decoded as a file would be
  (channels converted, resized);
- text: a string, a list of strings, or a text file's path (one text a line).
Anything else is one UserError line naming what the model takes. The pictures and odd-sized arrays
go through the model's own image reader (`inputs.read_image`), so they are converted and resized as
training did and as `kindling predict` does for a file.
"""

from __future__ import annotations

import io
from dataclasses import dataclass, field
from pathlib import Path

from kindling.data.tables import read_table
from kindling.errors import UserError
from kindling.task.inputs import Inputs
from kindling.util.fileio import NotDecodable, read_text_checked

TABLE_FILES = {".csv", ".tsv", ".parquet", ".json", ".jsonl", ".xlsx"}


@dataclass
class Held:
    """The inputs as one of: table rows to encode, raw samples, or files to read; each with its name."""

    names: list[str]
    rows: list[dict] | None = None  # table rows (column -> value), encoded with the fitted encoders
    samples: list = field(default_factory=list)  # raw samples: uint8 / float images, float vectors, texts
    files: list[Path] | None = None  # image files or .npy arrays, read by the model's reader


def read_held(inputs: Inputs, held, columns: list[str]) -> Held:
    """`held` (see the module's docstring) -> what the Predictor runs; `columns` are a table model's."""
    if inputs.text_lines:
        return _texts(inputs, held)
    if inputs.pictures:
        return _images(inputs, held)
    return _rows(inputs, held, columns)


# ---------------------------------------------------------------- what a thing is


def _type_name(obj) -> str:
    return type(obj).__name__


def _is_frame(obj) -> bool:
    return type(obj).__module__.split(".")[0] == "pandas" and hasattr(obj, "columns")


def _is_series(obj) -> bool:
    return type(obj).__module__.split(".")[0] == "pandas" and hasattr(obj, "to_dict") and not _is_frame(obj)


def _is_array(obj) -> bool:
    """A NumPy array or a tensor (anything with a shape and a dtype that is not a DataFrame)."""
    return hasattr(obj, "shape") and hasattr(obj, "dtype") and not _is_frame(obj) and not _is_series(obj)


def _is_picture(obj) -> bool:
    return type(obj).__module__.split(".")[0] == "PIL" and hasattr(obj, "convert")


def _as_numpy(obj):
    """A NumPy array of a tensor (any device) or an array; refused if not numbers."""
    import numpy as np  # lazy: numpy only when predicting

    arr = obj.detach().cpu().numpy() if hasattr(obj, "detach") else np.asarray(obj)
    if arr.dtype.kind not in "biuf" and arr.dtype != object:
        raise UserError(f"an array of {arr.dtype} is not numbers; pass a float or int array")
    return arr


def _items(held) -> list:
    return list(held) if isinstance(held, (list, tuple)) else [held]


# ---------------------------------------------------------------- tables


def _takes_rows(inputs: Inputs, columns: list[str]) -> str:
    width = len(columns) or inputs.sig.input_shape[0]
    return (
        f"this model takes table rows: a DataFrame, a dict or a list of dicts (column -> value), a NumPy "
        f"array or tensor of shape (N, {width}) (its columns in order), or a CSV file's path"
    )


def _rows(inputs: Inputs, held, columns: list[str]) -> Held:
    if _is_frame(held):
        return _frame_rows(held, "row")
    if _is_series(held) or isinstance(held, dict):
        return Held(["row 0"], rows=[dict(held.to_dict() if _is_series(held) else held)])
    if isinstance(held, (str, Path)):
        return _table_file(inputs, Path(held), columns)
    if _is_array(held):
        return _array_rows(inputs, _as_numpy(held), columns)
    items = _items(held)
    if items and all(isinstance(i, dict) for i in items):
        return Held([f"row {i}" for i in range(len(items))], rows=[dict(i) for i in items])
    if items and all(isinstance(i, (str, Path)) for i in items):
        parts = [_table_file(inputs, Path(i), columns) for i in items]
        return Held(
            [n for p in parts for n in p.names],
            rows=[r for p in parts for r in p.rows or []],
            samples=[s for p in parts for s in p.samples],
        )
    if items and all(isinstance(i, (list, tuple, int, float)) or _is_array(i) for i in items):
        try:
            return _array_rows(inputs, _as_numpy([_as_numpy(i) for i in items]), columns)
        except ValueError:  # rows of different lengths
            pass
    got = _type_name(held) if not items else f"a list of {_type_name(items[0])}"
    raise UserError(f"{_takes_rows(inputs, columns)}; got {got}")


def _frame_rows(frame, prefix: str) -> Held:
    rows = frame.to_dict("records")
    return Held(
        [f"{prefix} {i}" for i in range(len(rows))], rows=[{str(k): v for k, v in r.items()} for r in rows]
    )


def _table_file(inputs: Inputs, path: Path, columns: list[str]) -> Held:
    if not path.is_file():
        what = "is a folder" if path.is_dir() else "does not exist"
        raise UserError(f"input {path} {what}; {_takes_rows(inputs, columns)}")
    if path.suffix.lower() == ".npy":
        import numpy as np  # lazy: numpy only when predicting

        try:
            arr = np.load(path, allow_pickle=False)
        except ValueError as exc:
            raise UserError(f"{path} is not a plain .npy array ({exc})") from exc
        return _array_rows(inputs, arr, columns, str(path))
    if path.suffix.lower() not in TABLE_FILES:
        raise UserError(
            f"{path}: this model takes table rows, not a {path.suffix or 'suffix-less'} file; pass a CSV, "
            "TSV, Parquet or JSON-lines file of its columns"
        )
    return _frame_rows(read_table(path), "row")


def _array_rows(inputs: Inputs, arr, columns: list[str], name: str = "row") -> Held:
    """Numbers (one row, or rows) -> table rows of the model's columns in order, or, for a model of plain
    feature vectors, the vectors themselves."""
    import numpy as np  # lazy: numpy only when predicting

    if arr.ndim == 1:
        arr = arr[None]
    width = len(columns) or int(np.prod(inputs.sig.input_shape))
    if arr.ndim != 2 or arr.shape[1] != width:
        raise UserError(
            f"an array of shape {tuple(arr.shape)} does not fit this model's rows of {width} columns; "
            f"{_takes_rows(inputs, columns)}"
        )
    names = [f"{name} {i}" for i in range(len(arr))]
    if inputs.kind == "tabular" and columns:  # raw column values: the fitted encoders make the features
        return Held(names, rows=[dict(zip(columns, row)) for row in arr.tolist()])
    if arr.dtype == object:
        raise UserError(
            f"an array of this model's features must hold numbers; {_takes_rows(inputs, columns)}"
        )
    values = arr.astype(np.float32)
    if not np.isfinite(values).all():
        raise UserError("an array of features holds NaN or infinite values; pass finite numbers")
    return Held(names, samples=list(values.reshape(len(arr), *inputs.sig.input_shape)))


# ---------------------------------------------------------------- images


def _takes_images(inputs: Inputs) -> str:
    shape = ", ".join(map(str, inputs.sig.input_shape))
    return (
        f"this model takes images: PIL images, image files' paths, or arrays / tensors of shape ({shape}) "
        f"or (N, {shape}) (uint8 0-255 or float 0-1)"
    )


def _images(inputs: Inputs, held) -> Held:
    if _is_array(held):
        arr = _as_numpy(held)
        shape = tuple(inputs.sig.input_shape)
        if arr.ndim == 3 and shape[0] == 1 and arr.shape[1:] == shape[1:]:  # greyscale (N, H, W): MNIST's X
            arr = arr[:, None]
        if arr.ndim == 4 and arr.shape[1:] == shape:  # a batch of the model's own shape
            return Held([f"image {i}" for i in range(len(arr))], samples=list(_pixels(arr)))
        if arr.ndim == 4:  # a batch of pictures of another size or layout
            return _images(inputs, list(arr))
    items = _items(held)
    if items and all(isinstance(i, (str, Path)) for i in items):  # files only: decoded in batches
        files = [f for item in items for f in _image_files(inputs, Path(item))]
        return Held([str(f) for f in files], files=files)
    names, samples = [], []
    for i, item in enumerate(items):
        if isinstance(item, (str, Path)):
            for file in _image_files(inputs, Path(item)):
                names.append(str(file))
                samples.append(_image_file(inputs, file))
        elif _is_picture(item) or _is_array(item):
            names.append(f"image {i}")
            samples.append(_one_image(inputs, item, f"image {i}"))
        else:
            raise UserError(f"{_takes_images(inputs)}; got {_type_name(item)}")
    return Held(names, samples=samples)


def _image_file(inputs: Inputs, path: Path):
    """One image file (or .npy array of the model's shape) -> one sample."""
    if path.suffix.lower() != ".npy":
        return inputs.read_file(path)
    import numpy as np  # lazy: numpy only when predicting

    try:
        arr = np.load(path, allow_pickle=False)
    except ValueError as exc:
        raise UserError(f"{path} is not a plain .npy array ({exc})") from exc
    return _one_image(inputs, arr, str(path))


def _image_files(inputs: Inputs, path: Path) -> list[Path]:
    """An image file, or a folder's image files (searched recursively, sorted)."""
    if path.is_dir():
        found = sorted(p for p in path.rglob("*") if p.is_file() and p.suffix.lower() in inputs.file_suffixes)
        if not found:
            raise UserError(f"folder {path} has no image files; {_takes_images(inputs)}")
        return found
    if not path.is_file():
        raise UserError(f"input {path} does not exist; {_takes_images(inputs)}")
    return [path]


def _pixels(arr):
    """Pixel values as the model's preprocessing takes them: uint8 0-255, or float32 0-1."""
    import numpy as np  # lazy: numpy only when predicting

    if arr.dtype == np.uint8:
        return arr
    if arr.dtype.kind == "f":
        return arr.astype(np.float32)
    if arr.dtype.kind in "biu" and arr.size and (arr.min() < 0 or arr.max() > 255):
        raise UserError(f"an image array of {arr.dtype} holds values outside 0-255; pass uint8 or float 0-1")
    return arr.astype(np.uint8)


def _one_image(inputs: Inputs, item, name: str):
    """One picture (PIL image, or an array of the model's shape or of any picture's) -> one sample."""

    import numpy as np  # lazy: numpy only when predicting

    if _is_array(item):
        arr = _as_numpy(item)
        if tuple(arr.shape) == tuple(inputs.sig.input_shape):
            return _pixels(arr)
        item = _picture_of(arr, name, inputs)
    buffer = io.BytesIO()
    item.save(buffer, format="PNG", compress_level=0)  # read back by the model's own image reader
    return np.asarray(inputs.read_image(buffer.getvalue(), name, None))


def _picture_of(arr, name: str, inputs: Inputs):
    """An array of another size or layout ((H, W), (H, W, C) or (C, H, W)) -> a PIL image."""
    import numpy as np  # lazy: numpy and PIL only when predicting
    from PIL import Image  # lazy: PIL

    if arr.ndim == 3 and arr.shape[0] in (1, 3, 4) and arr.shape[-1] not in (1, 3, 4):
        arr = arr.transpose(1, 2, 0)  # (C, H, W) -> (H, W, C)
    if arr.ndim == 3 and arr.shape[-1] == 1:
        arr = arr[..., 0]
    if arr.ndim not in (2, 3) or (arr.ndim == 3 and arr.shape[-1] not in (3, 4)):
        raise UserError(
            f"{name}: an array of shape {tuple(arr.shape)} is not a picture; {_takes_images(inputs)}"
        )
    if arr.dtype.kind == "f":  # 0-1, as ToTensor gives
        arr = np.clip(np.nan_to_num(arr) * 255.0, 0, 255).round().astype(np.uint8)
    return Image.fromarray(_pixels(arr))


# ---------------------------------------------------------------- text


def _texts(inputs: Inputs, held) -> Held:
    texts: list[str] = []
    for item in _items(held):
        if isinstance(item, Path) or (isinstance(item, str) and len(item) < 4096 and _is_file(item)):
            texts += _lines(Path(item))
        elif isinstance(item, str):
            texts.append(item)
        else:
            raise UserError(
                "this model takes text: a string, a list of strings, or a text file's path (one text a "
                f"line); got {_type_name(item)}"
            )
    if not texts:
        raise UserError("no text to classify: pass a string or a list of strings")
    return Held(list(texts), samples=texts)


def _is_file(text: str) -> bool:
    try:
        return "\n" not in text and Path(text).is_file()
    except OSError:  # a name too long for the file system is a text
        return False


def _lines(path: Path) -> list[str]:
    if not path.is_file():
        raise UserError(f"input {path} does not exist; pass a string, a list of strings or a text file")
    try:
        text = read_text_checked(path, "utf-8", "predict reads one text per line")
    except NotDecodable as exc:
        raise UserError(f"{path} is not valid UTF-8 text (byte {exc.offset}); convert it to UTF-8") from exc
    return [line for line in text.splitlines() if line.strip()]
