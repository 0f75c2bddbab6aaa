"""A model whose outputs overflow (finite but huge weights): JSON stays JSON on every path.

`kindling predict --json`, `.jsonl` and `kindling evaluate --json` write null with an `error` for that result, never `NaN`; the
server answers a JSON 422 instead of failing to encode the answer (a 500).
"""

from __future__ import annotations

import json

import numpy as np
import pytest
import requests
from serve_helpers import ThreadServer, png_bytes, wait_ready

from badinput import runs


@pytest.fixture(scope="module")
def overflowing_run(digits_run, tmp_path_factory):
    """The digits run with classifier weights of +-3e38: finite, so the Bundle loads; logits overflow."""
    runs.use(digits_run)
    run = runs.copy_run(tmp_path_factory.mktemp("overflow"))
    runs.rewrite(
        run, state_edit=lambda s: s.update({"classifier.1.weight": s["classifier.1.weight"].sign() * 3e38})
    )
    return run


def strict(text: str):
    """json.loads that refuses NaN / Infinity, as every JSON parser but Python's does."""

    def refuse(constant):
        raise AssertionError(f"{constant} is not JSON")

    return json.loads(text, parse_constant=refuse)


@pytest.fixture()
def white(tmp_path):
    path = tmp_path / "white.npy"
    np.save(path, np.full((1, 8, 8), 255, dtype=np.uint8))
    return path


def test_predict_json_reports_null_and_an_error_never_nan(overflowing_run, white, capsys):
    from kindling.cli.main import main

    capsys.readouterr()
    assert main(["predict", str(overflowing_run), str(white), "--json"]) == 0
    result = strict(capsys.readouterr().out)["predictions"][0]
    assert result["probability"] is None and "not a finite number" in result["error"]


def test_evaluate_json_reports_null_and_an_error_never_nan(overflowing_run, capsys):
    from kindling.cli.main import main

    capsys.readouterr()
    assert main(["evaluate", str(overflowing_run), "--json"]) == 0
    result = strict(capsys.readouterr().out)
    assert result["loss"] is None and "not finite" in result["error"]
    assert strict((overflowing_run / "metrics_test.json").read_text())["loss"] is None


def test_predict_jsonl_output_is_strict_json(overflowing_run, white, tmp_path):
    from kindling.cli.main import main

    out = tmp_path / "preds.jsonl"
    assert main(["predict", str(overflowing_run), str(white), "--output", str(out)]) == 0
    assert strict(out.read_text().splitlines()[0])["error"]


def test_server_answers_a_json_422_not_a_500(overflowing_run):
    from PIL import Image

    from kindling.serve.app import create_app

    white = png_bytes(Image.fromarray(np.full((8, 8), 255, dtype=np.uint8)))
    with ThreadServer(create_app(overflowing_run, threads=1)) as srv:
        wait_ready(srv.url)
        r = requests.post(srv.url + "/predict", files={"image": ("w.png", white)})
        assert r.status_code == 422, r.text
        assert r.json()["success"] is False and "not a finite number" in r.json()["error"]
        assert requests.get(srv.url + "/health").status_code == 200
