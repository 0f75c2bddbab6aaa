"""The trained run the Bundle and run-directory cases damage: one tiny digits run per test process.

The tests hand over the session's `digits_run` (`use`); `make_corpus.py`, which has no fixtures, trains
its own on first use. Every case copies it into its own folder before damaging the copy.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from pathlib import Path

_SOURCE: list[Path] = []
_USER_SOURCE: list[Path] = []


def use(run: Path) -> None:
    _SOURCE[:] = [Path(run)]


def use_user(run: Path) -> None:
    _USER_SOURCE[:] = [Path(run)]


def user_run() -> Path:
    """A digits run of a model file of the user's own (`net.py:Net` beside it), trained here: the
    Bundle whose record of its code the code-trust cases rewrite."""
    if not _USER_SOURCE:
        from badinput.cases_codetrust import USER_NET
        from kindling_testing import train_run

        base = Path(tempfile.mkdtemp(prefix="kindling-corpus-user-"))
        (base / "net.py").write_text(USER_NET)
        args = ("--data", "digits", "--epochs", "1", "--model", f"{base / 'net.py'}:Net")
        use_user(train_run(base / "digits", *args))
    return _USER_SOURCE[0]


def digits() -> Path:
    if not _SOURCE:
        from kindling_testing import train_run

        use(
            train_run(
                Path(tempfile.mkdtemp(prefix="kindling-corpus-")) / "digits",
                "--data",
                "digits",
                "--epochs",
                "1",
            )
        )
    return _SOURCE[0]


def copy_run(folder: Path, name: str = "run", source: Path | None = None) -> Path:
    """A private copy of the digits run (or `source`) in `folder` (reports and plots left out: they are
    not inputs)."""
    run = folder / name
    shutil.copytree(source or digits(), run, ignore=shutil.ignore_patterns("tb", "plots", "report.html"))
    return run


def weights(run: Path) -> Path:
    return run / "best" / "model.safetensors"


def rewrite(run: Path, meta_edit=None, state_edit=None, text: str | None = None, copy: bool = True) -> None:
    """Write the Bundle again with its metadata and/or tensors edited; bundle.json follows the header
    (`copy`) so that the only thing wrong is the edit."""
    from safetensors import safe_open
    from safetensors.torch import load_file, save

    file = weights(run)
    with safe_open(str(file), framework="pt") as handle:
        meta = json.loads(handle.metadata()["kindling"])
    state = load_file(str(file))
    if meta_edit is not None:
        meta_edit(meta)
    if state_edit is not None:
        state_edit(state)
    text = json.dumps(meta) if text is None else text
    file.write_bytes(save(state, metadata={"kindling": text}))
    if copy:
        (run / "best" / "bundle.json").write_text(text)
