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

    name = "DejaVuSans-Bold.ttf" if bold else "DejaVuSans.ttf"
    try:  # found without importing matplotlib (~0.4 s)
        import importlib.util

        (package,) = importlib.util.find_spec("matplotlib").submodule_search_locations
        return ImageFont.truetype(str(Path(package) / "mpl-data" / "fonts" / "ttf" / name), size)
    except (AttributeError, TypeError, ValueError, OSError):  # no matplotlib, or an unusual layout
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
        self, xy, text: str, size: int = 11, fill="black", anchor: str = "la", bold=False, rotate=0, spacing=1
    ) -> None:
        if not rotate:
            self.draw.multiline_text(
                xy, text, fill=fill, font=font(size, bold), anchor=anchor, align="center", spacing=spacing
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

    def rect(self, box, fill=None, outline=None, width: int = 1) -> None:
        self.draw.rectangle([round(v) for v in box], fill=fill, outline=outline, width=width)

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


def nice_ticks(lo: float, hi: float, count: int = 6) -> list[float]:
    """Round tick values covering [lo, hi]: steps of 1, 2, 2.5 or 5 times a power of ten."""
    if not np.isfinite(lo) or not np.isfinite(hi):
        return [0.0, 1.0]
    if hi - lo < 1e-12:
        pad = abs(lo) * 0.05 or 0.5
        lo, hi = lo - pad, hi + pad
    raw = (hi - lo) / max(1, count - 1)
    power = 10 ** np.floor(np.log10(raw))
    step = next(m * power for m in (1, 2, 2.5, 5, 10) if m * power >= raw)
    first = np.floor(lo / step + 1e-9) * step
    ticks = [first + i * step for i in range(int(np.ceil((hi - first) / step - 1e-9)) + 1)]
    return [float(np.round(t, 12)) for t in ticks]


def tick_label(value: float, ticks: list[float]) -> str:
    """As many decimals as the step needs (0.25 steps: 0.75, not 0.8); scientific for small magnitudes
    (learning rates)."""
    span = max(abs(t) for t in ticks) if ticks else 0
    if value == 0:
        return "0"
    step = abs(ticks[1] - ticks[0]) if len(ticks) > 1 else 1
    if 0 < span < 1e-2:
        digits = _decimals(step / 10 ** np.floor(np.log10(step))) if step else 0
        return f"{value:.{digits}e}".replace("e-0", "e-")
    return f"{value:.{_decimals(step)}f}"


def _decimals(step: float) -> int:
    """The fewest decimals that write `step` exactly (to a millionth of itself)."""
    return next((d for d in range(10) if abs(round(step, d) - step) <= 1e-6 * step), 10)


class Panel:
    """One chart inside a Page: a box with data limits, ticks, grid, lines with markers and a legend."""

    def __init__(self, page: Page, box, x_range, y_range, scale: int = 1):
        self.page, self.box, self.s = page, box, scale
        self.x_ticks = nice_ticks(*x_range)
        self.y_ticks = nice_ticks(*y_range)
        self.x_lim = (min(self.x_ticks[0], x_range[0]), max(self.x_ticks[-1], x_range[1]))
        self.y_lim = (self.y_ticks[0], self.y_ticks[-1])

    def xy(self, x: float, y: float, y_lim=None) -> tuple[float, float]:
        left, top, right, bottom = self.box
        (x0, x1), (y0, y1) = self.x_lim, y_lim or self.y_lim
        return left + (x - x0) / ((x1 - x0) or 1) * (right - left), bottom - (y - y0) / ((y1 - y0) or 1) * (
            bottom - top
        )

    def frame(self, x_label: str, y_label: str, title: str, integer_x: bool = False) -> None:
        left, top, right, bottom = self.box
        s, page = self.s, self.page
        x_ticks = [t for t in self.x_ticks if not integer_x or float(t).is_integer()]
        for t in x_ticks:
            x, _ = self.xy(t, self.y_lim[0])
            page.line(((x, top), (x, bottom)), fill="#ebebeb", width=s)
            page.line(((x, bottom), (x, bottom + 4 * s)), fill="#444444", width=s)
            page.text((x, bottom + 6 * s), tick_label(t, x_ticks), size=10 * s, anchor="ma")
        for t in self.y_ticks:
            _, y = self.xy(self.x_lim[0], t)
            page.line(((left, y), (right, y)), fill="#ebebeb", width=s)
            page.line(((left - 4 * s, y), (left, y)), fill="#444444", width=s)
            page.text((left - 6 * s, y), tick_label(t, self.y_ticks), size=10 * s, anchor="rm")
        page.rect((left, top, right, bottom), outline="#444444", width=s)
        page.text(((left + right) / 2, bottom + 22 * s), x_label, size=11 * s, anchor="ma")
        widest = max(
            page.draw.textlength(tick_label(t, self.y_ticks), font=font(10 * s)) for t in self.y_ticks
        )
        page.text((left - 12 * s - widest, (top + bottom) / 2), y_label, size=11 * s, anchor="rm", rotate=90)
        page.text(((left + right) / 2, top - 8 * s), title, size=13 * s, anchor="md")

    def series(self, xs, ys, colour, dash: int = 0, marker: bool = True, y_lim=None) -> None:
        """A polyline (broken where y is None or NaN), with round markers."""
        s, draw = self.s, self.page.draw
        run: list = []
        for x, y in list(zip(xs, ys)) + [(None, None)]:
            if y is None or x is None or not np.isfinite(y):
                if len(run) > 1:
                    if dash:
                        for a, b in zip(run, run[1:]):
                            self.page.line((a, b), fill=colour, width=s, dash=dash * s)
                    else:
                        draw.line(run, fill=colour, width=2 * s, joint="curve")
                run = []
                continue
            point = self.xy(x, y, y_lim)
            run.append(point)
            if marker:
                r = 2.5 * s
                draw.ellipse((point[0] - r, point[1] - r, point[0] + r, point[1] + r), fill=colour)

    def right_axis(self, y_ticks: list[float], label: str, colour) -> None:
        left, top, right, bottom = self.box
        s = self.s
        for t in y_ticks:
            _, y = self.xy(self.x_lim[0], t, (y_ticks[0], y_ticks[-1]))
            self.page.line(((right, y), (right + 4 * s, y)), fill=colour, width=s)
            self.page.text((right + 6 * s, y), tick_label(t, y_ticks), size=9 * s, fill=colour, anchor="lm")
        widest = max(self.page.draw.textlength(tick_label(t, y_ticks), font=font(9 * s)) for t in y_ticks)
        self.page.text(
            (right + 12 * s + widest, (top + bottom) / 2),
            label,
            size=11 * s,
            fill=colour,
            anchor="lm",
            rotate=90,
        )

    def legend(self, entries: list[tuple[str, str]], corner: str = "lower right") -> None:
        left, top, right, bottom = self.box
        s = self.s
        width = 22 * s + max(self.page.draw.textlength(n, font=font(10 * s)) for n, _ in entries) + 10 * s
        height = 16 * s * len(entries) + 8 * s
        x = right - width - 8 * s
        y = bottom - height - 8 * s if corner.startswith("lower") else top + 8 * s
        self.page.rect((x, y, x + width, y + height), fill="white", outline="#cccccc", width=s)
        for i, (name, colour) in enumerate(entries):
            cy = y + 4 * s + 16 * s * i + 8 * s
            self.page.draw.line([(x + 6 * s, cy), (x + 20 * s, cy)], fill=colour, width=2 * s)
            self.page.text((x + 24 * s, cy), name, size=10 * s, anchor="lm")


def shrink(page: Page, factor: int) -> Page:
    """A page drawn `factor` times larger, scaled down by averaging each factor x factor block (what
    supersampling means): antialiased lines and markers, in 1 ms where a Lanczos resize took 19."""
    small = Page(page.image.width // factor, page.image.height // factor)
    small.image = page.image.reduce(factor)
    return small
