"""Your own model file (`--model file.py:Name`) that cannot train: a syntax error, a missing file or
name, a forward that raises, the wrong output shape, NaN outputs, a constructor that fails, an import
that fails. Each is found on one batch before the run directory is made, in one line naming the file."""

from __future__ import annotations

from badinput.harness import Case
from badinput.trainargs import train, write

HEAD = "import torch\nimport torch.nn as nn\n\n\n"


def net(forward: str, init: str = "self.fc = nn.Linear(64, 10)") -> str:
    return (
        HEAD + "class Net(nn.Module):\n    def __init__(self):\n        super().__init__()\n"
        f"        {init}\n\n    def forward(self, x):\n        {forward}\n"
    )


# (name, file content, reference (FILE is the file's path), fragment)
MODELS = [
    ("syntax-error", HEAD + "class Net(nn.Module)\n    pass\n", "{}:Net", "syntax error"),
    ("raises-in-forward", net("raise RuntimeError('boom')"), "{}:Net", "net.py"),
    ("wrong-output-shape", net("return self.fc(x.flatten(1))[:, :7]"), "{}:Net", "shape"),
    (
        "wrong-input-size",
        net("return self.fc(x.flatten(1))", "self.fc = nn.Linear(13, 10)"),
        "{}:Net",
        "shape",
    ),
    ("returns-nan", net("return self.fc(x.flatten(1)) * float('nan')"), "{}:Net", "nan"),
    ("returns-a-tuple", net("return (self.fc(x.flatten(1)), 1)"), "{}:Net", "net.py"),
    ("constructor-raises", net("return x", "raise ValueError('no')"), "{}:Net", "net.py"),
    ("import-fails", "import no_such_module_xyz\n", "{}:Net", "no_such_module_xyz"),
    ("missing-name", net("return self.fc(x.flatten(1))"), "{}:Nett", "did you mean 'Net'"),
    ("not-a-module", "class Net:\n    pass\n", "{}:Net", "not an nn.Module"),
    ("not-a-class", "Net = 3\n", "{}:Net", "not an nn.Module"),
    ("empty-file", "", "{}:Net", "has no 'Net'"),
]


def _case(name: str, content: str, reference: str, expect: str) -> Case:
    def build(folder):
        path = write(folder / "net.py", content)
        return train(folder, "--data", "digits", "--model", reference.format(path))

    return Case(f"usercode-{name}", build, expect)


CASES = [
    *(_case(*c) for c in MODELS),
    Case("usercode-missing-file", lambda f: train(f, "--model", f"{f / 'nothere.py'}:Net"), "does not exist"),
    Case("usercode-missing-module", lambda f: train(f, "--model", "no_such_pkg_xyz.nets:Net"), "not found"),
]
