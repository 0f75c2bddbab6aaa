"""The PIL-drawn plots: ticks, colours and pixels checked against the numbers they show."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from kindling.report import plots as P
from kindling.report.raster import blues, nice_ticks, tick_label


def _pixels(png: bytes) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(png)).convert("RGB"))


@pytest.mark.parametrize(
    ("lo", "hi", "expected"),
    [
        (0.0, 1.0, [0.0, 0.2, 0.4, 0.6, 0.8, 1.0]),
        (1, 30, [0, 10, 20, 30]),
        (0.52, 0.56, [0.52, 0.53, 0.54, 0.55, 0.56]),
        (0.5, 0.5, [0.46, 0.48, 0.5, 0.52, 0.54]),  # one value: padded around it
    ],
)
def test_nice_ticks_cover_the_range_in_round_steps(lo, hi, expected):
    assert nice_ticks(lo, hi) == pytest.approx(expected)


def test_tick_labels_use_the_decimals_the_step_needs():
    assert [tick_label(t, [0.0, 0.5, 1.0]) for t in (0.0, 0.5, 1.0)] == ["0", "0.5", "1.0"]
    assert tick_label(20, [0, 10, 20, 30]) == "20"
    assert tick_label(0.002, [0.0, 0.001, 0.002, 0.003]) == "2e-3"
    quarters = nice_ticks(-0.2, 1.0)
    assert quarters == pytest.approx([-0.25, 0.0, 0.25, 0.5, 0.75, 1.0])
    assert [tick_label(t, quarters) for t in quarters] == ["-0.25", "0", "0.25", "0.50", "0.75", "1.00"]
    small = [0.0, 2.5e-4, 5e-4, 7.5e-4]
    assert [tick_label(t, small) for t in small] == ["0", "2.5e-4", "5.0e-4", "7.5e-4"]


def test_blues_is_matplotlibs_colour_map():
    matplotlib = pytest.importorskip("matplotlib")
    values = np.linspace(0, 1, 33)
    theirs = np.round(matplotlib.colormaps["Blues"](values)[:, :3] * 255)
    assert np.abs(blues(values).astype(int) - theirs).max() <= 2


def test_confusion_matrix_cells_are_coloured_by_the_row_fractions():
    cm = np.array([[8, 2, 0], [1, 9, 0], [0, 5, 5]])
    plot = P.confusion_plot(cm, ["cat", "dog", "horse"])
    image, layout = _pixels(plot.png), plot.data["layout"]
    norm = P.normalise_rows(cm)
    for i in range(3):
        for j in range(3):  # a pixel near the cell's top-left corner: clear of the numbers in the middle
            y, x = layout["top"] + i * layout["cell"] + 3, layout["left"] + j * layout["cell"] + 3
            assert np.abs(image[y, x].astype(int) - blues(norm[i, j]).astype(int)).max() <= 1, (i, j)
    assert plot.data["matrix"] == cm.tolist()


def test_per_class_bars_have_the_heights_of_the_accuracies():
    plot = P.per_class_plot({"a": 1.0, "b": 0.5, "c": 0.0})
    image = _pixels(plot.png)
    green = np.all(image == (26, 127, 55), axis=2)  # GREEN: the bar at or over 0.9
    red = np.all(image == (207, 34, 46), axis=2)  # RED: under 0.7
    green_rows, red_rows = np.flatnonzero(green.any(1)), np.flatnonzero(red.any(1))
    assert len(green_rows) > 150  # the 1.0 bar spans the plot's height
    assert 0.4 < len(red_rows) / len(green_rows) < 0.6  # the 0.5 bar is half as tall
    assert green_rows[-1] == red_rows[-1]  # both stand on the same base line


def test_learning_curves_draw_each_series_in_its_colour():
    history = [
        {"epoch": e, "train_loss": 1 / e, "val_loss": 1.2 / e, "train_acc": 0.5, "val_acc": 0.6, "lr": 0.1}
        for e in range(1, 6)
    ]
    plot = P.learning_curves(history)
    image = _pixels(plot.png).astype(int)

    def near(colour: str) -> int:
        rgb = np.array([int(colour[k : k + 2], 16) for k in (1, 3, 5)])
        return int((np.abs(image - rgb).max(axis=2) <= 40).sum())

    assert near(P.TRAIN_COLOR) > 200 and near(P.VAL_COLOR) > 200 and near(P.LR_COLOR) > 50
    assert plot.data["epoch"] == [1, 2, 3, 4, 5] and plot.data["metric"] == "acc"
