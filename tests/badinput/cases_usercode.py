"""Your own model file (`--model file.py:Name`) that cannot train: a syntax error, a missing file or
name, a forward that raises, the wrong output shape, NaN outputs, a constructor that fails, an import
that fails. Each is found on one batch before the run directory is made, in one line naming the file.
Code that calls sys.exit() (at import, in a constructor, a forward, a `--data py:` function) and a model
or data file that is not a .py file are one line too, with exit 2, never the code's own exit status."""

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


EXITS = HEAD + "import sys\n\n\n"


def _named(file: str, content: str, reference: str):
    """A case whose model is `reference` (relative to the folder, the current directory) to `file`."""

    def build(folder):
        write(folder / file, content)
        return train(folder, "--data", "digits", "--model", reference)

    return build


def _data(file: str, content: str, spec: str):
    def build(folder):
        if content is not None:
            write(folder / file, content)
        return train(folder, "--data", spec)

    return build


def _folder(folder):
    (folder / "nets").mkdir()
    return train(folder, "--data", "digits", "--model", "nets/:Net")


# issue 21: code that ends the process, or a file that is no Python module: exit 2 and one line
EXITING = [
    Case("usercode-exits-at-import", _named("net.py", EXITS + "sys.exit(3)\n", "net.py:Net"),
         "net.py called sys.exit(3) while it was imported"),
    Case("usercode-exits-in-constructor",
         _named("net.py", net("return x", "sys.exit(6)").replace(HEAD, EXITS), "net.py:Net"),
         "net.py:11 called sys.exit(6)"),
    Case("usercode-exits-in-forward",
         _named("net.py", net("sys.exit(5)").replace(HEAD, EXITS), "net.py:Net"), "net.py:14 called sys.exit(5)"),
    Case("usercode-not-a-py-file", _named("model.txt", net("return x"), "model.txt:Net"), "is not a .py file"),
    Case("usercode-a-folder", _folder, "nets is a folder, not a .py file"),
    Case("data-function-exits", _data("ds.py", "def fn():\n    raise SystemExit(4)\n", "py:ds.py:fn"),
         "fn() called sys.exit(4)"),
    Case("data-file-exits-at-import", _data("ds.py", "import sys\nsys.exit(0)\n", "py:ds.py:fn"),
         "ds.py called sys.exit(0) while it was imported"),
    Case("data-not-a-py-file", _data("ds.txt", "def fn():\n    return 1\n", "py:ds.txt:fn"), "not a Python file"),
    Case("data-a-folder", lambda f: (f / "ds").mkdir() or train(f, "--data", "py:ds:fn"), "is a folder"),
]  # fmt: skip

CASES = [
    *EXITING,
    *(_case(*c) for c in MODELS),
    Case("usercode-missing-file", lambda f: train(f, "--model", f"{f / 'nothere.py'}:Net"), "does not exist"),
    Case("usercode-missing-module", lambda f: train(f, "--model", "no_such_pkg_xyz.nets:Net"), "not found"),
]
