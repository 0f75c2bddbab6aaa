"""Damaged run directories, given to evaluate, predict, report and `train --resume`.

Each case is a copy of a trained digits run (or a folder that is no run at all) with one thing wrong:
the folder itself, config.yaml, checkpoints/last.pt (truncated, empty, random bytes, a pickle that would
run code if unpickled, a dict without the training state) or the best/ Bundle folder. A resumed run must
refuse before it trains or writes anything.
"""

from __future__ import annotations

import io
import os
import random
import shutil
from pathlib import Path

from badinput.harness import Case
from badinput.runs import copy_run


class RunsCode:
    """Unpickling this would call os.system: a checkpoint must never be unpickled with code."""

    def __reduce__(self):
        return (os.system, ("echo pwned",))


def _folder(make):
    """A case whose 'run' is not a copy of the trained run."""

    def build(folder: Path) -> Path:
        run = folder / "run"
        make(run)
        return run

    return build


def _copy(damage):
    def build(folder: Path) -> Path:
        run = copy_run(folder)
        damage(run)
        return run

    return build


def _write(relative: str, data: bytes | str):
    def damage(run: Path) -> None:
        path = run / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data.encode() if isinstance(data, str) else data)

    return damage


def _edit(relative: str, fn):
    def damage(run: Path) -> None:
        path = run / relative
        path.write_bytes(fn(path.read_bytes()))

    return damage


def _torch_bytes(obj) -> bytes:
    import torch

    buffer = io.BytesIO()
    torch.save(obj, buffer)
    return buffer.getvalue()


def _checkpoint_object(make):
    def damage(run: Path) -> None:
        (run / "checkpoints" / "last.pt").write_bytes(_torch_bytes(make()))

    return damage


def _checkpoint_edit(edit):
    """last.pt loaded, edited in place by `edit(state)`, and saved again."""

    def damage(run: Path) -> None:
        import torch

        path = run / CKPT
        state = torch.load(path, map_location="cpu", weights_only=True)
        edit(state)
        path.write_bytes(_torch_bytes(state))

    return damage


def _zeros_like_bias(state: dict) -> None:
    import torch

    state["model"]["classifier.1.bias"] = torch.zeros(4)


def _remove(*relatives: str):
    def damage(run: Path) -> None:
        for relative in relatives:
            path = run / relative
            shutil.rmtree(path) if path.is_dir() else path.unlink()

    return damage


def _replace_with_dir(relative: str):
    def damage(run: Path) -> None:
        (run / relative).unlink()
        (run / relative).mkdir()

    return damage


def _empty_best(run: Path) -> None:
    shutil.rmtree(run / "best")
    (run / "best").mkdir()


def _pickle_with_code() -> bytes:
    import pickle

    return pickle.dumps({"model": RunsCode()})


CKPT = "checkpoints/last.pt"
RANDOM = random.Random(1).randbytes(5000)

