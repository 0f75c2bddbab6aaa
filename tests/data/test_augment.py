"""Batch augmentation: per-image parameters, the same result as torchvision's v2 functions for a given
parameter, normalised floats in and out."""

from __future__ import annotations

import pytest
import torch
from torchvision.transforms.v2 import functional as TF

from kindling.data import augment
from kindling.data.augment import BatchAugment, affine, color_jitter, hue_shift, parse_knobs
from kindling.data.signature import Signature
from kindling.errors import UserError

SIG = Signature("classification", "image", [3, 16, 16], ["a", "b"], [0.4, 0.5, 0.6], [0.2, 0.25, 0.3])


def test_rotation_matches_v2_rotate():
    x = torch.zeros(1, 3, 32, 32)
    x[:, :, 4:12, 14:18] = 1.0
    ref = TF.rotate(x, 30.0, interpolation=TF.InterpolationMode.BILINEAR)
    mine = affine(x, torch.tensor([30.0]), torch.tensor([1.0]), torch.zeros(1, 2))
    assert (ref - mine).abs().max() < 1e-4


@pytest.mark.parametrize("turns", [0.1, -0.1, 0.5])
def test_hue_matches_v2_adjust_hue(turns):
    x = torch.rand(2, 3, 8, 8, generator=torch.Generator().manual_seed(0))
    assert (TF.adjust_hue(x, turns) - hue_shift(x, torch.full((2,), turns))).abs().max() < 1e-5


def test_contrast_and_saturation_match_v2_at_fixed_factors():
    x = torch.rand(1, 3, 8, 8, generator=torch.Generator().manual_seed(1))
    same = color_jitter(x, {"contrast": 0.0, "saturation": 0.0, "brightness": 0.0})
    assert torch.allclose(same, x)
    grey = color_jitter(x, {"saturation": 1e-9})  # factor 1 +- 1e-9 is the identity, up to rounding
    assert (grey - TF.adjust_saturation(x, 1.0)).abs().max() < 1e-6


@pytest.mark.parametrize(
    "preset", ["light", "seed003", "hflip,vflip,rotate=15,shift=0.1,jitter=0.2,gray=0.5,scale=0.2"]
)
def test_presets_keep_shape_and_draw_per_image(preset):
    torch.manual_seed(0)
    fn = augment.build(preset, SIG)
    one = torch.randn(1, 3, 16, 16)
    batch = one.expand(32, 3, 16, 16).contiguous()
    out = fn(batch)
    assert out.shape == batch.shape and out.dtype == torch.float32 and torch.isfinite(out).all()
    distinct = {tuple(o.flatten()[:40].round(decimals=4).tolist()) for o in out}
    assert len(distinct) > 4  # identical inputs, different augmentations


def test_grey_images_work_with_colour_presets():
    sig = Signature("classification", "image", [1, 12, 12], ["a", "b"], [0.5], [0.25])
    out = augment.build("seed003", sig)(torch.randn(8, 1, 12, 12))
    assert out.shape == (8, 1, 12, 12)


def test_unnormalise_roundtrip_without_knobs():
    x = torch.randn(4, 3, 16, 16)
    assert torch.allclose(BatchAugment({}, SIG.mean, SIG.std)(x), x, atol=1e-5)


def test_knob_mistakes_are_user_errors():
    with pytest.raises(UserError, match="did you mean 'rotate'"):
        parse_knobs("rotat=10")
    with pytest.raises(UserError, match="not a number"):
        parse_knobs("rotate=ten")
    with pytest.raises(UserError, match="unknown augmentation preset"):
        augment.build("lite", SIG)
    assert augment.build("none", SIG) is None


@pytest.mark.parametrize("name", augment.PRESETS)
def test_every_preset_builds_and_keeps_the_shape(name):
    fn = augment.build(name, SIG)
    x = torch.randn(4, 3, 16, 16)
    assert fn is None if name == "none" else fn(x).shape == x.shape


def test_a_single_knob_is_knobs_and_non_image_data_gets_nothing():
    assert augment.build("hflip", SIG).knobs == {"hflip": 0.5}
    text = Signature("classification", "text", [20], ["a", "b"], [], [])
    assert augment.build("seed003", text) is None
    with pytest.raises(UserError, match="unknown augmentation knob 'rotat'"):
        augment.build("rotat=10", text)  # a typo is refused whatever the data


def test_shift_moves_whole_pixels_and_fills_zeros():
    torch.manual_seed(0)
    x = torch.ones(16, 1, 8, 8)
    out = augment.random_shift(x)
    assert set(out.unique().tolist()) <= {0.0, 1.0} and (out == 0).any()
