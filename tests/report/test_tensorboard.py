"""TensorBoard event files (torch's SummaryWriter), read back with TensorBoard's own reader; the CSV logger;
`kindling tensorboard`."""

from __future__ import annotations

import socket
import subprocess
import time
import urllib.request

import pytest

from kindling.cli.tensorboard import tensorboard_command
from kindling.report.loggers import resolve_logger

pytest.importorskip("tensorboard")


def _accumulator(tb_dir):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    acc = EventAccumulator(str(tb_dir), size_guidance={"images": 0, "scalars": 0})
    acc.Reload()
    return acc


def test_event_files_hold_scalars_images_hparams(digits_run):
    import json

    acc = _accumulator(digits_run / "tb")
    tags = acc.Tags()
    for tag in (
        "step/loss",
        "step/lr",
        "step/samples_per_s",
        "loss/train",
        "loss/val",
        "acc/train",
        "acc/val",
        "epoch/lr",
        "epoch/samples_per_s",
        "hparam/final_val_acc",
    ):
        assert tag in tags["scalars"], tag
    assert {"train/augmented_batch", "val/predictions"} <= set(tags["images"])
    _assert_hparams_read_back(acc.PluginTagToContent("hparams"))
    history = [json.loads(line) for line in (digits_run / "metrics.jsonl").read_text().splitlines()]
    logged = {e.step: e.value for e in acc.Scalars("acc/val")}
    assert logged == pytest.approx({r["epoch"]: r["val_acc"] for r in history})
    assert len(acc.Images("val/predictions")) == len(history)  # one grid per validation
    image = acc.Images("val/predictions")[-1]
    assert image.width > 0 and image.height > 0


def _assert_hparams_read_back(content: dict) -> None:
    """The HParams dashboard's own parsers accept what was written."""
    from tensorboard.plugins.hparams import metadata

    experiment = metadata.parse_experiment_plugin_data(content[metadata.EXPERIMENT_TAG])
    assert {m.name.tag for m in experiment.metric_infos} >= {"hparam/final_val_acc"}
    start = metadata.parse_session_start_info_plugin_data(content[metadata.SESSION_START_INFO_TAG])
    assert start.hparams["epochs"].number_value > 0
    end = metadata.parse_session_end_info_plugin_data(content[metadata.SESSION_END_INFO_TAG])
    assert end.status == 1  # STATUS_SUCCESS


def test_csv_logger_writes_csv_and_no_event_files(tmp_path, monkeypatch):
    from kindling_testing import train_run

    run = train_run(
        tmp_path / "csv",
        "--data",
        "digits",
        "--epochs",
        "1",
        "--set",
        "train.logger=csv",
        "--baseline",
        "none",
    )
    assert not (run / "tb").exists()
    header, *rows = (run / "steps.csv").read_text().splitlines()
    assert header == "step,loss,lr,samples_per_s" and rows
    assert float(rows[0].split(",")[1]) > 0
    assert (run / "metrics.csv").read_text().splitlines()[0].startswith("epoch,step,lr")
    assert (run / "plots" / "learning_curves.png").is_file()


def test_logger_choice_is_validated():
    from kindling.errors import UserError

    assert resolve_logger("auto") == "tensorboard"
    assert resolve_logger("none") == "none"
    with pytest.raises(UserError, match="tensorbord"):
        resolve_logger("tensorbord")


