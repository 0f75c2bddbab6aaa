"""Your own loss, metrics and callbacks (issue 25 part 5), through the CLI and kindling.fit, with resume.

Real training on scikit-learn's digits (an MLP, one thread, a few epochs, deterministic), real files for
the user's code; a resume is checked bit for bit against an uninterrupted run.
"""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch

import kindling
from kindling.cli.main import main

QUIET = ["--model", "mlp", "--threads", "1", "--logger", "none", "--baseline", "none", "--deterministic"]

LOSSES = '''
import torch
import torch.nn as nn
import torch.nn.functional as F


def smooth(outputs, targets, eps=0.1):
    """Cross-entropy with label smoothing, written out as PyTorch computes it."""
    logp = F.log_softmax(outputs, dim=1)
    nll = F.nll_loss(logp, targets)
    spread = -logp.sum(dim=1).mean()
    return (1 - eps) * nll + spread * (eps / outputs.shape[1])


class FocalLoss(nn.Module):
    """Lin et al.'s focal loss: cross-entropy scaled by (1 - p_true) ** gamma."""

    def __init__(self, gamma=2.0):
        super().__init__()
        self.gamma = gamma

    def forward(self, outputs, targets):
        logp = F.log_softmax(outputs, dim=1).gather(1, targets[:, None])[:, 0]
        return (-(1 - logp.exp()) ** self.gamma * logp).mean()


focal = FocalLoss(gamma=2.0)
'''

METRICS = '''
def top3(outputs, targets):
    """Share of samples whose class is among the three highest outputs."""
    best3 = outputs.topk(3, dim=1).indices
    return (best3 == targets[:, None]).any(dim=1).float().mean()


def errors(outputs, targets):
    return float((outputs.argmax(1) != targets).sum())


errors.mode = "min"
'''

CALLBACKS = '''
import kindling


class StopAt:
    """Stops once the validation accuracy reaches 0.94."""

    def on_validation_end(self, trainer, metrics):
        if metrics["acc"] >= 0.94:
            raise kindling.StopTraining(f"good enough: val acc {metrics['acc']:.3f}")


class Steps:
    """Counts the training batches it saw; its count is in every checkpoint."""

    def __init__(self):
        self.seen = 0

    def on_step_end(self, trainer):
        self.seen += 1

    def on_fit_end(self, trainer):
        print(f"steps seen: {self.seen}")

    def state_dict(self):
        return {"seen": self.seen}

    def load_state_dict(self, state):
        self.seen = state["seen"]
'''

IMBALANCED = '''
import numpy as np
from sklearn.datasets import load_digits


def make():
    """Digits with one class (3) kept at 5% of its samples: about 9 against about 180 of each other."""
    X, y = load_digits(return_X_y=True)
    rare = np.flatnonzero(y == 3)
    drop = np.random.default_rng(0).choice(rare, len(rare) - round(0.05 * len(rare)), replace=False)
    keep = np.setdiff1d(np.arange(len(y)), drop)
    return X[keep].astype("float32"), y[keep]
'''


