"""Every example in docs/python-api.md runs, in order, and prints what the page says it prints."""

from __future__ import annotations

import contextlib
import io
import os
import re
import shutil
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "data"))  # image_files.py

from image_files import digits, save_png, write_folder  # noqa: E402

from kindling_testing import write_sentiment_tsv  # noqa: E402


def code_blocks(text: str) -> list[str]:
    return re.findall(r"```python\n(.*?)```", text, flags=re.S)


@pytest.mark.slow
def test_every_example_in_the_python_api_page_runs(tmp_path):
    blocks = code_blocks((ROOT / "docs" / "python-api.md").read_text(encoding="utf-8"))
    assert len(blocks) >= 7
    shutil.copytree(ROOT / "recipes", tmp_path / "recipes")
    write_folder(tmp_path / "photos", per_class=10, size=16, channels=3, splits=())
    x, y = digits(40, 32, 1, seed=3)
    save_png(tmp_path / "seven.png", x[list(y).index(7)])
    write_sentiment_tsv(tmp_path / "reviews.tsv")
    namespace: dict = {}
    printed = io.StringIO()
    cwd = os.getcwd()
    os.chdir(tmp_path)
    try:
        for block in blocks:
            with contextlib.redirect_stdout(printed):
                exec(compile(block, "python-api.md", "exec"), namespace)  # noqa: S102 - our own docs
    finally:
        os.chdir(cwd)
    out = printed.getvalue()
    assert "runs/digits-api" in out
    assert (tmp_path / "runs" / "digits-recipe" / "report.html").is_file()
    assert (tmp_path / "runs" / "digits-recipe" / "export" / "model.onnx").is_file()
    assert (tmp_path / "runs" / "photos" / "best" / "model.safetensors").is_file()
    assert (tmp_path / "runs" / "arrays" / "best" / "model.safetensors").is_file()
    assert namespace["labels"].load().signature.task == "multilabel"
    assert namespace["own"].dir.name == "own-dataset"
    assert "['0', '1', '2', '3', '4', '5', '6', '7', '8', '9']" in out
    assert namespace["metrics"]["accuracy"] > 0.5
    assert len(namespace["run"].history) == 3
    assert "['fold-0', 'fold-1', 'fold-2']" in out and namespace["ensemble"]["accuracy"] > 0.5
    assert "unknown keyword 'modle' (did you mean 'model'?)" in out
    assert "digits-sweep True" in out
    assert (tmp_path / "runs" / "digits-sweep" / "best" / "model.safetensors").is_file()
    # predicting from what a Python user holds: every form gives the same rows' answers
    table, rows = namespace["table"], namespace["rows"]
    expected = [r["label_name"] for r in table.predict(rows)]
    for held in (rows.to_dict("records"), rows.to_numpy(), "new_rows.csv"):
        os.chdir(tmp_path)
        try:
            assert [r["label_name"] for r in table.predict(held)] == expected
        finally:
            os.chdir(cwd)
    assert "this model takes text: a string, a list of strings" in out