def test_tensorboard_command_refuses_a_run_without_logs(tmp_path):
    from kindling.errors import UserError

    with pytest.raises(UserError, match="no TensorBoard logs"):
        tensorboard_command([str(tmp_path)], 6006)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_kindling_tensorboard_serves_the_runs_side_by_side(digits_run, tmp_path):
    import shutil

    other = tmp_path / "other"
    shutil.copytree(digits_run / "tb", other / "tb")
    port = _free_port()
    proc = subprocess.Popen(
        tensorboard_command([str(digits_run), str(other)], port),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        runs, deadline = [], time.time() + 90
        while time.time() < deadline and len(runs) < 2:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/data/runs", timeout=2) as response:
                    runs = __import__("json").loads(response.read())
            except OSError:
                time.sleep(0.5)
        assert sorted(r.split("/")[0] for r in runs) == sorted(
            [digits_run.name, "other"]
        )  # TensorBoard shows NAME/.
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def test_prediction_grid_frames_right_green_and_wrong_red():
    import torch

    from kindling.data.memory import Split
    from kindling.report.tensorboard import RIGHT, WRONG, PredictionGrid

    gen = torch.Generator().manual_seed(0)
    x = torch.randint(0, 256, (40, 1, 8, 8), dtype=torch.uint8, generator=gen)
    split = Split(x, torch.arange(40) % 3)
    grid = PredictionGrid(split)
    out = torch.tensor([5.0, 0.0, 0.0]).expand(40, 3)  # always class 0
    grid.watch(out[:25], split.y[:25], 0)  # the validation pass, batch by batch
    grid.watch(out[25:], split.y[25:], 25)
    right = grid.right()
    assert right.tolist() == (grid.y == 0).tolist() and 0 < right.sum() < len(right)
    picture = grid.picture(right)  # uint8 3, H, W: 8 px images upscaled to 32, 2 px frames
    for i, ok in enumerate(right.tolist()):
        r, c = divmod(i, 8)
        assert picture[:, r * 36, c * 36].tolist() == (RIGHT if ok else WRONG).tolist()
        assert torch.equal(
            picture[:, r * 36 + 2 : r * 36 + 34 : 4, c * 36 + 2], x[grid.pick[i], 0, :, 0].expand(3, 8)
        )


def test_validation_pass_gives_the_grid_its_predictions(tmp_path):
    """The prediction grid takes its samples' classes from the validation pass (no second forward):
    they equal the model's own argmax on those samples."""
    import torch

    from kindling.config.load import load_config
    from kindling.runner import train

    checked = []

    class Check:
        def __getattr__(self, name):
            if name != "on_validation_end":
                return lambda *a: None

            def check(trainer, metrics):
                (grid,) = [w.__self__ for w in trainer.val_watchers if hasattr(w.__self__, "pick")]
                model = trainer.model.eval()
                with torch.no_grad():
                    own = model(trainer.preprocess(trainer.val_split.x[grid.pick])).argmax(1)
                model.train()
                assert torch.cat(grid.predicted).tolist() == own.tolist()
                checked.append(len(grid.pick))

            return check

    cfg = load_config(
        None, {"data.name": "digits", "train.epochs": 2, "train.threads": 1, "run_dir": str(tmp_path / "r")}
    )
    train(cfg, echo=lambda *a, **k: None, callbacks=[Check()])
    assert checked == [16, 16]


@pytest.mark.parametrize("how", ["sigterm", "sigint-ignored-at-start"])
def test_kindling_tensorboard_stopped_by_a_signal_stops_tensorboard_too(digits_run, how):
    """A service manager or `kill` ends `kindling tensorboard` with SIGTERM: its TensorBoard child goes
    with it, and the port is free again (issue 24 §5). Ctrl-C does the same even when the process was
    started with SIGINT ignored, as some launchers leave it (Python then installs no KeyboardInterrupt)."""
    import signal
    import sys

    def ignore_sigint() -> None:
        signal.signal(signal.SIGINT, signal.SIG_IGN)

    port = _free_port()
    parent = subprocess.Popen(
        [sys.executable, "-m", "kindling", "tensorboard", str(digits_run), "--port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        preexec_fn=ignore_sigint if how == "sigint-ignored-at-start" else None,
    )
    try:
        deadline = time.time() + 90
        while time.time() < deadline and not _listening(port):
            time.sleep(0.5)
        assert _listening(port), "TensorBoard never answered"
        parent.send_signal(signal.SIGTERM if how == "sigterm" else signal.SIGINT)
        assert parent.wait(timeout=30) == 130  # interrupted, as Ctrl-C
        deadline = time.time() + 15
        while time.time() < deadline and _listening(port):
            time.sleep(0.2)
        assert not _listening(port), "the TensorBoard child still holds the port"
    finally:
        if parent.poll() is None:
            parent.kill()


def _listening(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(1)
        return s.connect_ex(("127.0.0.1", port)) == 0
