"""Your own loss, metrics and callbacks (`--loss`, `--metric`, `--callback`) that cannot be used.

CASES are refused before the run folder is written: a spec that names no code, a missing file or name, a
loss that returns a vector, an int, NaN or a detached value on the first batch, a metric key that is
kindling's own or given twice, a monitor that names no metric, a callback with no event. STOPS are found
while training (a metric that raises or returns nonsense, a callback that raises): one line naming it and
where it stopped, exit 2, and the run folder kept only with a checkpoint that resumes (`resumable`).
"""

from __future__ import annotations

from badinput.harness import Case
from badinput.trainargs import train, write

HEAD = "import torch\nimport torch.nn.functional as F\n\n\n"


def loss(body: str) -> str:
    return HEAD + f"def fn(outputs, targets):\n    {body}\n"


def _with(file: str, content: str, *args):
    def build(folder):
        write(folder / file, content)
        return train(folder, "--data", "digits", "--model", "mlp", *args)

    return build


LOSSES = [
    ("returns-a-vector", "return F.cross_entropy(outputs, targets, reduction='none')", "returned a tensor of shape (16,)"),
    ("returns-an-int", "return 3", "returned an int"),
    ("returns-nan", "return F.cross_entropy(outputs, targets) * float('nan')", "is nan on the first batch"),
    ("returns-detached", "return F.cross_entropy(outputs, targets).detach()", "does not depend on the outputs"),
    ("raises", "raise RuntimeError('shapes differ')", "your loss fn raised RuntimeError: shapes differ"),
    ("returns-a-long-tensor", "return targets.sum()", "(int64)"),
]  # fmt: skip

STATE = "\n    def state_dict(self):\n        return {'f': print}\n"
METRIC = HEAD + "def top3(outputs, targets):\n    return 1.0\n"
NO_EVENTS = "class Quiet:\n    def on_epoch_ended(self, trainer, record):\n        pass\n"
NEEDS_ARGS = "class Stop:\n    def __init__(self, patience):\n        self.patience = patience\n\n    def on_epoch_end(self, trainer, record):\n        pass\n"  # fmt: skip


def callback(event: str, params: str, body: str) -> str:
    return f"class Flaky:\n    def on_{event}(self, trainer{params}):\n        {body}\n"


BEFORE = [
    *(Case(f"loss-{name}", _with("l.py", loss(body), "--loss", "l.py:fn"), expect) for name, body, expect in LOSSES),
    Case("loss-not-a-spec", _with("l.py", loss("return 0"), "--loss", "l.py"), "train.loss = 'l.py' does not name code"),
    Case("loss-missing-file", lambda f: train(f, "--loss", "nothere.py:fn"), "does not exist"),
    Case("loss-missing-name", _with("l.py", loss("return 0").replace("fn", "focal"), "--loss", "l.py:focall"),
         "has no 'focall' (did you mean 'focal'?)"),
    Case("loss-not-callable", _with("l.py", "fn = 3\n", "--loss", "l.py:fn"), "is an int, not a function"),
    Case("loss-of-a-gone-session", lambda f: train(f, "--loss", "__main__:focal"), "handed to kindling.fit in the Python session"),
    Case("loss-syntax-error", _with("l.py", "def fn(:\n", "--loss", "l.py:fn"), "syntax error"),
    Case("loss-with-class-weights", _with("l.py", loss("return 0"), "--loss", "l.py:fn", "--class-weights", "auto"),
         "train.class_weights shapes the task's own loss, which your --loss replaces"),
    Case("loss-with-label-smoothing", _with("l.py", loss("return 0"), "--loss", "l.py:fn", "--label-smoothing", "0.1"),
         "train.label_smoothing shapes the task's own loss"),
    Case("metric-key-of-kindlings", _with("m.py", METRIC, "--metric", "acc=m.py:top3"), "'acc' is one of kindling's own values"),
    Case("metric-twice", _with("m.py", METRIC, "--metric", "m.py:top3", "--metric", "m.py:top3"), "names 'top3' twice"),
    Case("metric-bad-key", _with("m.py", METRIC, "--metric", "top 3=m.py:top3"), "top 3=m.py does not exist"),
    Case("monitor-names-no-metric", _with("m.py", METRIC, "--metric", "m.py:top3", "--monitor", "val_top5"), "names no metric"),
    Case("monitor-without-metrics", lambda f: train(f, "--monitor", "val_top3"), "yours: none given"),
    Case("callback-with-no-event", _with("c.py", NO_EVENTS, "--callback", "c.py:Quiet"), "has none of the methods"),
    Case("callback-needs-arguments", _with("c.py", NEEDS_ARGS, "--callback", "c.py:Stop"), "give it defaults"),
    Case("callback-state-not-plain", _with("c.py", callback("step_end", "", "pass") + STATE, "--callback", "c.py:Flaky"),
         "state_dict() holds a builtin_function_or_method"),
    Case("callback-exits", _with("c.py", "import sys\nsys.exit(3)\n", "--callback", "c.py:Stop"), "called sys.exit(3)"),
]  # fmt: skip