@pytest.fixture()
def code(tmp_path, monkeypatch) -> Path:
    """The user's files in the current folder."""
    for name, text in {
        "losses.py": LOSSES,
        "metrics.py": METRICS,
        "callbacks.py": CALLBACKS,
        "imbalanced.py": IMBALANCED,
    }.items():
        (tmp_path / name).write_text(text, encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    return tmp_path


def train(run_dir: Path, *args) -> int:
    return main(["train", "--run-dir", str(run_dir), *QUIET, *map(str, args)])


def weights(run_dir: Path) -> dict:
    return torch.load(Path(run_dir) / "checkpoints" / "last.pt", weights_only=True)["model"]


def same_weights(a: Path, b: Path) -> bool:
    wa, wb = weights(a), weights(b)
    return wa.keys() == wb.keys() and all(torch.equal(wa[k], wb[k]) for k in wa)


def history(run_dir: Path) -> list[dict]:
    return [json.loads(line) for line in (Path(run_dir) / "metrics.jsonl").read_text().splitlines()]


def imported(path: Path):
    """The user's file imported as a module of its own, as a script does `from losses import smooth`."""
    spec = importlib.util.spec_from_file_location(path.stem, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    sys.modules[path.stem] = module
    return module


# ---------------------------------------------------------------- the loss


def test_a_label_smoothing_loss_by_hand_trains_the_weights_pytorchs_label_smoothing_does(code):
    assert train(code / "torch", "--epochs", "2", "--label-smoothing", "0.1") == 0
    assert train(code / "cli", "--epochs", "2", "--loss", "losses.py:smooth") == 0
    assert same_weights(code / "torch", code / "cli")  # bit for bit
    assert history(code / "cli")[-1]["val_loss"] == history(code / "torch")[-1]["val_loss"]
    # kindling.fit with the function itself, one epoch and a resume to the second
    smooth = imported(code / "losses.py").smooth
    quiet = dict(model="mlp", threads=1, logger="none", baseline="none", deterministic=True)
    kindling.fit(data="digits", loss=smooth, epochs=1, run_dir="api", **quiet)
    kindling.fit(resume="api", epochs=2)
    assert same_weights(code / "torch", code / "api")
    saved = kindling.load("api").bundle.meta["metrics"]["user_code"]["loss"]
    assert saved["name"] == "smooth" and (code / "api" / "best" / saved["copy"]).read_text() == LOSSES


def test_a_focal_loss_trains_on_imbalanced_digits_and_resumes_exactly(code, capsys):
    data = ["--data", "py:imbalanced.py:make", "--epochs", "4"]
    assert train(code / "straight", *data, "--loss", "losses.py:focal") == 0
    assert train(code / "cut", *data[:-1], "2", "--loss", "losses.py:focal") == 0
    assert main(["train", "--resume", str(code / "cut"), "--epochs", "4"]) == 0
    assert same_weights(code / "straight", code / "cut")
    assert main(["evaluate", str(code / "straight"), "--json"]) == 0
    result = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert result["report"]["3"]["support"] <= 3 and result["macro_f1"] > 0.8
    # the loss trained on is the focal one: the val loss of the best epoch is the focal loss by hand
    bundle = kindling.load(code / "straight").bundle
    focal = imported(code / "losses.py").FocalLoss(gamma=2.0)
    from kindling import data as data_mod
    from kindling.bundle.rundir import load_saved_config

    val = data_mod.build(load_saved_config(code / "straight").data, quiet=True).val
    x, y, _ = next(val.batches(len(val)))
    from kindling.task import inputs_for

    with torch.no_grad():
        out = bundle.model(inputs_for(bundle.signature).preprocess("cpu")(x))
    assert float(focal(out, y)) == pytest.approx(bundle.meta["metrics"]["val"]["loss"], rel=1e-5)
    # kindling.fit with an instance: this session's object (recorded as such), resumed by handing it again
    quiet = dict(model="mlp", threads=1, logger="none", baseline="none", deterministic=True)
    kindling.fit(data="py:imbalanced.py:make", loss=focal, epochs=2, run_dir="api", **quiet)
    with pytest.raises(kindling.UserError, match="hand it to kindling.fit again"):
        main_process_resume("api")
    kindling.fit(resume="api", loss=focal, epochs=4)
    assert same_weights(code / "straight", code / "api")


def main_process_resume(run_dir: str) -> None:
    """A resume that does not hand the session's loss again (the registry forgets it, as a new process)."""
    from kindling.models import userrefs

    kept = dict(userrefs._SESSION)
    userrefs._SESSION.clear()
    try:
        kindling.fit(resume=run_dir, epochs=4)
    finally:
        userrefs._SESSION.update(kept)


# ---------------------------------------------------------------- metrics


def test_a_top3_metric_picks_the_best_model_and_evaluate_recomputes_it(code, capsys):
    mine = ["--metric", "metrics.py:top3", "--metric", "wrong=metrics.py:errors", "--monitor", "val_top3"]
    assert train(code / "straight", "--epochs", "4", *mine, "--logger", "csv") == 0
    records = history(code / "straight")
    assert all(0 < r["val_top3"] <= 1 and r["val_wrong"] >= 0 for r in records)
    best = max(records, key=lambda r: r["val_top3"])  # the first of the highest: only better replaces
    bundle = kindling.load(code / "straight").bundle
    assert (
        bundle.meta["metrics"]["monitor"] == "val_top3" and bundle.meta["metrics"]["epoch"] == best["epoch"]
    )
    capsys.readouterr()
    assert main(["evaluate", str(code / "straight"), "--split", "val", "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["user_metrics"]["top3"] == pytest.approx(best["val_top3"], abs=1e-6)
    assert result["user_metrics"]["wrong"] == pytest.approx(best["val_wrong"])
    plot = json.loads((code / "straight" / "plots" / "index.json").read_text())
    assert "user_metrics" in json.dumps(plot)
    # resume: two epochs, then the other two
    assert train(code / "cut", "--epochs", "2", *mine) == 0
    assert main(["train", "--resume", str(code / "cut"), "--epochs", "4"]) == 0
    assert same_weights(code / "straight", code / "cut")
    assert [r["val_top3"] for r in history(code / "cut")] == [r["val_top3"] for r in records]
    # kindling.fit, with the functions themselves
    metrics = imported(code / "metrics.py")
    quiet = dict(model="mlp", threads=1, logger="none", baseline="none", deterministic=True)
    run = kindling.fit(
        data="digits", epochs=4, metrics={"top3": metrics.top3, "wrong": metrics.errors}, monitor="val_top3",
        run_dir="api", **quiet,
    )  # fmt: skip
    assert same_weights(code / "straight", run.dir)
    assert run.evaluate("val")["user_metrics"] == result["user_metrics"]
    kindling.fit(data="digits", epochs=2, metrics={"top3": metrics.top3, "wrong": metrics.errors},
                 monitor="val_top3", run_dir="api-cut", **quiet)  # fmt: skip
    kindling.fit(resume="api-cut", epochs=4)
    assert same_weights(code / "straight", code / "api-cut")


def test_a_metric_that_says_lower_is_better_picks_its_lowest(code):
    assert (
        train(code / "run", "--epochs", "3", "--metric", "metrics.py:errors", "--monitor", "val_errors") == 0
    )
    lowest = min(history(code / "run"), key=lambda r: r["val_errors"])
    assert kindling.load(code / "run").bundle.meta["metrics"]["epoch"] == lowest["epoch"]
    assert main(["report", str(code / "run"), "--refresh"]) == 0  # the page's best epoch: the lowest too
    assert json.loads((code / "run" / "plots" / "report.json").read_text())["monitor_mode"] == "min"


def test_evaluate_imports_a_metric_only_from_code_you_pointed_at(code, tmp_path, capsys, monkeypatch):
    from kindling.util import codetrust

    monkeypatch.setattr(codetrust, "_POINTED", {})  # --code names a file for this process: this test's
    assert train(code / "run", "--epochs", "1", "--metric", "metrics.py:top3") == 0
    (code / "metrics.py").write_text(METRICS + "\n# edited\n", encoding="utf-8")
    capsys.readouterr()
    assert main(["evaluate", str(code / "run")]) == 2
    err = capsys.readouterr().err
    assert "metrics.py (the code of metric 'top3') changed since training" in err and "--trust-code" in err
    assert main(["evaluate", str(code / "run"), "--trust-code", "--json"]) == 0
    assert "top3" in json.loads(capsys.readouterr().out)["user_metrics"]
    elsewhere = tmp_path / "elsewhere.py"
    elsewhere.write_text(METRICS, encoding="utf-8")  # the bytes it trained with, named again
    assert main(["evaluate", str(code / "run"), "--code", str(elsewhere), "--json"]) == 0
    assert "top3" in json.loads(capsys.readouterr().out)["user_metrics"]


def test_a_notebooks_metric_works_in_its_session_and_is_left_out_elsewhere_with_a_note(code):
    quiet = dict(model="mlp", threads=1, logger="none", baseline="none")
    run = kindling.fit(
        data="digits", epochs=1, run_dir="nb", metrics={"top2": lambda o, t: (o.topk(2, 1).indices == t[:, None]).any(1).float().mean()}, **quiet
    )  # fmt: skip
    assert 0 < run.evaluate("val")["user_metrics"]["top2"] <= 1
    other = subprocess.run(
        [sys.executable, "-m", "kindling", "evaluate", "nb", "--json"],
        capture_output=True,
        text=True,
        cwd=code,
    )
    assert other.returncode == 0, other.stderr
    assert "user_metrics" not in json.loads(other.stdout)
    note = [line for line in other.stderr.splitlines() if "top2" in line]
    assert len(note) == 1 and "not recomputed here" in note[0]
    loaded = subprocess.run(  # predict and serve need neither the metric nor the loss
        [sys.executable, "-c", "import kindling; print(kindling.load('nb').classes)"],
        capture_output=True, text=True, cwd=code,
    )  # fmt: skip
    assert loaded.returncode == 0 and "'9'" in loaded.stdout and not loaded.stderr


# ---------------------------------------------------------------- callbacks


def test_a_callback_stops_training_on_a_condition_and_a_resume_stops_where_it_would_have(code, capsys):
    assert train(code / "straight", "--epochs", "8", "--callback", "callbacks.py:StopAt") == 0
    stopped = len(history(code / "straight"))
    assert 1 < stopped < 8 and "good enough: val acc" in capsys.readouterr().out
    assert history(code / "straight")[-1]["val_acc"] >= 0.94 > history(code / "straight")[-2]["val_acc"]
    assert train(code / "cut", "--epochs", str(stopped - 1), "--callback", "callbacks.py:StopAt") == 0
    assert main(["train", "--resume", str(code / "cut"), "--epochs", "8"]) == 0
    assert same_weights(code / "straight", code / "cut") and len(history(code / "cut")) == stopped
    stop_at = imported(code / "callbacks.py").StopAt
    quiet = dict(model="mlp", threads=1, logger="none", baseline="none", deterministic=True)
    run = kindling.fit(data="digits", epochs=8, callbacks=[stop_at()], run_dir="api", **quiet)
    assert same_weights(code / "straight", run.dir)
    kindling.fit(data="digits", epochs=stopped - 1, callbacks=[stop_at()], run_dir="api-cut", **quiet)
    kindling.fit(resume="api-cut", epochs=8, callbacks=[stop_at()])
    assert same_weights(code / "straight", code / "api-cut") and len(history(code / "api-cut")) == stopped


def test_a_callbacks_state_resumes_with_it(code, capsys):
    from kindling.cli.verify_resume import InterruptAt
    from kindling.config.load import load_config
    from kindling.runner import train as run_training
    from kindling.train.events import Interrupted

    def config(run_dir):
        flags = {"train.epochs": 2, "train.threads": 1, "train.logger": "none", "train.baseline": "none"}
        flags.update({"model.name": "mlp", "train.deterministic": True, "run_dir": str(run_dir)})
        return load_config(None, {**flags, "train.callbacks": ["callbacks.py:Steps"]})

    run_training(config(code / "straight"), echo=lambda *a: None)
    straight = capsys.readouterr().out
    with pytest.raises(Interrupted):
        run_training(config(code / "cut"), echo=lambda *a: None, callbacks=[InterruptAt(25)])  # mid-epoch 2
    run_training(config(code / "cut"), resume=code / "cut", echo=lambda *a: None)
    assert same_weights(code / "straight", code / "cut")
    steps = 2 * -(-1211 // 64)
    assert f"steps seen: {steps}" in straight and f"steps seen: {steps}" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("event", "body", "kept"),
    [
        (
            "epoch_start",
            "if trainer.progress.epoch == 1: raise KeyError('x')",
            "its checkpoint resumes there",
        ),
        ("step_end", "if trainer.progress.step == 25: raise KeyError('x')", "its checkpoint resumes there"),
        (
            "validation_end",
            "if trainer.progress.epoch == 1: raise KeyError('x')",
            "its checkpoint resumes there",
        ),
        ("epoch_end", "if record['epoch'] == 1: raise KeyError('x')", "the last checkpoint is kept"),
    ],
)
def test_a_callback_that_raises_stops_with_a_checkpoint_that_resumes_exactly(code, capsys, event, body, kept):
    args = ["--epochs", "2"]
    assert train(code / "straight", *args) == 0
    params = (
        "trainer, record"
        if event == "epoch_end"
        else "trainer, metrics"
        if event == "validation_end"
        else "trainer"
    )
    (code / "flaky.py").write_text(f"class Flaky:\n    def on_{event}(self, {params}):\n        {body}\n")
    capsys.readouterr()
    assert train(code / "cut", *args, "--callback", "flaky.py:Flaky") == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert (
        len(err) == 1
        and f"your callback Flaky raised KeyError: 'x' in on_{event}" in err[0]
        and kept in err[0]
    )
    assert f"fix it, then: kindling train --resume {code / 'cut'}" in err[0]
    (code / "flaky.py").write_text(f"class Flaky:\n    def on_{event}(self, {params}):\n        pass\n")
    assert main(["train", "--resume", str(code / "cut")]) == 2  # changed since the run started: refused
    assert "changed since this run started" in capsys.readouterr().err
    assert main(["train", "--resume", str(code / "cut"), "--callback", "flaky.py:Flaky"]) == 0  # named again
    assert same_weights(code / "straight", code / "cut")
    assert history(code / "cut") == [
        {**r, "seconds": c["seconds"]} for r, c in zip(history(code / "straight"), history(code / "cut"))
    ]


def test_a_metric_that_raises_stops_in_the_first_validation_with_a_checkpoint(code, capsys):
    (code / "bad.py").write_text("def score(outputs, targets):\n    raise ValueError('boom')\n")
    assert train(code / "cut", "--epochs", "2", "--metric", "bad.py:score") == 2
    err = capsys.readouterr().err
    assert "your metric score raised ValueError: boom; stopped in epoch 1's validation" in err
    assert "stopped in epoch 1's validation; its checkpoint resumes there" in err
    assert main(["train", "--resume", str(code / "cut"), "--metric", "metrics.py:top3"]) == 0
    assert train(code / "straight", "--epochs", "2", "--metric", "metrics.py:top3") == 0
    assert same_weights(code / "straight", code / "cut")
    assert [r["val_top3"] for r in history(code / "cut")] == [
        r["val_top3"] for r in history(code / "straight")
    ]


def test_a_distributed_validation_gives_your_metric_the_whole_split_in_its_order(code):
    """Under torchrun each rank validates every other sample; the metric still gets them all, in order."""
    from kindling.cli.launch import torchrun_command

    (code / "checks.py").write_text(
        "import torch\n\n\ndef count(outputs, targets):\n    return len(targets)\n\n\n"
        "def order(outputs, targets):\n    return float((targets.double() * torch.arange(len(targets))).sum())\n"
    )
    mine = ["--metric", "checks.py:count", "--metric", "checks.py:order", "--epochs", "1"]
    assert train(code / "one", *mine) == 0
    args = ["train", "--run-dir", str(code / "two"), *QUIET, *mine]
    done = subprocess.run(
        torchrun_command(2, args, log_dir=code / "logs"),
        capture_output=True,
        text=True,
        timeout=300,
        cwd=code,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    one, two = history(code / "one")[0], history(code / "two")[0]
    assert two["val_count"] == one["val_count"] == 136 and two["val_order"] == one["val_order"]
