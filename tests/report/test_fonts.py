"""Chinese class names in the pictures (issue 26): the `report` extra ships a CJK font (Noto Sans SC),
registered with matplotlib's font manager as a fallback behind DejaVu Sans, so names such as 体育 and
财经 are drawn as glyphs, not as empty boxes, on a machine with no CJK font of its own."""

from __future__ import annotations

import io
import warnings

import numpy as np
from PIL import Image

from kindling.report import plots as P
from kindling.report.render import _fonts, draw_all, packaged_cjk_font


def _pixels(png: bytes) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(png)).convert("L"))


def _confusion(names: list[str]) -> tuple[bytes, list[str]]:
    """The confusion matrix drawn with the renderer's fonts -> (PNG, the glyph warnings matplotlib gave)."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with _fonts():
            plot = P.confusion_plot(np.array([[5, 1], [2, 7]]), names, "test")
    return plot.png, [str(w.message) for w in caught if "missing from font" in str(w.message)]


def test_the_report_extra_ships_a_cjk_font_that_matplotlib_knows():
    from matplotlib import font_manager

    name = packaged_cjk_font()
    assert name == "Noto Sans SC"
    found = font_manager.findfont(font_manager.FontProperties(family=name), fallback_to_default=False)
    assert found.endswith("NotoSansSC-Regular.otf")


def test_chinese_class_names_are_drawn_as_glyphs_not_boxes():
    sports, missing = _confusion(["体育", "财经"])
    assert missing == []  # matplotlib warns "Glyph ... missing from font(s)" for each box it draws
    other, missing = _confusion(["娱乐", "时政"])
    assert missing == []
    # empty boxes look alike whatever the character: two pairs of names drawn as boxes give the same
    # pixels; drawn as glyphs they differ where the names are
    a, b = _pixels(sports), _pixels(other)
    assert a.shape == b.shape and (a != b).sum() > 200
    # and DejaVu Sans alone (what matplotlib has without the fallback) draws boxes, and warns
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        boxes = [
            P.confusion_plot(np.eye(2, dtype=int), n, "test").png
            for n in (["体育", "财经"], ["娱乐", "时政"])
        ]
    assert any("missing from font" in str(w.message) for w in caught)
    assert (_pixels(boxes[0]) != _pixels(boxes[1])).sum() == 0


def test_a_run_with_chinese_classes_renders_without_glyph_warnings():
    from kindling.report.evidence import Evidence

    y = np.array([0, 1, 2, 0, 1, 2, 0, 1])
    ev = Evidence(  # photos of three Chinese-named classes: matrix, per-class bars, grid, top losses
        task="classification",
        input_kind="image",
        split="test",
        class_names=["体育", "财经", "娱乐"],
        y=y,
        pred=np.roll(y, 1),
        loss=np.linspace(0.1, 2.0, len(y)),
        p_pred=np.full(len(y), 0.6),
        names=[f"photo_{i}.png" for i in range(len(y))],
        sample_index=np.arange(len(y)),
        sample_images=np.random.default_rng(0).integers(0, 255, (len(y), 3, 16, 16), dtype=np.uint8),
    )
    history = [{"epoch": e, "train_loss": 1.0 / e, "val_loss": 1.2 / e, "lr": 1e-3} for e in (1, 2, 3)]
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        plots, notes = draw_all(history, ev)
    assert {"confusion_matrix", "prediction_grid"} <= {p.name for p in plots}, notes
    assert not [w for w in caught if "missing from font" in str(w.message)]
