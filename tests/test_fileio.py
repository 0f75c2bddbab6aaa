"""Atomic writes and the one safe loader."""

from __future__ import annotations

import os

import pytest
import torch

from kindling.errors import UserError
from kindling.fileio import atomic_torch_save, atomic_write_bytes, load_checkpoint


def test_interrupted_write_leaves_old_file_intact(tmp_path, monkeypatch):
    path = tmp_path / "state.bin"
    atomic_write_bytes(path, b"old contents")

    def crash(*args):
        raise KeyboardInterrupt  # the process is interrupted between writing and publishing

    monkeypatch.setattr(os, "replace", crash)
    with pytest.raises(KeyboardInterrupt):
        atomic_write_bytes(path, b"new contents" * 1000)
    assert path.read_bytes() == b"old contents"
    assert [p.name for p in tmp_path.iterdir()] == ["state.bin"]  # no temp file left behind


def test_written_files_get_the_usual_mode(tmp_path):
    path = atomic_write_bytes(tmp_path / "report.html", b"<html></html>")
    umask = os.umask(0)
    os.umask(umask)
    assert path.stat().st_mode & 0o777 == 0o666 & ~umask


def test_disk_full_says_previous_file_is_intact(tmp_path, monkeypatch):
    path = tmp_path / "last.pt"
    atomic_write_bytes(path, b"previous")

    def full(fd):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "fsync", full)
    with pytest.raises(UserError, match="no space left.*previous file is intact"):
        atomic_write_bytes(path, b"next")
    assert path.read_bytes() == b"previous"


class Exploit:
    """Unpickling this would run a shell command that creates a marker file."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def test_crafted_pickle_is_refused_and_never_runs(tmp_path):
    marker = tmp_path / "pwned"
    path = tmp_path / "evil.pt"
    torch.save({"format": "kindling-checkpoint", "model": Exploit(marker)}, path)
    with pytest.raises(UserError, match="refused to unpickle"):
        load_checkpoint(path)
    assert not marker.exists()


def test_truncated_checkpoint_is_one_clear_error(tmp_path):
    path = tmp_path / "last.pt"
    atomic_torch_save({"format": "kindling-checkpoint", "w": torch.ones(1000)}, path)
    path.write_bytes(path.read_bytes()[:300])
    with pytest.raises(UserError, match="truncated or corrupt"):
        load_checkpoint(path)


def test_foreign_checkpoint_refused(tmp_path):
    path = tmp_path / "other.pt"
    torch.save({"state_dict": {}}, path)
    with pytest.raises(UserError, match="not a kindling checkpoint"):
        load_checkpoint(path)
