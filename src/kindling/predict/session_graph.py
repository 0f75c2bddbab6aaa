"""At the end of training, a model defined in a notebook or a script gets its ONNX graph in the Bundle.

Its class lives in that session's `__main__`, which no other process can import (kindling never re-runs
a notebook or a script), so without a graph its Bundle would load only there. The graph is made once,
at the end of training, from the Bundle's own best weights (read back from model.safetensors, not the
last epoch's), checked against the PyTorch outputs on the run's data, then written beside them and named
in the header with its sha256 (kindling.bundle.files.add_graph). Once at the end rather than at each best
epoch: every best epoch rewrites the header without a graph, so a header never names a graph of other
weights, and the cost is paid once. Measured on a shared 2-core machine (export + check, one thread):
the quickstart notebook's model 0.24 s the first time in a process, 0.11 s after; seed 002's Net 0.54 s,
then 0.3-0.4 s. At each best epoch it would cost that again for every improvement.

How: the TorchScript-based exporter first (`kindling.predict.export`, fast); when its tracer warns that Python
took a decision on a tensor's value (which a trace freezes), or it fails, `torch.export`'s exporter
decides: it records shape checks symbolically and refuses data-dependent control flow. The graph is then
compared with PyTorch on a batch of the run's data, a single sample and a batch of another split, and
kept only within `kindling.predict.export.TOLERANCE`. When no graph can be made, one line says what to do.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import warnings
from pathlib import Path

from kindling.bundle.files import add_graph, read_bundle, read_meta
from kindling.errors import UserError, one_line
from kindling.predict.export import TOLERANCE, onnx_runner, trace_onnx
from kindling.task.inputs import make_preprocess

CHECK_SAMPLES = 64


class NoGraph(Exception):
    """The model cannot be written as a graph that gives its outputs (the reason, for the user's line)."""


def after_training(run_dir: Path, data, echo=print) -> None:
    """Add the graph to `run_dir`'s Bundle when its model's class lives in this session; one line says
    what happened (a graph made, or why not and what to do)."""
    from kindling.bundle.graph import remember_made  # lazy: torch

    folder = Path(run_dir) / "best"
    if not (folder / "model.safetensors").is_file():
        return
    meta = read_meta(folder)
    record = meta["model"].get("code") or {}
    if record.get("kind") != "session":
        return
    if meta.get("graph"):  # made at the end of an earlier stretch, and no better epoch since
        remember_made(meta["graph"]["sha256"])
        return
    name = record["name"]
    try:
        import onnx  # noqa: F401 - both are needed: the exporter writes with onnx, the check runs it; lazy: onnx
        import onnxruntime  # noqa: F401 - lazy: onnxruntime
    except ImportError:
        echo(
            f"note: model {name} is defined in this session, so its Bundle loads only here; "
            "pip install 'kindling[export]' (onnx, onnxruntime) and train again to add a graph that "
            "predict, evaluate, serve and export use in any process"
        )
        return
    try:
        graph, check = make(folder, data)
    except (NoGraph, UserError) as exc:  # UserError: its class cannot be built again here (changed)
        echo(
            one_line(
                f"note: {name} cannot be saved as a graph ({exc}), so its Bundle loads only in this "
                f"session; move {name} to a .py file, then --model FILE.py:{name} or kindling.fit(model="
                f"{name}) imported from it"
            )
        )
        return
    _publish(folder, graph, check, name, echo)


def _publish(folder: Path, graph: bytes, check: dict, name: str, echo) -> None:

    from kindling.bundle.graph import GRAPH_FILE, remember_made  # lazy: torch

    add_graph(folder, graph, {"format": "onnx", "check": check})
    remember_made(hashlib.sha256(graph).hexdigest())
    echo(
        f"model {name} is defined in this session, so the Bundle also holds its graph ({GRAPH_FILE}, "
        f"max abs diff {check['max_abs_diff']:.1g} from PyTorch): predict, evaluate, serve and export "
        "use it in any process"
    )


def make(folder: Path, data) -> tuple[bytes, dict]:
    """The graph of the Bundle's model with its best weights, and its check against PyTorch."""
    import torch  # lazy: torch

    bundle = read_bundle(folder)  # in this session: the real class, with the weights of the best epoch
    inputs, source = check_inputs(bundle.signature, data)
    graph = _export(bundle.model, inputs[0])
    try:
        runner = onnx_runner(graph)
        diff, n = 0.0, 0
        with torch.no_grad():
            for args in inputs:
                expected = bundle.model(*args).float()
                diff = max(diff, float((torch.as_tensor(runner(args)).float() - expected).abs().max()))
                n += int(args[0].shape[0])
    except Exception as exc:  # onnxruntime refusing the graph, or outputs of another shape
        raise NoGraph(f"onnxruntime cannot run it: {one_line(str(exc), 120)}") from exc
    if not diff < TOLERANCE:
        raise NoGraph(f"dynamic control flow: on other inputs the graph differs from PyTorch by {diff:.3g}")
    return graph, {"max_abs_diff": diff, "n": n, "inputs": source}


def check_inputs(sig, data) -> tuple[list[tuple], str]:
    """Preprocessed model arguments from the run's data: a batch of the first split that has one, its
    first sample alone, and a batch of another split (or the same batch reversed)."""
    import torch  # lazy: torch

    preprocess = make_preprocess(sig)
    parts = [(name, data.split(name)) for name in ("val", "test", "train")]
    parts = [(name, part) for name, part in parts if part is not None and len(part)]
    batches = []
    for _, part in parts[:2]:
        x, _, lengths = next(part.batches(CHECK_SAMPLES))
        batches.append((preprocess(x), lengths))
    if len(batches) == 1:
        batches.append(tuple(t.flip(0) if t is not None else None for t in batches[0]))
    first = batches[0]
    batches.insert(1, tuple(t[:1] if t is not None else None for t in first))
    args = [tuple(t for t in b if t is not None) for b in batches]
    if not all(isinstance(a[0], torch.Tensor) for a in args):
        raise NoGraph("its inputs are not tensors")
    n = sum(int(a[0].shape[0]) for a in args)
    return args, f"{n} samples of the run's {' and '.join(name for name, _ in parts[:2])} data"


def _export(model, args: tuple) -> bytes:
    """ONNX bytes: the tracer when it saw no Python decision on a tensor, else torch.export's exporter."""

    try:
        graph, frozen = trace_onnx(model, args, 17)
        if not frozen:
            return graph
    except UserError:
        pass  # an operator or a construct the tracer cannot take: the other exporter may
    return _export_dynamo(model, args)


def _export_dynamo(model, args: tuple) -> bytes:
    import torch  # lazy: torch

    batch = torch.export.Dim("batch")
    names = ["input", "lengths"][: len(args)]
    quiet = io.StringIO()
    try:
        with (
            warnings.catch_warnings(),
            contextlib.redirect_stdout(quiet),
            contextlib.redirect_stderr(quiet),
        ):
            warnings.simplefilter("ignore")
            program = torch.onnx.export(
                model,
                args,
                dynamo=True,
                input_names=names,
                output_names=["output"],
                dynamic_shapes=tuple({0: batch} for _ in args),
                verbose=False,
            )
            return program.model_proto.SerializeToString()
    except Exception as exc:  # torch.export's refusal: data-dependent control flow, mostly
        data_dependent = "data-dependent" in str(exc).lower() or "guard" in str(exc).lower()
        raise NoGraph(
            "dynamic control flow: its forward branches on tensor values"
            if data_dependent
            else f"{exc.__class__.__name__}: {one_line(str(exc).splitlines()[0] if str(exc) else '', 100)}"
        ) from exc
