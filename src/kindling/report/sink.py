"""Where a run's pictures are made: TensorBoard events and the end-of-training plots, from plain numbers
and arrays (no torch). The training process feeds one either directly (`ReportSink()`, drawing in turn)
or through the report sidecar process (kindling.report.sidecar), which runs one with `parallel=True`:
the plots are then drawn side by side, one group per core, in forked children.

    sink.open_events(logdir="runs/x/tb", purge_step=None)
    sink.scalars(step=10, values={"step/loss": 0.4}, wall_time=time.time())
    sink.draw(folder="runs/x/plots", spec=("learning_curves", "learning_curves", {"history": [...]}))
    sink.finish()   # -> {"entries": [index entry per plot drawn], "errors": ["what failed and why"]}
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

from kindling.envinfo import usable_cores

# what the sidecar accepts from the training process; the two requests answer
METHODS = {
    "open_events",
    "scalars",
    "image",
    "graph",
    "grid_layout",
    "grid",
    "hparams",
    "flush",
    "close_events",
    "draw",
    "finish",
    "close",
}
REQUESTS = {"finish", "close"}


class ReportSink:
    """Also usable in the training process as it is: `call`, `flush` and `request` are the sidecar's
    interface (kindling.report.sidecar.Sidecar), carried out here at once."""

    dead = None  # a sink in this process does not die

    def __init__(self, parallel: bool = False):
        # forked children draw in parallel on Linux only: macOS frameworks are not fork-safe
        self.parallel = parallel and sys.platform.startswith("linux")
        self.events = None
        self.layout: dict | None = None
        self.asked: list = []  # (position, (folder, spec)) of every plot asked for since the last finish()
        self.errors: list[str] = []

    def call(self, method: str, **kwargs) -> None:
        getattr(self, method)(**kwargs)

    def request(self, method: str, **kwargs) -> dict:
        return getattr(self, method)(**kwargs) or {}

    # ---------------------------------------------------------------- TensorBoard

    def open_events(self, logdir: str, purge_step: int | None = None) -> None:
        from kindling.report.events import EventLog

        self.events = EventLog(Path(logdir), purge_step)

    def scalars(self, step: int, values: dict, wall_time: float | None = None) -> None:
        self.events.scalars(step, values, wall_time)

    def image(self, tag: str, step: int, image, wall_time: float | None = None) -> None:
        self.events.image(tag, step, image, wall_time)

    def graph(self, nodes: list) -> None:
        self.events.graph(nodes)

    def grid_layout(self, base, frame, cell_of) -> None:
        self.layout = {"base": base, "frame": frame, "cell_of": cell_of}

    def grid(self, tag: str, step: int, right, wall_time: float | None = None) -> None:
        from kindling.report.events import grid_image

        self.events.image(tag, step, grid_image(self.layout, right), wall_time)

    def hparams(self, hparams: dict, metrics: dict, step: int) -> None:
        self.events.hparams(hparams, metrics, step)

    def flush(self) -> None:
        if self.events is not None:
            self.events.flush()

    def close_events(self) -> None:
        if self.events is not None:
            self.events.close()
            self.events = None

    # ---------------------------------------------------------------- plots

    def draw(self, folder: str, spec) -> None:
        """Queue `spec` (evidence.Spec) to be drawn into folder/NAME.png by finish()."""
        self.asked.append((len(self.asked), (Path(folder), spec)))

    def finish(self) -> dict:
        """Draw every queued plot -> {"entries": [...], "errors": [...]} (errors: a line per failure).
        When parallel, the plots are dealt into one group per core, heaviest first; a forked child
        draws each group but the first, which is drawn here. (A child per plot was slower on 2 cores:
        every child copies the pages its drawing touches.)"""
        groups = _deal(self.asked, usable_cores() if self.parallel else 1)
        children = [_fork(group) for group in groups[1:]]
        drawn = _draw_group(groups[0]) if groups else {}  # position -> index entry, or {"error": ...}
        for (pid, read_end), group in zip(children, groups[1:]):
            drawn.update(_reap(pid, read_end, group))
        items, self.asked = self.asked, []
        entries = []
        for position, (_, spec) in items:  # entries keep the order the plots were asked for
            item = drawn[position]
            if "error" in item:
                self.errors.append(f"the {spec[0].replace('_', ' ')} plot failed ({item['error']})")
            else:
                entries.append(item)
        done = {"entries": entries, "errors": self.errors}
        self.errors = []
        return done

    def close(self) -> None:
        self.close_events()


# rough relative drawing times (PIL, PNG included, measured in the sidecar), to deal the plots evenly
# between processes: the learning curves ~28 ms, the confusion matrix ~17, top losses ~16, others ~8;
# the views still drawn with matplotlib ~60-100 ms
WEIGHTS = {
    "learning_curves": 1.0,
    "confusion_plot": 0.6,
    "top_losses": 0.55,
    "text_confusions": 3.0,
    "regression_plot": 2.5,
}


def _deal(items: list, n: int) -> list[list]:
    """Greedy: the heaviest plot first, each to the lightest group so far."""
    groups: list[list] = [[] for _ in range(max(1, min(n, len(items))))]
    loads = [0.0] * len(groups)
    for item in sorted(items, key=lambda it: -_weight(it)):
        i = loads.index(min(loads))
        groups[i].append(item)
        loads[i] += _weight(item)
    return [g for g in groups if g]


def _weight(item) -> float:
    _, (_, spec) = item
    return WEIGHTS.get(spec[1], 0.3)


def _draw_group(group: list) -> dict[int, dict]:
    return {position: _draw_and_save(folder, spec) for position, (folder, spec) in group}


def _fork(group: list) -> tuple[int, int]:
    """A child that draws `group` and writes its entries as JSON to a pipe -> (pid, the pipe's read end)."""
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: draw, save, report, and leave without running the parent's exit code
        code = 0
        try:
            os.close(read_end)
            with os.fdopen(write_end, "w", encoding="utf-8") as out:
                json.dump(list(_draw_group(group).items()), out)
        except BaseException:
            code = 1
        finally:
            os._exit(code)
    os.close(write_end)
    return pid, read_end


def _reap(pid: int, read_end: int, group: list) -> dict[int, dict]:
    with os.fdopen(read_end, encoding="utf-8") as result:
        text = result.read()
    os.waitpid(pid, 0)
    try:
        return dict(json.loads(text))
    except ValueError:
        return {position: {"error": "its drawing process stopped"} for position, _ in group}


def _draw_and_save(folder: Path, spec) -> dict:
    """Draw one spec and write its PNG -> its plots/index.json entry, or {"error": ...}."""
    from kindling.report.evidence import draw
    from kindling.report.plots import index_entry, write_pngs

    try:
        plot = draw(spec)
        write_pngs(folder, [plot])
    except Exception as exc:
        return {"error": f"{type(exc).__name__}: {exc}"}
    return index_entry(plot)


def warm_up(matplotlib: bool = True) -> None:
    """Draw one of each common plot from made-up numbers, discarded: the imports (PIL, TensorBoard's
    protos, and matplotlib when the run will need it) and the caches a first drawing fills (fonts) are
    then warm for the real plots, and for every child forked to draw one. An image run draws all its
    plots with PIL: importing matplotlib (~0.4 s of CPU beside the trainer's start-up) is left out."""
    import numpy as np

    from kindling.report.evidence import draw

    k, n = 10, 16
    names = [str(i) for i in range(k)]
    y = np.arange(n) % k
    images = np.zeros((n, 1, 8, 8), dtype=np.uint8)
    history = [
        {"epoch": e, "train_loss": 1 / e, "val_loss": 1 / e, "train_acc": 0.5, "val_acc": 0.5, "lr": 0.1}
        for e in (1, 2)
    ]
    specs = [
        ("", "learning_curves", {"history": history}),
        ("", "confusion_plot", {"cm": np.eye(k, dtype=np.int64), "class_names": names}),
        ("", "per_class_plot", {"per_class_accuracy": dict.fromkeys(names, 0.9)}),
        ("", "prediction_grid", {"images": images, "y_true": y, "y_pred": y, "class_names": names}),
    ]
    for spec in specs:
        draw(spec)
    if matplotlib:
        from kindling.report.plots import new_figure, to_png

        figure = new_figure(1, 1)
        figure.add_subplot().set_title("warm")
        to_png(figure)
    try:
        from tensorboard.compat.proto import event_pb2, summary_pb2  # noqa: F401

        from kindling.report import events

        events.masked_crc(b"warm")
    except ImportError:  # no TensorBoard: the CSV logger needs none of it
        pass
