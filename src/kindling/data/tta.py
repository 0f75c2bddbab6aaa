"""Test-time augmentation views: the flips and small shifts a model was trained with, as fixed views.

    views, record = views_for("light", sig, model)   # identity, hflip, 4 shifts of half the training shift

`evaluate --tta` and `predict --tta` run the model on every view of a batch and average what the outputs
mean (`Task.average`: softmax probabilities for classes). The views match the run's own augmentation
(`data.augment`, kept in the Bundle), because only a view the model learnt to read is evidence:
- a horizontal (vertical) flip when training flipped (`flip`, `light`, `seed003`, knobs `hflip`, `vflip`);
- four shifts (up, down, left, right) by half the largest training shift, at least one pixel, when
  training shifted (`shift`, `light`, knob `shift=F`), filled as training filled: with the mean colour for
  the `shift` preset (zeros after normalisation), with black for the others;
- rotations, zooms and colour jitter give no views: their test-time views cost more than they return on
  small images, and the issue's measure is flips and shifts.
A model that already averages its mirror image in its own forward (`averages_flips`: photo-cnn's
FlipAveraged) gets no flip view: every view it sees is already averaged with its mirror, so a flip view
would be the same view twice. Its shifts are then averaged over both mirror images, the mirror pair's
logits averaged inside the model and the shifts' probabilities outside it.

A model trained without flips or shifts has no views: `--tta` on it is one line, as on a table or a text.
Views work on the preprocessed batch (normalised floats, B, C, H, W), as the training augmentation does.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F

from kindling.data import augment
from kindling.errors import UserError

View = tuple[str, Callable[[torch.Tensor], torch.Tensor]]


def trained_views(name: str) -> tuple[float, float, float, bool]:
    """(hflip, vflip, largest shift as a fraction of the side, shift fills with black) of augmentation `name`."""
    if name in ("none", "", None):
        return 0.0, 0.0, 0.0, False
    if name == "shift":
        return 0.0, 0.0, 0.125, False
    if name == "flip":
        return 0.5, 0.0, 0.0, False
    presets = {"light": augment.LIGHT, "seed003": augment.SEED003}
    knobs = presets.get(name) or augment.parse_knobs(name)
    return knobs.get("hflip", 0.0), knobs.get("vflip", 0.0), knobs.get("shift", 0.0), True


def shifted(x: torch.Tensor, dy: int, dx: int, fill: torch.Tensor) -> torch.Tensor:
    """`x` (B, C, H, W) moved down by dy and right by dx pixels, uncovered pixels set to `fill` (C,)."""
    H, W = x.shape[-2:]  # height, width
    m = max(abs(dy), abs(dx))
    f = fill.to(x.device, x.dtype).view(1, -1, 1, 1)
    padded = F.pad(x - f, (m, m, m, m))
    return padded[..., m - dy : m - dy + H, m - dx : m - dx + W] + f


def views_for(name: str, sig, model=None) -> tuple[list[View], dict]:
    """The views for a model trained with augmentation `name` on data of Signature `sig`, and the record
    evaluate and predict print (which views, from what, and any view left out and why)."""
    if sig.input_kind != "image" or len(sig.input_shape) != 3:
        raise UserError(
            f"--tta averages flipped and shifted pictures, and this model takes {sig.input_kind} input; drop --tta"
        )
    hflip, vflip, shift, black = trained_views(name)
    views: list[View] = [("identity", lambda x: x)]
    notes = []
    if hflip and getattr(model, "averages_flips", False):
        notes.append("hflip left out: the model averages each image with its mirror image in its own forward")
    elif hflip:
        views.append(("hflip", lambda x: x.flip(3)))
    if vflip:
        views.append(("vflip", lambda x: x.flip(2)))
    if shift:
        side = min(sig.input_shape[1:])
        d = max(1, int(round(shift * side / 2)))
        mean = torch.tensor(sig.mean or [0.0] * sig.input_shape[0], dtype=torch.float32)
        std = torch.tensor(sig.std or [1.0] * sig.input_shape[0], dtype=torch.float32)
        fill = -mean / std if black else torch.zeros_like(mean)  # black, or zero after normalisation
        for label, dy, dx in (("up", -d, 0), ("down", d, 0), ("left", 0, -d), ("right", 0, d)):
            views.append((f"shift {label} {d}px", lambda x, dy=dy, dx=dx: shifted(x, dy, dx, fill)))
    if len(views) == 1 and not notes:
        raise UserError(
            f"--tta uses the flips and shifts the model trained with, and it trained with data.augment={name}; "
            "retrain with --augment shift, flip or light, or drop --tta"
        )
    record = {"views": [v[0] for v in views], "from": f"data.augment={name}"}
    if notes:
        record["note"] = "; ".join(notes)
    return views, record
