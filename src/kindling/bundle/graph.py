"""The code-free graph a Bundle carries for a model whose class another process cannot import.

A model defined in a notebook cell or in a script's `__main__` is found again only in the session that
trained it: kindling never re-runs a notebook or a script to rebuild it. So at the end of training such a
model is also written as an ONNX graph, `best/model.onnx` (kindling.predict.session_graph makes it and checks it
against the PyTorch outputs), and the safetensors header records it (`graph`: file, sha256, the check),
so it cannot be swapped without the header saying otherwise. In any other process `read_bundle` uses the
graph in place of the model: predict, evaluate, serve, export and `kindling.load` call it as they call a
model (`GraphModel`); the session that trained it keeps using the real class.

Why ONNX and not `torch.export`'s program (.pt2): in torch 2.14.1 `torch.export.load` may unpickle. Its
docstring says it "uses pickle under the hood ... never load data from an untrusted source", and
torch/export/pt2_archive/_package.py reads every weight or constant that the archive's own config marks
`use_pickle` through torch's loader with weights_only switched off, and opaque constants through pickle
itself: the file decides. Nothing a user hands over is unpickled here, so the graph is ONNX: a protobuf that onnxruntime
parses and runs with its built-in operators only, no Python. Graphs whose weights live in external files
are refused (they would read other files).
"""

from __future__ import annotations

import hashlib
import sys
import threading
from pathlib import Path

import torch

from kindling.errors import UserError

GRAPH_FILE = "model.onnx"
_MADE_HERE: set[str] = set()  # sha256 of the graphs this process made: it has their models' classes


def remember_made(sha256: str) -> None:
    """The graph `sha256` was made here at the end of training: this session loads the real class."""
    _MADE_HERE.add(sha256)


def stands_in(meta: dict) -> bool:
    """Whether the Bundle's graph stands in for its model here: a model of the Python session that
    trained it (code kind `session`), with a graph, loaded in another process (or in that session once
    its class is gone from `__main__`)."""
    record = (meta.get("model") or {}).get("code") or {}
    graph = meta.get("graph")
    if not isinstance(record, dict) or record.get("kind") != "session" or not isinstance(graph, dict):
        return False
    here = getattr(sys.modules.get("__main__"), str(record.get("name")), None) is not None
    return not here or graph.get("sha256") not in _MADE_HERE


def load_graph(folder: Path, meta: dict) -> GraphModel:
    """The graph the header records, once its sha256 is the header's; one UserError line otherwise."""

    record = meta["graph"]
    file = Path(folder) / GRAPH_FILE
    header = Path(folder) / "model.safetensors"
    if record.get("file") != GRAPH_FILE or not isinstance(record.get("sha256"), str):
        raise UserError(
            f"{header}: field 'graph' is not a graph record kindling wrote; the bundle is damaged"
        )
    if not file.is_file():
        raise UserError(f"{file} (the model's graph) is missing; restore it, or retrain in a session")
    data = file.read_bytes()
    if hashlib.sha256(data).hexdigest() != record["sha256"]:
        raise UserError(f"{file} does not match the sha256 in the header of {header}; the bundle is damaged")
    return GraphModel(data, str(file))


class GraphModel(torch.nn.Module):
    """An ONNX graph called like the model it was made from: `(x)` or `(x, lengths)` -> its outputs, as a
    tensor on x's device. onnxruntime runs it on the CPU with as many threads as torch has now (the
    session is remade when that changes, so `kindling serve`'s thread tuning still applies)."""

    def __init__(self, data: bytes, where: str):
        super().__init__()
        self.data, self.where = data, where
        self._lock = threading.Lock()
        self._session, self._threads = None, 0
        self._check_self_contained()
        self.input_names = [i.name for i in self._current().get_inputs()]
        self.takes_lengths = len(self.input_names) == 2  # read by kindling.models.common.forward

    def forward(self, x: torch.Tensor, lengths: torch.Tensor | None = None) -> torch.Tensor:
        feeds = {self.input_names[0]: x.detach().cpu().contiguous().numpy()}
        if self.takes_lengths:
            if lengths is None:
                lengths = torch.full((x.shape[0],), x.shape[1], dtype=torch.int64)
            feeds[self.input_names[1]] = lengths.detach().cpu().to(torch.int64).numpy()
        out = self._current().run(None, feeds)[0]
        return torch.from_numpy(out).to(x.device)

    def _current(self):
        threads = torch.get_num_threads()
        with self._lock:
            if self._session is None or self._threads != threads:
                self._session, self._threads = _session(self.data, threads, self.where), threads
            return self._session

    def _check_self_contained(self) -> None:
        """A graph whose tensors point at external files would read them: refused."""
        try:
            import onnx  # lazy: onnx
        except ImportError:  # onnxruntime alone is enough to run it; the check then relies on the sha256
            return
        try:
            model = onnx.load_model_from_string(self.data)
        except Exception as exc:  # a damaged protobuf
            raise UserError(
                f"{self.where} is not a readable ONNX graph ({exc}); the bundle is damaged"
            ) from exc
        if any(t.data_location == onnx.TensorProto.EXTERNAL for t in _tensors(model.graph)):
            raise UserError(f"{self.where} refers to external data files; kindling writes none: refused")


def _tensors(graph):
    """Every tensor a graph holds: its initializers and constants, and those of its subgraphs (If, Loop)."""
    yield from graph.initializer
    for node in graph.node:
        for attribute in node.attribute:
            if attribute.HasField("t"):
                yield attribute.t
            yield from attribute.tensors
            for sub in [attribute.g] if attribute.HasField("g") else []:
                yield from _tensors(sub)
            for sub in attribute.graphs:
                yield from _tensors(sub)


def _session(data: bytes, threads: int, where: str):
    try:
        import onnxruntime as ort  # lazy: onnxruntime
    except ImportError as exc:
        raise UserError(
            f"{where} is the model's graph and needs onnxruntime: pip install 'kindling[export]'"
        ) from exc
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.log_severity_level = 3  # errors only: its graph-optimiser notes are not the user's concern
    try:
        return ort.InferenceSession(data, options, providers=["CPUExecutionProvider"])
    except Exception as exc:  # an invalid graph, an operator this onnxruntime lacks
        raise UserError(
            f"{where} cannot be run by onnxruntime ({exc.__class__.__name__}: {str(exc)[:150]}); "
            "the bundle is damaged"
        ) from exc
