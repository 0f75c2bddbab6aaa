"""Offline, the hymenoptera transfer-learning recipe stops at once on its missing ImageNet weights: one
line (exit 2) saying they are not in torch's hub cache and how to get them, before any training work (the
trainer's thread and memory-format measurements took half a minute first)."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "data"))  # tests/data/image_files.py
import image_files  # noqa: E402

RECIPE = Path(__file__).resolve().parents[2] / "recipes" / "hymenoptera-resnet18.yaml"


def test_the_recipe_offline_fails_in_one_line_before_training(tmp_path):
    image_files.write_folder(tmp_path / "hymenoptera_data", per_class=4, size=32)  # the recipe's folder
    torch_home = tmp_path / "torch"
    torch_home.mkdir()
    offline = "http://127.0.0.1:9"  # a closed port: every download fails at once, as with no network
    env = {**os.environ, "TORCH_HOME": str(torch_home), "https_proxy": offline, "HTTPS_PROXY": offline}
    for name in ("NO_PROXY", "no_proxy"):
        env.pop(name, None)
    cmd = [sys.executable, "-m", "kindling", "train", str(RECIPE), "--run-dir", str(tmp_path / "run")]
    started = time.perf_counter()
    done = subprocess.run(cmd, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
    took = time.perf_counter() - started
    lines = done.stderr.strip().splitlines()
    assert done.returncode == 2, done.stderr[-2000:]
    assert len(lines) == 1, done.stderr
    assert "resnet18" in lines[0] and "not in the torch hub cache" in lines[0] and str(torch_home) in lines[0]
    assert "--pretrained PATH" in lines[0] and "download.pytorch.org" in lines[0]
    assert "memory format" not in done.stdout and "epoch 1" not in done.stdout  # no training work
    assert took < 60, f"took {took:.0f}s"
