"""Atomic writes and the one safe loader."""

from __future__ import annotations

import os

import pytest
import torch

from kindling.errors import UserError
from kindling.util.fileio import atomic_torch_save, atomic_write_bytes, load_checkpoint


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


# ---------------------------------------------------------------- text files a user hands over (issue 21)


def test_a_file_padded_with_zeros_is_refused_at_the_chunk_where_they_start(tmp_path):
    """2 GiB of NUL bytes after 3 MB of text (a sparse file: no disk): refused with the line, having
    held a few chunks, never the file (tracemalloc counts every allocation Python makes)."""
    import tracemalloc

    from kindling.util.fileio import CHUNK_BYTES, text_chunks

    path = tmp_path / "t.csv"
    line = "a,b,y\n"
    with open(path, "wb") as f:
        f.write((line * (3 * CHUNK_BYTES // len(line))).encode())
        f.truncate(2**31)
    tracemalloc.start()
    try:
        with pytest.raises(
            UserError, match=r"t\.csv: line 524289 holds a NUL byte: binary data, not text; x"
        ):
            for _chunk in text_chunks(path, advice="x"):
                pass
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 8 * CHUNK_BYTES, f"{peak / 2**20:.0f} MiB held"


def test_undecodable_bytes_are_placed_exactly_across_chunk_boundaries(tmp_path):
    from kindling.util.fileio import CHUNK_BYTES, NotDecodable, read_text_checked

    path = tmp_path / "t.txt"
    head = b"x" * (CHUNK_BYTES - 1) + "é\n".encode()  # the é is cut in two by the first chunk's end
    path.write_bytes(head + b"ok\nbad \xff here\n")
    with pytest.raises(NotDecodable) as caught:
        read_text_checked(path)
    assert (caught.value.offset, caught.value.line, caught.value.bad[:1]) == (len(head) + 7, 3, b"\xff")
    path.write_bytes(head + b"ok\n")
    assert read_text_checked(path) == "x" * (CHUNK_BYTES - 1) + "é\nok\n"


def test_utf16_text_holds_zero_bytes_and_is_text(tmp_path):
    from kindling.util.fileio import read_text_checked

    path = tmp_path / "t.csv"
    path.write_bytes("a,y\n1,猫\n".encode("utf-16"))  # with its BOM; every ASCII character has a zero byte
    assert read_text_checked(path, "utf-16") == "a,y\n1,猫\n"


def test_a_runaway_line_is_refused_with_its_number_and_lines_stream(tmp_path):
    from kindling.util.fileio import CHUNK_BYTES, text_chunks, text_lines

    path = tmp_path / "t.txt"
    path.write_text("short\n" + "x" * (CHUNK_BYTES + 10) + "\nend", encoding="utf-8")
    with pytest.raises(UserError, match="line 2 is longer than 1,048,576 characters"):
        list(text_chunks(path, max_line=CHUNK_BYTES))
    assert [len(line) for line in text_lines(path)] == [5, CHUNK_BYTES + 10, 3]
