"""The report sidecar: its wire format, the real process writing events and drawing plots, parallel drawing
equal to drawing in turn, a dead sidecar replaced by drawing in the training process, and a training
process that loads neither matplotlib nor TensorBoard and runs no second thread."""

from __future__ import annotations

import io
import json
import subprocess
import sys

import numpy as np
import pytest

from kindling.report.sidecar import Sidecar, decode, encode, read_frame, serve
from kindling.report.sink import ReportSink

pytest.importorskip("matplotlib")


def _specs(k: int = 4):
    names = [f"c{i}" for i in range(k)]
    rng = np.random.default_rng(0)
    y = np.arange(12) % k
    history = [
        {"epoch": e, "train_loss": 1 / e, "val_loss": 1.2 / e, "train_acc": 0.5, "val_acc": 0.4, "lr": 0.1}
        for e in (1, 2, 3)
    ]
    images = rng.integers(0, 256, (12, 1, 8, 8), dtype=np.uint8)
    return [
        ("learning_curves", "learning_curves", {"history": history}),
        ("confusion_matrix", "confusion_plot", {"cm": rng.integers(0, 9, (k, k)), "class_names": names}),
        ("per_class_accuracy", "per_class_plot", {"per_class_accuracy": dict.fromkeys(names, 0.75)}),
        (
            "prediction_grid",
            "prediction_grid",
            {"images": images, "y_true": y, "y_pred": (y + 1) % k, "class_names": names},
        ),
    ]


def test_frames_carry_arrays_and_json_and_refuse_object_arrays():
    kwargs = {
        "image": np.arange(24, dtype=np.uint8).reshape(2, 3, 4),
        "nested": {"mask": np.array([True, False]), "rows": [np.float32(1.5), {"x": np.arange(3.0)}]},
        "name": "grid",
        "none": None,
    }
    stream = io.BytesIO(encode("image", kwargs) + encode("flush", {}))
    method, got = read_frame(stream)
    assert method == "image" and got["name"] == "grid" and got["none"] is None
    assert got["image"].dtype == np.uint8 and (got["image"] == kwargs["image"]).all()
    assert got["nested"]["mask"].tolist() == [True, False]
    assert got["nested"]["rows"][0] == 1.5 and got["nested"]["rows"][1]["x"].tolist() == [0.0, 1.0, 2.0]
    assert read_frame(stream) == ("flush", {})
    assert read_frame(stream) is None  # the end of the stream
    header = json.dumps({"method": "x", "kwargs": {}, "arrays": [["|O", [1]]]}).encode()
    with pytest.raises(ValueError, match="object"):
        decode(header, b"\0" * 8)


def test_parallel_drawing_equals_drawing_in_turn(tmp_path):
    results = {}
    for parallel in (False, True):
        sink = ReportSink(parallel=parallel)
        for spec in _specs():
            sink.draw(str(tmp_path / str(parallel)), spec)
        sink.draw(str(tmp_path / str(parallel)), ("broken", "no_such_plot", {}))
        results[parallel] = sink.finish()
    assert results[True]["entries"] == results[False]["entries"]
    assert [e["name"] for e in results[True]["entries"]] == [s[0] for s in _specs()]  # in the order sent
    assert (
        results[True]["errors"]
        == results[False]["errors"]
        == ["the broken plot failed (ValueError: no drawing function 'no_such_plot')"]
    )
    for name in ("learning_curves", "prediction_grid"):
        assert (tmp_path / "True" / f"{name}.png").read_bytes() == (
            tmp_path / "False" / f"{name}.png"
        ).read_bytes()


def test_sidecar_process_writes_events_and_draws(tmp_path):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    car = Sidecar.start()
    try:
        car.call("open_events", logdir=str(tmp_path / "tb"), purge_step=None)
        car.call("scalars", step=1, values={"loss/train": 0.5, "loss/val": 0.7}, wall_time=123.0)
        car.call("image", tag="train/batch", step=0, image=np.zeros((6, 8, 3), dtype=np.uint8))
        car.call(
            "graph", nodes=[["Net/input", "Input", [], [2, 3]], ["Net/fc", "Linear", ["Net/input"], [2, 4]]]
        )
        car.call(
            "hparams",
            hparams={"lr": 0.1, "model": "mlp", "amp": False},
            metrics={"hparam/final_val_acc": 0.9},
            step=1,
        )
        car.call("close_events")
        for spec in _specs():
            car.call("draw", folder=str(tmp_path / "plots"), spec=spec)
        car.call("no_such_message")
        done = car.request("finish")
    finally:
        car.close()
    assert car.process.returncode == 0
    assert [e["name"] for e in done["entries"]] == [s[0] for s in _specs()]
    assert done["errors"] == ["no_such_message: ValueError: unknown message 'no_such_message'"]
    assert all((tmp_path / "plots" / f"{s[0]}.png").stat().st_size > 1000 for s in _specs())
    local = ReportSink()
    local.draw(str(tmp_path / "local"), _specs()[1])
    assert local.finish()["entries"][0] == done["entries"][1]  # the same numbers behind the picture
    acc = EventAccumulator(str(tmp_path / "tb"), size_guidance={"images": 0, "scalars": 0})
    acc.Reload()
    assert [(e.step, e.value, e.wall_time) for e in acc.Scalars("loss/val")] == [
        (1, pytest.approx(0.7), 123.0)
    ]
    assert acc.Images("train/batch")[0].width == 8
    assert [n.op for n in acc.Graph().node] == ["Input", "Linear"]
    assert "_hparams_/session_start_info" in acc.PluginTagToContent("hparams")
    assert acc.Scalars("hparam/final_val_acc")[0].value == pytest.approx(0.9)


