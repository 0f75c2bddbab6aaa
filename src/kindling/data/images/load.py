"""One image file or upload -> the uint8 C,H,W array a model takes, converted as training converted it.

Torch-free, and the lowest place that reads an image: the file sources (kindling.data.images), the
input kinds (kindling.task.inputs), prediction, serving and the data doctor all read through here.
"""

from __future__ import annotations

import io

import numpy as np

from kindling.data.images.replay import apply_steps
from kindling.errors import UserError

# Every suffix a reader takes for an image (folder:, annotations:, a CSV's path column, predict, the data
# doctor): formats Pillow opens, PNM's three included.
IMAGE_SUFFIXES = frozenset(
    {".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp", ".tif", ".tiff", ".ppm", ".pgm", ".pbm"}
)
DEFAULT_MAX_PIXELS = 40_000_000  # 40 MP: larger than any photo a phone takes, far below a decompression bomb


class ImageTooLarge(UserError):
    """An image whose pixel count is over the cap (a decompression bomb, or just too big): HTTP 413."""


def load_image(
    source,
    shape: list[int],
    name: str = "image",
    max_pixels: int | None = DEFAULT_MAX_PIXELS,
    steps: list[dict] | None = None,
) -> np.ndarray:
    """Any image (path or bytes; L, RGB, RGBA, P, CMYK, 16-bit) -> uint8 array of `shape` (C, H, W).

    Converted and resized as training did (bilinear), as seed 000's predict script does; `steps` are a
    user transform's recorded Resize / CenterCrop (kindling.data.images.replay), applied first. The size in
    the header is checked against `max_pixels` before any pixel is decoded, so a 20000x20000 PNG of
    a few kilobytes is refused without allocating 400 MB.
    """

    from PIL import Image, UnidentifiedImageError  # lazy: PIL

    channels, height, width = shape
    try:
        img = Image.open(io.BytesIO(source) if isinstance(source, bytes) else source)
        if max_pixels and img.size[0] * img.size[1] > max_pixels:
            raise ImageTooLarge(
                f"{name} is {img.size[0]}x{img.size[1]} pixels, over the limit of {max_pixels:,}; resize it first"
            )
        img.load()
    except Image.DecompressionBombError as exc:
        raise ImageTooLarge(f"{name} is too large to decode safely ({exc})") from exc
    except UnidentifiedImageError as exc:
        raise UserError(f"{name} is not an image in a format Pillow reads; pass a PNG or JPEG file") from exc
    except (OSError, SyntaxError, ValueError) as exc:
        raise UserError(
            f"{name} is not a readable image ({exc.__class__.__name__}: {exc}); pass a PNG or JPEG file"
        ) from exc
    if img.mode in ("I;16", "I;16B", "I;16L", "I"):
        arr = np.asarray(img, dtype=np.float64)
        img = Image.fromarray((arr / max(1.0, arr.max()) * 255).astype(np.uint8))
    if img.mode in ("RGBA", "LA", "P") and channels == 3:
        img = img.convert("RGBA")
        background = Image.new("RGBA", img.size, (255, 255, 255, 255))
        img = Image.alpha_composite(background, img)
    img = img.convert("L" if channels == 1 else "RGB")
    if steps:
        img = apply_steps(img, steps)
    if img.size != (width, height):
        img = img.resize((width, height), Image.BILINEAR)
    arr = np.asarray(img, dtype=np.uint8)
    return arr[None] if channels == 1 else arr.transpose(2, 0, 1)
