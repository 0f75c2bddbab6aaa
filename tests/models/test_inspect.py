"""`kindling inspect`: layer output shapes, parameter counts and the conv output-size formula."""

from __future__ import annotations

import pytest

from kindling.cli.main import main
from kindling.errors import UserError
from kindling.models.inspect import inspect_model, parse_shape


def test_lenet_table_shows_the_seed_shapes_and_formula():
    text = inspect_model("lenet", "3x32x32", 10)
    assert (
        "[1, 16, 28, 28]" in text and "[1, 32, 5, 5]" in text
    )  # seed 000's comments: (16,28,28) ... (32,5,5)
    assert "floor((32 + 2*0 - 1*(5-1) - 1) / 1) + 1 = 28" in text
    assert "total parameters: 121,182" in text


def test_vector_models_and_torchvision_by_name():
    assert "[1, 128]" in inspect_model("mnist-mlp", "784", 10)
    assert "fc" in inspect_model("mobilenet_v3_small", "3x32x32", 4) or "classifier" in inspect_model(
        "mobilenet_v3_small", "3x32x32", 4
    )


def test_bad_shapes_are_one_line(capsys):
    with pytest.raises(UserError):
        parse_shape("3x32")
    assert main(["inspect", "lenet", "--input-shape", "abc"]) == 2
    assert main(["inspect", "mnist-net", "--input-shape", "1x6x6"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 2 and all(line.startswith("kindling: ") for line in err)
