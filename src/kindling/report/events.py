"""TensorBoard event files without torch: scalars, images, a graph and hparams, written by the caller's
thread (no background writer thread: in the training process a third busy thread on a 2-core machine
stalls torch's OpenMP workers at every barrier).

    log = EventLog(run_dir / "tb", purge_step=None)
    log.scalars(step, {"loss/train": 0.5})
    log.image("val/predictions", step, hwc_uint8)
    log.flush()                                 # what TensorBoard can read now
    log.close()

The file is the one torch's SummaryWriter writes (events.out.tfevents.TIME.HOST.PID), read back in the
tests with TensorBoard's own EventAccumulator.
"""

from __future__ import annotations

import os
import socket
import struct
import time
from functools import lru_cache
from pathlib import Path

# the HParams plugin's names in the file (tensorboard.plugins.hparams.metadata): spelled out, as importing
# that module pulls in TensorBoard's tensor utilities (fsspec, asyncio: 50 ms warm, 0.2 s cold)
HPARAMS_TAG, HPARAMS_VERSION = "_hparams_/", 0


def masked_crc(data: bytes) -> int:
    """TFRecord's masked CRC-32C."""
    crc = _crc32c()(data)
    return (((crc >> 15) | (crc << 17)) + 0xA282EAD8) & 0xFFFFFFFF


@lru_cache(maxsize=1)
def _crc32c():
    """The `crc32c` package's C code (0.01 ms for 20 KB), else TensorBoard's pure-Python table (4 ms:
    it was most of the sidecar's work while torch trains)."""
    try:
        from crc32c import crc32c
    except ImportError:
        from tensorboard.compat.tensorflow_stub.pywrap_tensorflow import crc32c
    return crc32c