# name -> (build(folder) -> run, {command: expected text}); the commands each case is given to
FOLDERS = {
    "missing_path": (lambda folder: folder / "no-such-run", "does not exist"),
    "empty_folder": (_folder(lambda run: run.mkdir()), "not a kindling run"),
    "unrelated_folder": (_folder(lambda run: (run.mkdir(), (run / "notes.txt").write_text("hi"))), "not a"),
    "a_file": (_folder(lambda run: run.write_text("not a folder")), "not a"),
    "no_best_yet": (_copy(_remove("best")), "no best model yet"),
    "best_empty": (_copy(_empty_best), "no best model yet"),
}
RESUMES = {
    "config_missing": (_copy(_remove("config.yaml")), "config.yaml"),
    "config_broken_yaml": (_copy(_write("config.yaml", "data: [digits,\n  model: {")), "not valid YAML"),
    "config_a_list": (_copy(_write("config.yaml", "- 1\n- 2\n")), "config.yaml"),
    "config_empty": (_copy(_write("config.yaml", "")), "config.yaml is empty"),
    "config_binary": (_copy(_write("config.yaml", RANDOM)), "not UTF-8"),
    "config_unknown_key": (
        _copy(_edit("config.yaml", lambda b: b + b"\nbogus_section: 1\n")),
        "bogus_section",
    ),
    "config_bad_value": (
        _copy(_edit("config.yaml", lambda b: b.replace(b"epochs: 2", b"epochs: many"))),
        "epochs",
    ),
    "checkpoint_missing": (_copy(_remove(CKPT)), "no checkpoint to resume"),
    "checkpoint_empty": (_copy(_write(CKPT, b"")), "last.pt"),
    "checkpoint_truncated": (_copy(_edit(CKPT, lambda b: b[: len(b) // 2])), "last.pt"),
    "checkpoint_random_bytes": (_copy(_write(CKPT, RANDOM)), "last.pt"),
    "checkpoint_pickle_with_code": (
        _copy(lambda run: _write(CKPT, _pickle_with_code())(run)),
        "refused to unpickle",
    ),
    "checkpoint_torch_pickle_with_code": (_copy(_checkpoint_object(RunsCode)), "refused to unpickle"),
    "checkpoint_a_list": (_copy(_checkpoint_object(lambda: [1, 2, 3])), "last.pt"),
    "checkpoint_wrong_keys": (_copy(_checkpoint_object(lambda: {"foo": 1})), "last.pt"),
    "checkpoint_is_a_folder": (_copy(_replace_with_dir(CKPT)), "no checkpoint to resume"),
    "checkpoint_no_model": (_copy(_checkpoint_edit(lambda c: c.pop("model"))), "last.pt"),
    "checkpoint_model_shape_edited": (_copy(_checkpoint_edit(_zeros_like_bias)), "last.pt"),
    "checkpoint_model_key_missing": (
        _copy(_checkpoint_edit(lambda c: c["model"].pop("features.0.weight"))),
        "last.pt",
    ),
    "checkpoint_optimizer_garbage": (
        _copy(_checkpoint_edit(lambda c: c.update(optimizer={"x": 1}))),
        "last.pt",
    ),
    "checkpoint_format_version_99": (
        _copy(_checkpoint_edit(lambda c: c.update(format_version=99))),
        "last.pt",
    ),
    "checkpoint_history_a_string": (_copy(_checkpoint_edit(lambda c: c.update(history="x"))), "last.pt"),
    "checkpoint_progress_missing": (_copy(_checkpoint_edit(lambda c: c.pop("progress"))), "last.pt"),
}
# report rebuilds the data from config.yaml: the same damaged configs, through report
REPORTS = {name: RESUMES[name] for name in RESUMES if name.startswith("config_")}
# every folder case for every command; the checkpoint and config cases for train --resume, and the
# config cases for report too (it reads config.yaml to rebuild the data)
COMMANDS = {
    "evaluate": lambda run, folder: ["evaluate", run],
    "predict": lambda run, folder: ["predict", run, _zeros(folder)],
    "report": lambda run, folder: ["report", run],
    "resume": lambda run, folder: ["train", "--resume", run, "--epochs", "3"],
}


def _zeros(folder: Path) -> Path:
    import numpy as np

    path = folder / "zeros.npy"
    np.save(path, np.zeros((1, 8, 8), dtype=np.uint8))
    return path


def _case(command: str, name: str, build_run, expect: str) -> Case:
    def build(folder: Path) -> list:  # the run named from inside `folder`, as a user types runs/NAME
        return COMMANDS[command](build_run(folder).relative_to(folder), folder)

    return Case(f"{command}-{name}", build, expect)


CASES = [
    _case(command, name, build, expect)
    for command in COMMANDS
    for name, (build, expect) in FOLDERS.items()
    # a run without best/ resumes, and its report says there is no model yet: neither is a refusal
    if not (command in ("resume", "report") and name in ("no_best_yet", "best_empty"))
] + [_case("resume", name, build, expect) for name, (build, expect) in RESUMES.items()]
CASES += [_case("report", name, build, expect) for name, (build, expect) in REPORTS.items()]
