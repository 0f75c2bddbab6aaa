"""Image augmentation on whole batches, on the training device: presets by name, or knobs.

    --augment none       nothing (the default)
    --augment shift      random translation by up to 1/8 of the size, in whole pixels, zero-padded
    --augment flip       horizontal flip with probability 0.5
    --augment light      horizontal flip + random translation up to 1/8 of the size (crop-with-padding)
    --augment seed003    seed 003's flowers pipeline: rotation +-45, centre crop, h/v flips,
                         ColorJitter(0.2, 0.1, 0.1, 0.1), RandomGrayscale(0.025)
    --augment "hflip,vflip,rotate=15,shift=0.1,jitter=0.2,gray=0.05"   individual knobs (KNOBS)

The trainer calls the augmentation after preprocessing, so a batch arrives as normalised floats
(B, C, H, W). `shift` and `flip` work on those directly. Geometric and colour operations need pixel values
in [0, 1] (a rotation fills black, colour jitter clamps to the valid range), so the other presets
un-normalise with the Signature's mean/std, work, and normalise again.

Why not `torchvision.transforms.v2` objects directly: called on a batch tensor they draw ONE set of
random parameters per call, so every image of a batch would get the same rotation, flip and jitter.
The seeds apply their transforms per image; these functions draw parameters per image and apply them
in one batched operation (an affine grid, `torch.where` masks), matching `v2.functional` for a given
parameter (tests compare against it) without a Python loop over the images.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
import torch.nn.functional as F

from kindling.errors import UserError, did_you_mean, unknown

KNOBS = {
    "hflip": "horizontal flip with probability 0.5 (or hflip=P)",
    "vflip": "vertical flip with probability 0.5 (or vflip=P)",
    "rotate": "rotation by up to +-DEGREES (black fill)",
    "shift": "translation by up to FRACTION of the size",
    "scale": "zoom in by up to FRACTION (random crop-and-resize)",
    "brightness": "brightness factor in [1-B, 1+B]",
    "contrast": "contrast factor in [1-C, 1+C]",
    "saturation": "saturation factor in [1-S, 1+S]",
    "hue": "hue shift in [-H, H] turns (H <= 0.5)",
    "jitter": "brightness, contrast and saturation J, hue J/2",
    "gray": "grayscale with probability P",
}
SEED003 = {
    "rotate": 45.0,
    "hflip": 0.5,
    "vflip": 0.5,
    "brightness": 0.2,
    "contrast": 0.1,
    "saturation": 0.1,
    "hue": 0.1,
    "gray": 0.025,
}
LIGHT = {"hflip": 0.5, "shift": 0.125}
PRESETS = ["none", "shift", "flip", "light", "seed003"]


def random_shift(x: torch.Tensor, max_frac: float = 0.125) -> torch.Tensor:
    """Translate each image by an integer offset in [-m, m] pixels (m = max_frac * size), zero fill."""
    B, C, H, W = x.shape  # batch, channels, height, width
    m = max(1, int(round(max_frac * min(H, W))))
    padded = F.pad(x, (m, m, m, m))
    dy = torch.randint(0, 2 * m + 1, (B,), device=x.device)
    dx = torch.randint(0, 2 * m + 1, (B,), device=x.device)
    rows = (
        (dy.view(B, 1) + torch.arange(H, device=x.device).view(1, H))
        .view(B, 1, H, 1)
        .expand(B, C, H, W + 2 * m)
    )
    out = padded.gather(2, rows)
    cols = (dx.view(B, 1) + torch.arange(W, device=x.device).view(1, W)).view(B, 1, 1, W).expand(B, C, H, W)
    return out.gather(3, cols)


def random_hflip(x: torch.Tensor) -> torch.Tensor:
    flip = torch.rand(x.shape[0], device=x.device) < 0.5
    return torch.where(flip.view(-1, 1, 1, 1), x.flip(3), x)


def _uniform(n: int, low: float, high: float, device) -> torch.Tensor:
    return torch.empty(n, device=device).uniform_(low, high)


def _coin(n: int, p: float, device) -> torch.Tensor:
    return (torch.rand(n, device=device) < p).view(n, 1, 1, 1)


def grey(x: torch.Tensor) -> torch.Tensor:
    """ITU-R 601 luma of RGB images (B,3,H,W) -> (B,1,H,W); grey images pass through."""
    if x.shape[1] == 1:
        return x
    r, g, b = x.unbind(1)
    return (0.299 * r + 0.587 * g + 0.114 * b).unsqueeze(1)


def affine(x: torch.Tensor, degrees: torch.Tensor, scale: torch.Tensor, shift: torch.Tensor) -> torch.Tensor:
    """Per-image rotation (degrees, counter-clockwise), zoom (>1 zooms in) and shift (fraction of size, B,2).

    One `grid_sample` for the whole batch; pixels from outside the image are 0 (black in [0, 1]).
    """
    B = x.shape[0]  # batch
    rad = -degrees * (math.pi / 180.0)  # v2.functional.rotate turns counter-clockwise on screen
    cos, sin = torch.cos(rad) / scale, torch.sin(rad) / scale
    theta = torch.stack(
        [torch.stack([cos, sin, -2 * shift[:, 0]], 1), torch.stack([-sin, cos, -2 * shift[:, 1]], 1)], 1
    )
    grid = F.affine_grid(theta.view(B, 2, 3).to(x.dtype), list(x.shape), align_corners=False)
    return F.grid_sample(x, grid, mode="bilinear", padding_mode="zeros", align_corners=False)


def hue_shift(x: torch.Tensor, turns: torch.Tensor) -> torch.Tensor:
    """Shift the hue of RGB images (B,3,H,W in [0, 1]) by `turns` (B,) of a circle, as v2's adjust_hue does
    (through HSV), but with a different shift per image."""
    r, g, b = x.unbind(1)
    maxc, minc = x.amax(1), x.amin(1)
    chroma = maxc - minc
    sat = chroma / torch.where(maxc == 0, torch.ones_like(maxc), maxc)
    div = torch.where(chroma == 0, torch.ones_like(chroma), chroma)
    rc, gc, bc = (maxc - r) / div, (maxc - g) / div, (maxc - b) / div
    is_r, is_g = maxc == r, (maxc == g) & (maxc != r)
    hue = torch.where(is_r, bc - gc, torch.where(is_g, 2.0 + rc - bc, 4.0 + gc - rc))
    hue = torch.fmod(hue / 6.0 + 1.0 + turns.view(-1, 1, 1), 1.0)
    hue = torch.where(hue < 0, hue + 1.0, hue)
    i = torch.floor(hue * 6.0)
    f = hue * 6.0 - i
    i = i.to(torch.int64) % 6
    v = maxc
    p, q, t = v * (1 - sat), v * (1 - sat * f), v * (1 - sat * (1 - f))
    table = torch.stack(
        [torch.stack(c, 1) for c in ((v, t, p), (q, v, p), (p, v, t), (p, q, v), (t, p, v), (v, p, q))], 1
    )
    return table.gather(1, i.view(i.shape[0], 1, 1, *i.shape[1:]).expand(-1, 1, 3, -1, -1)).squeeze(1)


def color_jitter(x: torch.Tensor, knobs: dict) -> torch.Tensor:
    """Brightness, contrast, saturation (and hue for RGB) with per-image factors, as ColorJitter draws them."""
    B, C = x.shape[:2]  # batch, channels
    dev = x.device
    if knobs.get("brightness"):
        b = knobs["brightness"]
        x = (x * _uniform(B, 1 - b, 1 + b, dev).view(B, 1, 1, 1)).clamp(0, 1)
    if knobs.get("contrast"):
        c = knobs["contrast"]
        m = grey(x).mean((1, 2, 3), keepdim=True)
        x = ((x - m) * _uniform(B, 1 - c, 1 + c, dev).view(B, 1, 1, 1) + m).clamp(0, 1)
    if C == 3 and knobs.get("saturation"):
        s = knobs["saturation"]
        g = grey(x)
        x = ((x - g) * _uniform(B, 1 - s, 1 + s, dev).view(B, 1, 1, 1) + g).clamp(0, 1)
    if C == 3 and knobs.get("hue"):
        h = knobs["hue"]
        x = hue_shift(x, _uniform(B, -h, h, dev)).clamp(0, 1)
    return x


class BatchAugment:
    """Applies `knobs` to a normalised batch: un-normalise, geometry, flips, colour, grey, normalise."""

    def __init__(self, knobs: dict, mean: list[float], std: list[float]):
        self.knobs = dict(knobs)
        self.mean = torch.tensor(mean or [0.0], dtype=torch.float32).view(1, -1, 1, 1)
        self.std = torch.tensor(std or [1.0], dtype=torch.float32).view(1, -1, 1, 1)

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        B = x.shape[0]  # batch
        dev, k = x.device, self.knobs
        mean, std = self.mean.to(dev, x.dtype), self.std.to(dev, x.dtype)
        x = x * std + mean  # back to [0, 1] pixels
        if k.get("rotate") or k.get("shift") or k.get("scale"):
            degrees = _uniform(B, -k.get("rotate", 0.0), k.get("rotate", 0.0), dev)
            scale = 1.0 + _uniform(B, 0.0, k.get("scale", 0.0), dev)
            shift = torch.empty(B, 2, device=dev).uniform_(-k.get("shift", 0.0), k.get("shift", 0.0))
            x = affine(x, degrees, scale, shift)
        if k.get("hflip"):
            x = torch.where(_coin(B, k["hflip"], dev), x.flip(3), x)
        if k.get("vflip"):
            x = torch.where(_coin(B, k["vflip"], dev), x.flip(2), x)
        x = color_jitter(x, k)
        if k.get("gray") and x.shape[1] == 3:
            x = torch.where(_coin(B, k["gray"], dev), grey(x).expand_as(x), x)
        return (x - mean) / std


def parse_knobs(text: str) -> dict:
    """'hflip,rotate=15,jitter=0.2' -> {'hflip': 0.5, 'rotate': 15.0, 'brightness': 0.2, ...}."""
    knobs: dict[str, float] = {}
    for item in (t.strip() for t in text.split(",")):
        if not item:
            continue
        key, _, raw = item.partition("=")
        key = key.strip()
        if key not in KNOBS:
            raise UserError(
                f"unknown augmentation knob '{key}'{did_you_mean(key, KNOBS)}; knobs: {', '.join(KNOBS)} "
                f"(or a preset: {', '.join(PRESETS)})"
            )
        try:
            value = float(raw) if raw else (0.5 if key in ("hflip", "vflip") else None)
        except ValueError as exc:
            raise UserError(f"augmentation knob '{item}': '{raw}' is not a number") from exc
        if value is None or value < 0:
            raise UserError(f"augmentation knob '{key}' needs a value >= 0, e.g. {key}=0.1 ({KNOBS[key]})")
        if key == "jitter":
            knobs.update(brightness=value, contrast=value, saturation=value, hue=min(0.5, value / 2))
        else:
            knobs[key] = value
    return knobs


def build(name: str, sig) -> Callable[[torch.Tensor], torch.Tensor] | None:
    """The batch augmentation for preset or knobs `name`, or None for `none` / non-image data.

    A mistake is refused whatever the data, so a recipe's typo shows on the first run.
    """
    is_knobs = "=" in name or "," in name or (name in KNOBS and name not in PRESETS)  # "shift": the preset
    if name not in PRESETS and not is_knobs:
        raise unknown(
            "augmentation preset",
            name,
            PRESETS,
            hint=f"or knobs such as 'hflip,rotate=15' ({', '.join(KNOBS)})",
        )
    knobs = parse_knobs(name) if is_knobs else {"light": LIGHT, "seed003": SEED003}.get(name)
    if name == "none" or sig.input_kind != "image":
        return None
    if name == "shift":
        return random_shift
    if name == "flip":
        return random_hflip
    return BatchAugment(knobs, sig.mean, sig.std)