# (case, resumable: the run folder holds a checkpoint that resumes; else nothing is left)
STOPS = [
    (Case("metric-raises", _with("m.py", HEAD + "def top3(o, t):\n    raise ValueError('boom')\n", "--metric", "m.py:top3"),
          "your metric top3 raised ValueError: boom"), True),
    (Case("metric-returns-a-string", _with("m.py", HEAD + "def top3(o, t):\n    return 'high'\n", "--metric", "m.py:top3"),
          "returned 'high'"), True),
    (Case("metric-returns-nan", _with("m.py", HEAD + "def top3(o, t):\n    return float('nan')\n", "--metric", "m.py:top3"),
          "returned nan"), True),
    (Case("metric-returns-a-vector", _with("m.py", HEAD + "def top3(o, t):\n    return o.argmax(1)\n", "--metric", "m.py:top3"),
          "returned a Tensor of shape ("), True),
    (Case("callback-raises-at-fit-start", _with("c.py", callback("fit_start", "", "raise KeyError('lr')"), "--callback", "c.py:Flaky"),
          "in on_fit_start; stopped at epoch 1, batch 0; nothing was saved"), False),
    (Case("callback-raises-in-step-end", _with("c.py", callback("step_end", "", "1 / 0"), "--callback", "c.py:Flaky"),
          "raised ZeroDivisionError: division by zero in on_step_end"), True),
    (Case("callback-raises-in-validation-end", _with("c.py", callback("validation_end", ", metrics", "metrics['top9']"), "--callback", "c.py:Flaky"),
          "raised KeyError: 'top9' in on_validation_end"), True),
    (Case("callback-raises-in-epoch-end", _with("c.py", callback("epoch_end", ", record", "raise OSError('disk')"), "--callback", "c.py:Flaky"),
          "in on_epoch_end; stopped after epoch 1; the last checkpoint is kept"), True),
]  # fmt: skip

CASES = [*BEFORE, *(case for case, _ in STOPS)]


# ---------------------------------------------------------------- crafted Bundles: evaluate imports nothing

MARKER = "MARKER"


def _planted(folder, name="planted.py"):
    """A metric file nobody trained with, which leaves MARKER behind if it is ever imported."""
    import hashlib

    path = folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f"open({str(folder / MARKER)!r}, 'w').write('ran')\n\ndef top3(o, t):\n    return 1.0\n")
    return path, hashlib.sha256(path.read_bytes()).hexdigest()


def _record(file, sha, **over) -> dict:
    return {"kind": "file", "file": str(file), "name": "top3", "reference": f"{file}:top3", "sha256": sha,
            "copy": "code/planted.py", "mode": "max", **over}  # fmt: skip


def _crafted(make):
    """A copy of the digits run whose header names a metric of `make(folder, run)` -> user_code."""

    def build(folder):
        from badinput.runs import copy_run, rewrite

        run = copy_run(folder)
        code = make(folder, run)
        rewrite(run, meta_edit=lambda meta: meta["metrics"].update(user_code=code))
        return ["evaluate", run]

    return build


def _planted_file(folder, run):
    return {"metrics": {"top3": _record(*_planted(folder))}}


def _into_bundle(folder, run):
    file, sha = _planted(run / "best" / "code")
    return {"metrics": {"top3": _record(file, sha)}}


def _relative(folder, run):
    file, sha = _planted(folder)
    return {"metrics": {"top3": _record(file.name, sha)}}


def _planted_copy(folder, run):
    """--trust-code runs the Bundle's copy only when its sha256 is the recorded one."""
    _planted(run / "best" / "code")
    return {"metrics": {"top3": _record(folder / "gone.py", "0" * 64)}}


CRAFTED = [
    Case("crafted-metric-planted-file", _crafted(_planted_file), "is not a file you trained with here"),
    Case("crafted-metric-into-bundle", _crafted(_into_bundle), "is inside the Bundle, not your file"),
    Case("crafted-metric-relative", _crafted(_relative), "is a relative path"),
    Case("crafted-metric-record-not-an-object", _crafted(lambda f, r: "top3"), "is not an object; the bundle is damaged"),
    Case("crafted-metric-name-a-list", _crafted(lambda f, r: {"metrics": {"top3": _record(*_planted(f), name=["x"])}}),
         "is not a Python name"),
    Case("crafted-metric-copy-differs",
         lambda f: [*_crafted(_planted_copy)(f), "--trust-code"], "does not match its recorded sha256"),
]  # fmt: skip

CASES = [*CASES, *CRAFTED]
