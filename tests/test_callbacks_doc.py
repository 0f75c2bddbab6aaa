"""Every example in docs/callbacks.md runs, in order, and does what the page says: one example per event,
each seen printing at its moment, the focal loss and the top-3 metric trained with."""

from __future__ import annotations

import contextlib
import io
import os
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def code_blocks(text: str) -> list[str]:
    return re.findall(r"```python\n(.*?)```", text, flags=re.S)


def test_every_example_in_the_callbacks_page_runs(tmp_path):
    page = (ROOT / "docs" / "callbacks.md").read_text(encoding="utf-8")
    blocks = code_blocks(page)
    namespace: dict = {"__name__": "callbacks_md"}  # as a notebook's cells: no file names the objects
    printed = io.StringIO()
    cwd = os.getcwd()
    os.chdir(tmp_path)
    try:
        for block in blocks:
            with contextlib.redirect_stdout(printed):
                exec(compile(block, "callbacks.md", "exec"), namespace)  # noqa: S102 - our own docs
    finally:
        os.chdir(cwd)
    out = printed.getvalue()
    events = ("fit_start", "epoch_start", "step_end", "validation_end", "epoch_end", "fit_end")
    for event in events:  # one example per event, each documented in the table
        assert f"`on_{event}(trainer" in page
        assert re.search(rf"def on_{event}\(self, trainer", page)
    assert "fit_start: 17226 parameters, 3 epochs" in out
    assert "epoch_start: epoch 1 at lr 3e-03" in out
    assert (
        "epoch_end: epoch 1 val acc" in out and "fit_end: best val_loss" in out
    )  # 136 validation samples: the best epoch by val_loss
    history = namespace["run"].history
    assert [r["epoch"] for r in history] == list(range(1, len(history) + 1))
    assert namespace["callbacks"][4].count >= 1  # Improvements counted
    top3 = namespace["top3"]
    assert (tmp_path / "runs" / "top3" / "metrics.jsonl").is_file() and callable(top3)
    assert "val_top3" in (tmp_path / "runs" / "top3" / "metrics.jsonl").read_text()
    assert (tmp_path / "runs" / "focal" / "best" / "model.safetensors").is_file()
