"""Bad image input: one clear line naming the file (and line), exit 2; with --skip-bad a counted warning."""

from __future__ import annotations

import pytest
from image_files import write_annotations, write_folder

from kindling.cli.main import main


def train(tmp_path, data: str, *extra: str) -> int:
    return main(
        [
            "train",
            "--data",
            data,
            "--model",
            "lenet",
            "--dry-run",
            "--threads",
            "1",
            "--data-dir",
            str(tmp_path / "cache"),
            "--run-dir",
            str(tmp_path / "run"),
            "--overwrite",
            "--set",
            "train.logger=none",
            *extra,
        ]
    )


def one_line_error(capsys) -> str:
    err = capsys.readouterr().err.strip()
    lines = [ln for ln in err.splitlines() if not ln.startswith("kindling: warning")]
    assert len(lines) == 1 and lines[0].startswith("kindling: ") and "Traceback" not in err, err
    return lines[0]


def make_bad(root, kind: str):
    target = root / "train" / "bees" / "0003.png"
    if kind == "corrupt":
        target.write_bytes(b"\x89PNG\r\n\x1a\n" + b"garbage" * 20)
    elif kind == "truncated":
        data = target.read_bytes()
        target.write_bytes(data[: len(data) // 2])
    elif kind == "not-an-image":
        target = root / "train" / "bees" / "notes.txt"
        target.write_text("not a picture")
    elif kind == "html-as-png":
        target.write_text("<html>not a png</html>")
    return target


@pytest.mark.parametrize("kind", ["corrupt", "truncated", "not-an-image", "html-as-png"])
def test_bad_image_file_is_one_line_naming_it(tmp_path, capsys, kind):
    root = write_folder(tmp_path / "hym", per_class=6)
    bad = make_bad(root, kind)
    assert train(tmp_path, f"folder:{root}") == 2
    line = one_line_error(capsys)
    assert bad.name in line and "--skip-bad" in line
    assert not (tmp_path / "run").exists()  # nothing written before the input was checked


@pytest.mark.parametrize("kind", ["corrupt", "truncated", "not-an-image"])
def test_skip_bad_warns_with_a_count_and_trains(tmp_path, capsys, kind):
    root = write_folder(tmp_path / "hym", per_class=6)
    make_bad(root, kind)
    assert train(tmp_path, f"folder:{root}", "--skip-bad") == 0
    err = capsys.readouterr().err
    assert "skipped 1" in err
    assert (tmp_path / "run" / "best" / "model.safetensors").is_file()


def test_empty_class_folder(tmp_path, capsys):
    root = write_folder(tmp_path / "hym", per_class=6)
    (root / "train" / "wasps").mkdir()
    assert train(tmp_path, f"folder:{root}") == 2
    line = one_line_error(capsys)
    assert "wasps" in line and "no images" in line


def test_val_class_missing_from_train(tmp_path, capsys):
    root = write_folder(tmp_path / "hym", per_class=6)
    (root / "val" / "wasps").mkdir()
    write_folder(tmp_path / "extra", per_class=2, classes=("wasps",), splits=("val",))
    for f in (tmp_path / "extra" / "val" / "wasps").iterdir():
        f.rename(root / "val" / "wasps" / f.name)
    assert train(tmp_path, f"folder:{root}") == 2
    assert "wasps" in one_line_error(capsys)


@pytest.mark.parametrize(
    "line, expect",
    [
        ("image_missing.png 1", "train.txt:3: image image_missing.png not found"),
        ("{first} 7", "train.txt:3: label 7 is out of range"),
        ("{first} -1", "train.txt:3: label -1 is out of range"),
        ("justonefield", "train.txt:3: malformed line"),
    ],
)
def test_bad_annotation_line_names_file_and_line(tmp_path, capsys, line, expect):
    root = write_annotations(tmp_path / "flower_data", n_train=12, n_val=6, classes=3)
    lines = (root / "train.txt").read_text().splitlines()
    first = lines[0].split()[0]
    lines.insert(2, line.format(first=first))
    (root / "train.txt").write_text("\n".join(lines) + "\n")
    if "7" in line:  # out of range against the train file's classes: put it in val instead
        val = (root / "val.txt").read_text().splitlines()
        val.insert(2, line.format(first=val[0].split()[0]))
        (root / "val.txt").write_text("\n".join(val) + "\n")
        (root / "train.txt").write_text("\n".join(lines[:2] + lines[3:]) + "\n")
        expect = expect.replace("train.txt", "val.txt")
    rc = train(tmp_path, f"annotations:{root / 'train.txt'}", "--set", f"data.val={root / 'val.txt'}")
    assert rc == 2
    assert expect in one_line_error(capsys)


def test_bad_annotation_lines_skipped_with_count(tmp_path, capsys):
    root = write_annotations(tmp_path / "flower_data", n_train=12, n_val=6, classes=3)
    with open(root / "train.txt", "a") as f:
        f.write("missing_1.png 0\nmalformed\n")
    assert train(tmp_path, f"annotations:{root / 'train.txt'}", "--skip-bad") == 0
    assert "skipped 2 bad annotation line(s)" in capsys.readouterr().err
