"""Replaying a user's torchvision transform on raw image files at prediction time.

A Dataset handed to kindling hands over tensors its transform already made; `predict` and `serve`
get raw files. When the transform is a `Compose` of steps whose effect is known (Resize, CenterCrop,
Grayscale, ToTensor, PILToTensor, ConvertImageDtype, Normalize), the geometric steps are recorded in
the Signature and replayed here on the PIL image, and Normalize is undone at training time so the
stored pixels are the [0, 1] ones kindling normalises itself. Random steps (augmentation) are
skipped: prediction uses the deterministic part, as an eval transform would.

Torch-free on purpose: `kindling.data.images.load.load_image` calls `apply_steps` for every request.
"""

from __future__ import annotations

from dataclasses import dataclass, field

PIXEL_STEPS = {"ToTensor", "PILToTensor", "ConvertImageDtype", "ToImage", "ToDtype", "Grayscale"}


@dataclass
class Recipe:
    """What a transform does, as far as kindling can replay it.

    `steps`: geometric steps for `apply_steps` (`{"resize": 256}`, `{"center_crop": [224, 224]}`).
    `normalize`: the (mean, std) of a trailing Normalize, undone before storing pixels.
    `random`: names of random steps (augmentation) that prediction skips.
    `unknown`: names of steps kindling cannot replay; non-empty means prediction on raw files only
    resizes and scales to [0, 1].
    """

    steps: list[dict] = field(default_factory=list)
    normalize: tuple[list[float], list[float]] | None = None
    random: list[str] = field(default_factory=list)
    unknown: list[str] = field(default_factory=list)

    @property
    def replayable(self) -> bool:
        return not self.unknown


def _size(value) -> list[int] | int:
    if isinstance(value, int):
        return value
    sizes = [int(v) for v in value]
    return sizes[0] if len(sizes) == 1 else sizes


def read_transform(transform) -> Recipe:
    """Inspect `transform` (None, a torchvision Compose or a single step) -> its Recipe."""
    recipe = Recipe()
    if transform is None:
        return recipe
    steps = list(getattr(transform, "transforms", None) or [transform])
    for step in steps:
        name = type(step).__name__
        if name in PIXEL_STEPS:
            continue
        if name.startswith("Random") or name in (
            "ColorJitter",
            "TrivialAugmentWide",
            "AutoAugment",
            "RandAugment",
        ):
            recipe.random.append(name)
        elif name == "Resize" and getattr(step, "max_size", None) is None:
            recipe.steps.append({"resize": _size(step.size)})
        elif name == "CenterCrop":
            size = _size(step.size)
            recipe.steps.append({"center_crop": [size, size] if isinstance(size, int) else size})
        elif name == "Normalize" and step is steps[-1]:
            mean, std = step.mean, step.std
            recipe.normalize = ([float(v) for v in mean], [float(v) for v in std])
        else:
            recipe.unknown.append(name)
    return recipe


def apply_steps(img, steps: list[dict]):
    """A PIL image -> the image after the recorded Resize / CenterCrop steps (torchvision's rules:
    an int Resize sets the shorter side, bilinear with antialiasing, as PIL's resize does)."""
    from PIL import Image  # lazy: PIL

    for step in steps:
        if "resize" in step:
            size = step["resize"]
            width, height = img.size
            if isinstance(size, int):
                short, long = (width, height) if width <= height else (height, width)
                new_short, new_long = size, int(size * long / short)
                new_w, new_h = (new_short, new_long) if width <= height else (new_long, new_short)
            else:
                new_h, new_w = size
            if (new_w, new_h) != img.size:
                img = img.resize((new_w, new_h), Image.BILINEAR)
        elif "center_crop" in step:
            crop_h, crop_w = step["center_crop"]
            width, height = img.size
            top, left = int(round((height - crop_h) / 2.0)), int(round((width - crop_w) / 2.0))
            img = img.crop((left, top, left + crop_w, top + crop_h))
    return img
