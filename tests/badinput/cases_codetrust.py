"""Crafted Bundles and run folders that name code to run: each is refused before anything is imported.

An attacker who sends a Bundle writes its safetensors header, so the record of the model's code
(`model.code`) can name any file, module or function. Every case is a copy of a digits run trained from
a model file of the user's own (`runs.user_run`), its header rewritten to point at planted code that
leaves a MARKER file in the case's folder when it runs: a path into the Bundle (relative and absolute),
a path with `..`, a symlink into the Bundle, a symlinked folder, a planted file the user never trained
with, an installed module's function (`subprocess:getoutput` with a shell command as its option), a
planted module, and a `__main__` name. Each goes through predict, evaluate, export and serve; `refuse`
finds the MARKER as a file left behind. A run folder's config.yaml naming planted code is refused by
`train --resume`, and a Bundle naming a planted `py:` data function by `evaluate`.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from badinput.harness import Case
from badinput.runs import copy_run, rewrite

MARKER = "MARKER"

USER_NET = """import torch.nn as nn


class Net(nn.Module):
    def __init__(self, num_classes=10):
        super().__init__()
        self.fc = nn.Linear(64, num_classes)

    def forward(self, x):
        return self.fc(x.flatten(1))
"""


def planted(marker: Path) -> str:
    """The user's model, plus a line that leaves `marker` behind when the file is imported."""
    return f"open({str(marker)!r}, 'w').write('ran')\n" + USER_NET


def sha(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def _plant(path: Path, marker: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(planted(marker))
    return path


def _bundle_copy(run: Path, marker: Path) -> Path:
    """The Bundle's own copy of the code, replaced by planted code (the attacker writes the whole Bundle)."""
    return _plant(run / "best" / "code" / "net.py", marker)


def _relative(folder, run, marker):
    copy = _bundle_copy(run, marker)
    return {"file": str(copy.relative_to(folder)), "sha256": sha(copy)}


def _absolute(folder, run, marker):
    copy = _bundle_copy(run, marker)
    return {"file": str(copy), "sha256": sha(copy)}


def _dotdot(folder, run, marker):
    file = _plant(folder / "planted.py", marker)
    return {"file": f"{run}/../planted.py", "sha256": sha(file)}


def _symlink(folder, run, marker):
    copy = _bundle_copy(run, marker)
    (folder / "link.py").symlink_to(copy)
    return {"file": str(folder / "link.py"), "sha256": sha(copy)}


def _symlinked_folder(folder, run, marker):
    file = _plant(folder / "real" / "planted.py", marker)
    (folder / "via").symlink_to(folder / "real")
    return {"file": str(folder / "via" / "planted.py"), "sha256": sha(file)}


def _planted(folder, run, marker):
    file = _plant(folder / "planted.py", marker)
    return {"file": str(file), "sha256": sha(file)}


def _module_function(folder, run, marker):
    import subprocess

    file = Path(subprocess.__file__).resolve()
    return {
        "kind": "module",
        "module": "subprocess",
        "name": "getoutput",
        "reference": "subprocess:getoutput",
        "file": str(file),
        "sha256": sha(file),
        "options": {"cmd": f"touch {marker}"},
    }


def _planted_module(folder, run, marker):
    file = _plant(folder / "plantedmod.py", marker)
    return {
        "kind": "module",
        "module": "plantedmod",
        "reference": "plantedmod:Net",
        "file": str(file),
        "sha256": sha(file),
    }


def _session(folder, run, marker):
    return {
        "kind": "session",
        "name": "planted_in_main",
        "reference": "__main__:planted_in_main",
        "sha256": None,
    }


# name -> (record fields over the real one, expected text in the line)
ATTACKS = {
    "relative-into-bundle": (_relative, "relative path"),
    "absolute-into-bundle": (_absolute, "inside the Bundle"),
    "dotdot": (_dotdot, "'..'"),
    "symlink-into-bundle": (_symlink, "inside the Bundle"),
    "symlinked-folder": (_symlinked_folder, "symlink"),
    "planted-file": (_planted, "not a file you trained with"),
    "module-function": (_module_function, "not a file you trained with"),
    "planted-module": (_planted_module, "not a file you trained with"),
    "session-name": (_session, "defined in the Python session"),
}


def craft(folder: Path, attack) -> Path:
    """A copy of the user's run in `folder/run` whose header's code record is rewritten by `attack`."""
    from badinput.runs import user_run

    run = copy_run(folder, source=user_run())
    fields = attack(folder, run, folder / MARKER)
    rewrite(run, meta_edit=lambda meta: meta["model"]["code"].update(fields))
    return run


COMMANDS = {
    "predict": lambda run, folder: ["predict", run, _zeros(folder), "--json"],
    "evaluate": lambda run, folder: ["evaluate", run],
    "export": lambda run, folder: ["export", run, "--format", "torchscript"],
    "serve": lambda run, folder: ["serve", run, "--max-items", "0"],  # refused for the flag if it got past
}


def _zeros(folder: Path) -> Path:
    import numpy as np

    path = folder / "zeros.npy"
    np.save(path, np.zeros((1, 8, 8), dtype=np.uint8))
    return path


def _case(command: str, name: str, attack, expect: str) -> Case:
    def build(folder: Path) -> list:
        return COMMANDS[command](craft(folder, attack), folder)

    return Case(f"{command}-{name}", build, expect)


def _resume_planted_model(folder: Path) -> list:
    """A run folder whose config.yaml names a planted model file: `train --resume` imports nothing."""
    from badinput.runs import user_run

    run = copy_run(folder, source=user_run())
    file = _plant(folder / "planted.py", folder / MARKER)
    config = run / "config.yaml"
    config.write_text(_replace_model(config.read_text(), f"{file}:Net"))
    return ["train", "--resume", run, "--epochs", "2", "--threads", "1"]


def _replace_model(text: str, name: str) -> str:
    import yaml

    config = yaml.safe_load(text)
    config["model"]["name"] = name
    return yaml.safe_dump(config)


def _evaluate_planted_data(folder: Path) -> list:
    """A Bundle whose data config names a planted `py:` function: evaluate runs none of it."""
    from badinput.runs import user_run

    run = copy_run(folder, source=user_run())
    file = folder / "data.py"
    file.write_text(f"def make():\n    open({str(folder / MARKER)!r}, 'w').write('ran')\n")
    rewrite(run, meta_edit=lambda meta: meta["data"].update(name=f"py:{file}:make"))
    return ["evaluate", run]


CASES = [
    *(
        _case(command, name, attack, expect)
        for command in COMMANDS
        for name, (attack, expect) in ATTACKS.items()
    ),
    Case("resume-planted-model", _resume_planted_model, "not a file you trained with"),
    Case("evaluate-planted-data", _evaluate_planted_data, "not a file you trained with"),
]