class EventLog:
    def __init__(self, logdir: Path, purge_step: int | None = None):
        from tensorboard.compat.proto.event_pb2 import Event, SessionLog

        self.logdir = Path(logdir)
        self.logdir.mkdir(parents=True, exist_ok=True)
        name = f"events.out.tfevents.{int(time.time()):010d}.{socket.gethostname()}.{os.getpid()}.0"
        self.path = self.logdir / name
        self._file = open(self.path, "wb")  # noqa: SIM115 (closed by close())
        self._event = Event
        self._write(Event(wall_time=time.time(), file_version="brain.Event:2"))
        if purge_step is not None:  # a resumed run: TensorBoard drops the events logged after this step
            self._write(Event(wall_time=time.time(), step=purge_step, file_version="brain.Event:2"))
            start = SessionLog(status=SessionLog.START)
            self._write(Event(wall_time=time.time(), step=purge_step, session_log=start))

    def _write(self, event) -> None:
        """One TFRecord: length, its masked CRC, the serialized event, its masked CRC."""
        data = event.SerializeToString()
        head = struct.pack("<Q", len(data))
        self._file.write(
            head + struct.pack("<I", masked_crc(head)) + data + struct.pack("<I", masked_crc(data))
        )

    def summary(self, summary, step: int, wall_time: float | None = None) -> None:
        self._write(self._event(wall_time=wall_time or time.time(), step=int(step), summary=summary))

    def scalars(self, step: int, values: dict[str, float], wall_time: float | None = None) -> None:
        """Several scalars in ONE event."""
        from tensorboard.compat.proto.summary_pb2 import Summary

        value = [Summary.Value(tag=tag, simple_value=float(v)) for tag, v in values.items()]
        self.summary(Summary(value=value), step, wall_time)

    def image(self, tag: str, step: int, image, wall_time: float | None = None) -> None:
        """uint8 H, W, 3 (numpy) as a PNG at a low compression level (fast)."""
        import io

        from PIL import Image
        from tensorboard.compat.proto.summary_pb2 import Summary

        buf = io.BytesIO()
        Image.fromarray(image).save(buf, format="PNG", compress_level=1)
        height, width = image.shape[:2]
        encoded = Summary.Image(height=height, width=width, colorspace=3, encoded_image_string=buf.getvalue())
        self.summary(Summary(value=[Summary.Value(tag=tag, image=encoded)]), step, wall_time)

    def graph(self, nodes: list) -> None:
        """nodes: [name, op, [input names], output shape or None] each -> a GraphDef (module-level dataflow)."""
        from tensorboard.compat.proto.attr_value_pb2 import AttrValue
        from tensorboard.compat.proto.graph_pb2 import GraphDef
        from tensorboard.compat.proto.node_def_pb2 import NodeDef
        from tensorboard.compat.proto.tensor_shape_pb2 import TensorShapeProto

        defs = []
        for name, op, inputs, shape in nodes:
            attr = {}
            if shape is not None:
                dims = TensorShapeProto(dim=[TensorShapeProto.Dim(size=int(d)) for d in shape])
                attr["_output_shapes"] = AttrValue(list=AttrValue.ListValue(shape=[dims]))
            defs.append(NodeDef(name=name, op=op, input=list(inputs), attr=attr))
        self._write(self._event(wall_time=time.time(), graph_def=GraphDef(node=defs).SerializeToString()))

    def hparams(self, hparams: dict, metrics: dict[str, float], step: int) -> None:
        """The HParams dashboard's three summaries (experiment, session start, session end) and the metrics
        as scalars: what torch's add_hparams writes, in this event file rather than a sub-folder."""
        from tensorboard.compat.proto.summary_pb2 import Summary, SummaryMetadata
        from tensorboard.plugins.hparams.api_pb2 import (
            DataType,
            Experiment,
            HParamInfo,
            MetricInfo,
            MetricName,
            Status,
        )
        from tensorboard.plugins.hparams.plugin_data_pb2 import (
            HParamsPluginData,
            SessionEndInfo,
            SessionStartInfo,
        )

        def summary(tag: str, **content) -> Summary:
            data = HParamsPluginData(version=HPARAMS_VERSION, **content).SerializeToString()
            meta = SummaryMetadata(
                plugin_data=SummaryMetadata.PluginData(plugin_name="hparams", content=data)
            )
            return Summary(value=[Summary.Value(tag=tag, metadata=meta)])

        start, infos = SessionStartInfo(), []
        for key, value in hparams.items():
            if value is None:
                continue
            if isinstance(value, bool):
                start.hparams[key].bool_value, kind = value, "DATA_TYPE_BOOL"
            elif isinstance(value, (int, float)):
                start.hparams[key].number_value, kind = value, "DATA_TYPE_FLOAT64"
            else:
                start.hparams[key].string_value, kind = str(value), "DATA_TYPE_STRING"
            infos.append(HParamInfo(name=key, type=DataType.Value(kind)))
        experiment = Experiment(
            hparam_infos=infos, metric_infos=[MetricInfo(name=MetricName(tag=k)) for k in metrics]
        )
        self.summary(summary(f"{HPARAMS_TAG}experiment", experiment=experiment), step)
        self.summary(summary(f"{HPARAMS_TAG}session_start_info", session_start_info=start), step)
        end = SessionEndInfo(status=Status.Value("STATUS_SUCCESS"))
        self.summary(summary(f"{HPARAMS_TAG}session_end_info", session_end_info=end), step)
        if metrics:
            self.scalars(step, metrics)

    def flush(self) -> None:
        self._file.flush()

    def close(self) -> None:
        if not self._file.closed:
            self._file.close()


GRID_RIGHT, GRID_WRONG = (26, 127, 55), (207, 34, 46)


def grid_image(layout: dict, right):
    """The prediction grid laid out by tb.PredictionGrid, frames coloured green (right) or red (wrong)."""
    import numpy as np

    colours = np.where(np.asarray(right, dtype=bool)[:, None], GRID_RIGHT, GRID_WRONG).astype(np.uint8)
    image = layout["base"].copy()
    image[layout["frame"]] = colours[layout["cell_of"]]
    return image
