"""`kindling data`: the data doctor finds imbalance, corrupt files, leakage and missing values."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
from PIL import Image

from kindling.cli.main import main
from kindling.config.schema import DataConfig
from kindling.report.doctor import diagnose, scan_image_folder


def test_digits_is_clean_and_balanced(capsys):
    assert main(["data", "digits", "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["splits"] == {"train": 1211, "val": 136, "test": 450}
    assert sum(result["class_counts"]["test"].values()) == 450
    assert result["imbalance"] < 1.2
    assert result["duplicates"]["across"] == {} and result["warnings"] == []


@pytest.fixture()
def photos(tmp_path):
    """A folder source with a broken file, a grey image of another size, and a train file copied into val."""
    rng = np.random.default_rng(0)
    for split in ("train", "val"):
        for cls, count in (("cat", 8), ("dog", 1)):
            (tmp_path / split / cls).mkdir(parents=True)
            for i in range(count):
                Image.fromarray(rng.integers(0, 255, (12, 12, 3), dtype=np.uint8)).save(
                    tmp_path / split / cls / f"{i}.png"
                )
    shutil.copy(tmp_path / "train" / "cat" / "0.png", tmp_path / "val" / "cat" / "copy.png")
    (tmp_path / "train" / "dog" / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\nnot an image")
    Image.fromarray(rng.integers(0, 255, (20, 16), dtype=np.uint8)).save(
        tmp_path / "train" / "dog" / "grey.png"
    )
    return tmp_path


def test_folder_scan_finds_corrupt_sizes_modes_and_leakage(photos):
    found = scan_image_folder(photos)
    assert found["images"] == 21
    assert [b["file"] for b in found["unreadable"]] == [str(photos / "train" / "dog" / "broken.png")]
    assert found["sizes"] == {"12x12": 19, "16x20": 1}
    assert found["modes"] == {"RGB": 19, "L": 1}
    assert found["duplicates_across_splits"] == [
        [str(photos / "train" / "cat" / "0.png"), str(photos / "val" / "cat" / "copy.png")]
    ]


def test_diagnose_folder_source_end_to_end(photos):
    result = diagnose(DataConfig(name=f"folder:{photos}", skip_bad=True))
    text = " ".join(result["warnings"])
    assert "cannot be read" in text and "leakage" in text
    if "class_counts" in result:  # the folder source built: the in-memory checks ran too
        assert result["class_counts"]["train"] == {"cat": 8, "dog": 2}
        assert result["imbalance"] == pytest.approx(4.0)
        assert result["duplicates"]["across"]["train-val"]["count"] == 1
        assert "imbalanced" in text


def test_table_missing_values_and_types(tmp_path):
    from kindling.report.doctor import inspect_table

    path = tmp_path / "t.csv"
    path.write_text("a,b,label\n1,x,0\n,y,1\n3,,0\n4,z,1\n")
    found = inspect_table(path, DataConfig(name=f"csv:{path}", target="label"))
    assert found["rows"] == 4 and found["missing_total"] == 2
    assert found["columns"]["a"] == {"type": "float64", "missing": 1, "unique": 3}
    assert found["columns"]["b"]["missing"] == 1 and found["columns"]["b"]["type"] in (
        "object",
        "str",
        "string",
    )


def test_unknown_source_is_one_line_and_exit_2(capsys):
    assert main(["data", "nonsense"]) == 2
    captured = capsys.readouterr()
    assert captured.out == "" and captured.err.count("\n") == 1
    assert captured.err.startswith("kindling: ") and "nonsense" in captured.err


def test_a_folder_that_does_not_load_is_reported_and_exits_2(tmp_path, capsys):
    """The scan of the files is still shown (what is wrong with them); the exit says the data does not load."""
    (tmp_path / "photos" / "cats").mkdir(parents=True)
    (tmp_path / "photos" / "cats" / "broken.png").write_bytes(b"not a png")
    assert main(["data", f"folder:{tmp_path / 'photos'}"]) == 2
    captured = capsys.readouterr()
    assert "broken.png" in captured.out
    assert (
        captured.err.startswith("kindling: the data does not load as it is") and captured.err.count("\n") == 1
    )


def test_csv_source_reports_missing_values(tmp_path):
    path = tmp_path / "t.csv"
    rows = [f"{i},{'xyz'[i % 3]},{i % 2}" for i in range(30)]
    rows[3], rows[7] = "3,,1", ",y,1"
    path.write_text("a,b,label\n" + "\n".join(rows) + "\n")
    result = diagnose(DataConfig(name=f"csv:{path}", target="label"))
    assert result["table"]["missing_total"] == 2
    assert any("missing values in a (1), b (1)" in w for w in result["warnings"])
