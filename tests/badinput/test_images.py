"""Bad image data is refused in one line naming the file; random bytes as an image in a class folder are
refused the same way (hypothesis), and with --skip-bad are left out with one warning."""

from __future__ import annotations

import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from badinput.cases_images import CASES, folder_of
from badinput.harness import Case, refuse
from badinput.trainargs import train, write


@pytest.mark.parametrize("case", CASES, ids=str)
def test_bad_images_are_refused_in_one_line(case, tmp_path, capsys):
    refuse(case, tmp_path, capsys, allowed_new=lambda p: p != "run" and not p.startswith("run/"))


@pytest.fixture(scope="module")
def good_folder(tmp_path_factory) -> Path:
    return folder_of(tmp_path_factory.mktemp("imgs") / "imgs")


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    content=st.binary(max_size=200).filter(
        lambda b: not b.startswith((b"\x89PNG", b"\xff\xd8", b"GIF", b"BM"))
    )
)
def test_random_bytes_as_an_image(content, good_folder, capsys):
    import shutil

    with tempfile.TemporaryDirectory() as name:
        folder = Path(name)
        shutil.copytree(good_folder, folder / "imgs")
        write(folder / "imgs" / "cat" / "random.png", content)
        case = Case(
            "random", lambda f: train(f, "--data", f"folder:{f / 'imgs'}", "--model", "lenet"), "random.png"
        )
        refuse(case, folder, capsys)
