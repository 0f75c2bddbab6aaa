"""Drawing straight into pixels with PIL, for the plots that are cells, bars and labels (the confusion
matrix, per-class bars, image panels): a few milliseconds each, against 45-75 ms for the same picture
built from matplotlib's axes, ticks and text artists. Same fonts (matplotlib's DejaVu Sans), same
colour map (matplotlib's Blues).

    page = Page(640, 480)
    page.text((320, 10), "Title", size=14, anchor="ma")
    page.text((20, 240), "true", rotate=90, anchor="mm")
    png = page.png()
"""

from __future__ import annotations

import io
from functools import lru_cache
from pathlib import Path

import numpy as np

BLUES = [(247, 251, 255), (222, 235, 247), (198, 219, 239), (158, 202, 225), (107, 174, 214), (66, 146, 198), (33, 113, 181), (8, 81, 156), (8, 48, 107)]  # fmt: skip


@lru_cache(maxsize=16)
def font(size: int, bold: bool = False):
    """DejaVu Sans (matplotlib's default font) at `size` pixels; PIL's built-in font without matplotlib."""
    from PIL import ImageFont

    try:
        import matplotlib

        name = "DejaVuSans-Bold.ttf" if bold else "DejaVuSans.ttf"
        return ImageFont.truetype(str(Path(matplotlib.get_data_path()) / "fonts" / "ttf" / name), size)
    except (ImportError, OSError):
        return ImageFont.load_default(size)


def blues(values: np.ndarray) -> np.ndarray:
    """Values in [0, 1] -> uint8 RGB (..., 3) on matplotlib's 9-step Blues scale, linearly interpolated."""
    stops = np.asarray(BLUES, dtype=float)
    pos = np.clip(np.asarray(values, dtype=float), 0, 1) * (len(stops) - 1)
    low = np.minimum(pos.astype(int), len(stops) - 2)
    frac = (pos - low)[..., None]
    return np.round(stops[low] * (1 - frac) + stops[low + 1] * frac).astype(np.uint8)


class Page:
    """A white RGB canvas with text, rotated text, rectangles and lines."""

    def __init__(self, width: int, height: int):
        from PIL import Image, ImageDraw

        self.image = Image.new("RGB", (int(width), int(height)), "white")
        self.draw = ImageDraw.Draw(self.image)

    def text(
        self, xy, text: str, size: int = 11, fill="black", anchor: str = "la", bold=False, rotate=0
    ) -> None:
        if not rotate:
            self.draw.multiline_text(
                xy, text, fill=fill, font=font(size, bold), anchor=anchor, align="center", spacing=1
            )
            return
        from PIL import Image, ImageDraw

        box = self.draw.textbbox((0, 0), text, font=font(size, bold), anchor="lt")
        label = Image.new("L", (box[2] + 2, box[3] + 2), 0)
        ImageDraw.Draw(label).text((1, 1), text, fill=255, font=font(size, bold), anchor="lt")
        label = label.rotate(rotate, expand=True, resample=Image.BICUBIC)
        x, y = xy
        w, h = label.size
        dx = {"l": 0, "m": w / 2, "r": w}[anchor[0]]
        dy = {"t": 0, "a": 0, "m": h / 2, "b": h, "d": h}[anchor[1]]
        colour = Image.new("RGB", label.size, fill)
        self.image.paste(colour, (round(x - dx), round(y - dy)), label)

    def paste(self, pixels: np.ndarray, xy) -> None:
        """uint8 H, W, 3 pixels with their top-left corner at xy."""
        from PIL import Image

        self.image.paste(Image.fromarray(np.ascontiguousarray(pixels)), (round(xy[0]), round(xy[1])))

    def rect(self, box, fill=None, outline=None) -> None:
        self.draw.rectangle([round(v) for v in box], fill=fill, outline=outline)

    def line(self, points, fill="black", width: int = 1, dash: int = 0) -> None:
        (x0, y0), (x1, y1) = points
        if not dash:
            self.draw.line([(x0, y0), (x1, y1)], fill=fill, width=width)
            return
        length = max(abs(x1 - x0), abs(y1 - y0))
        for start in np.arange(0, length, 2 * dash):
            a, b = start / length, min(start + dash, length) / length
            self.draw.line(
                [(x0 + (x1 - x0) * a, y0 + (y1 - y0) * a), (x0 + (x1 - x0) * b, y0 + (y1 - y0) * b)],
                fill=fill,
                width=width,
            )

    def png(self) -> bytes:
        buf = io.BytesIO()
        self.image.save(buf, format="PNG", compress_level=1)
        return buf.getvalue()