def test_a_dead_sidecar_is_replaced_by_drawing_here(tmp_path):
    from kindling.report.at_end import PlotsAtEnd

    car = Sidecar.start()
    car.process.kill()
    car.process.wait()
    car.call("draw", folder=str(tmp_path), spec=_specs()[0])
    car.flush()  # the write fails: the sidecar is counted dead, and later calls do nothing
    assert car.dead and "stopped" in car.dead
    entries, errors = PlotsAtEnd(tmp_path, car)._collect(str(tmp_path), _specs()[:2])
    assert [e["name"] for e in entries] == ["learning_curves", "confusion_matrix"]
    assert (tmp_path / "confusion_matrix.png").is_file()
    assert errors and "drawn by the training process" in errors[0]
    car.close()


def test_serve_answers_requests_only_and_stops_at_close():
    frames = encode("flush", {}) + encode("finish", {}) + encode("close", {}) + encode("finish", {})
    out = io.StringIO()
    serve(io.BytesIO(frames), out)
    answers = [json.loads(line) for line in out.getvalue().splitlines()]
    assert answers == [
        {"result": {"entries": [], "errors": []}, "error": None},
        {"result": None, "error": None},
    ]


def test_training_process_loads_no_matplotlib_or_tensorboard_and_runs_one_thread(tmp_path):
    script = f"""
import sys, threading
from kindling.config import load_config
from kindling.runner import train

seen = set()

class Threads:
    def __getattr__(self, name):
        return lambda *a: seen.add(threading.active_count())

cfg = load_config(None, {{"data.name": "digits", "train.epochs": 2, "train.threads": 1, "run_dir": {str(tmp_path / "run")!r}}})
train(cfg, echo=lambda *a, **k: None, callbacks=[Threads()])
print("loaded:" + ",".join(m for m in ("matplotlib", "tensorboard") if m in sys.modules))
print("threads:" + ",".join(map(str, sorted(seen))))
"""
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "loaded:\n" in done.stdout and "threads:1\n" in done.stdout
    run = tmp_path / "run"
    index = json.loads((run / "plots" / "index.json").read_text())
    assert {e["name"] for e in index} >= {"learning_curves", "confusion_matrix", "prediction_grid"}
    assert list((run / "tb").glob("events.out.tfevents.*"))


def test_flush_never_waits_for_a_busy_sidecar():
    """A sidecar still warming up (here: a process that reads nothing) must not hold training up: what
    the pipe cannot take now stays queued for the next flush."""
    process = subprocess.Popen(["sleep", "30"], stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    car = Sidecar(process)
    try:
        car.call("image", tag="x", step=0, image=np.zeros((1024, 1024, 3), dtype=np.uint8))
        car.flush()  # returns at once, though 3 MB cannot fit in the pipe
        assert car.dead is None and len(car.unsent) > 1_000_000
    finally:
        process.kill()
        process.wait()
    car.flush()  # the reader is gone: counted dead, no exception
    assert car.dead
    car.close()


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="pipe sizes are set on Linux only")
def test_a_training_batch_grid_goes_in_one_flush():
    """The pipe is widened to 1 MB: a frame of a few hundred KB (an augmented batch's grid, sent at the
    start) is taken whole by one flush, so the messages behind it do not wait for the next one."""
    process = subprocess.Popen(["sleep", "30"], stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    car = Sidecar(process)
    try:
        car.call("image", tag="x", step=0, image=np.zeros((300, 300, 3), dtype=np.uint8))
        car.flush()
        assert car.unsent == b"" and car.dead is None
    finally:
        process.kill()
        process.wait()
        car.close()


def test_a_run_that_fails_before_training_leaves_no_sidecar_behind(tmp_path):
    from pathlib import Path

    from kindling.config import load_config
    from kindling.errors import UserError
    from kindling.runner import train

    def children() -> list[str]:
        return [
            pid
            for task in Path("/proc/self/task").glob("*")
            for pid in (task / "children").read_text().split()
        ]

    if not Path("/proc/self/task").is_dir():
        pytest.skip("needs Linux /proc")
    before = children()
    cfg = load_config(None, {"data.name": f"folder:{tmp_path / 'missing'}", "run_dir": str(tmp_path / "run")})
    with pytest.raises(UserError, match="does not exist"):
        train(cfg, echo=lambda *a, **k: None)
    assert children() == before
    assert not (tmp_path / "run").exists()


def test_the_sidecar_starts_before_torch_loads():
    """prepare() runs first in runner.train: the sidecar warms up while the trainer imports torch, not
    beside the thread measurement that comes later."""
    script = (
        "import sys\n"
        "from kindling.config import load_config\n"
        "from kindling.report.callbacks import prepare\n"
        "car = prepare(load_config(None, {'data.name': 'digits'}))\n"
        "print('torch loaded:', 'torch' in sys.modules, 'started:', car is not None)\n"
        "car.close()\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "torch loaded: False started: True" in done.stdout
