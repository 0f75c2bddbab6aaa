"""`kindling export RUN --format onnx|torchscript`: the model plus a JSON preprocessing description,
checked against PyTorch on real inputs from the run's data before anything is written.

    kindling export runs/digits --format onnx         # -> runs/digits/export/model.onnx + model.json
    kindling export runs/digits --format torchscript --output digits.pt

The exported graph takes the *preprocessed* input (float, normalised; tokens for text) and returns
what the model returns (logits, log-probabilities or a standardised value); model.json says exactly
how to get from a file to that input and from the output to a label, so a consumer without kindling
can use it. The export is written only after its outputs match PyTorch's (max abs diff < 1e-4).
"""

from __future__ import annotations

import io
import time
import warnings
from pathlib import Path

from kindling import data as data_mod
from kindling.bundle.files import load_bundle
from kindling.errors import UserError
from kindling.task import inputs_for, task_of_bundle
from kindling.task.inputs import make_preprocess
from kindling.task.multilabel import onnx_with_thresholds
from kindling.util.fileio import atomic_write_bytes, atomic_write_json

FORMATS = {"onnx": ".onnx", "torchscript": ".pt"}
TOLERANCE = 1e-4


class ExportCheckFailed(UserError):
    """The exported model's outputs differ from PyTorch's by more than the tolerance."""


def default_output(folder: Path, fmt: str) -> Path:
    run_dir = folder.parent if folder.name == "best" else folder
    return run_dir / "export" / f"model{FORMATS[fmt]}"


def export_run(
    run: str | Path,
    fmt: str,
    output: str | Path | None = None,
    opset: int = 17,
    samples: int = 64,
    threads: int = 1,
    trust_code: bool = False,
    objects: dict | None = None,
) -> dict:
    """Export, check, time and write; -> the report (paths, max_abs_diff, sizes, latencies). `objects`:
    what kindling.fit handed over, when the run's data is theirs (its samples check the export).

    Both sides are timed on the same `threads` (1 by default: on small shared machines one thread is
    the fast and stable choice for models of this size, and it is what `kindling serve` usually picks)."""
    import torch  # lazy: torch

    if fmt not in FORMATS:
        raise UserError(f"--format {fmt} is not one of {', '.join(FORMATS)}")
    if samples < 1:
        raise UserError(f"--samples {samples} must be at least 1")
    if threads < 1:
        raise UserError(f"--threads {threads} must be at least 1")
    torch.set_num_threads(threads)
    bundle = load_bundle(run, trust_code=trust_code)
    out_path = Path(output) if output else default_output(bundle.path, fmt)
    if out_path.suffix.lower() != FORMATS[fmt]:
        raise UserError(f"--output {out_path}: name the {fmt} file *{FORMATS[fmt]}")
    raw, lengths, source = real_inputs(bundle, samples, objects)
    x = make_preprocess(bundle.signature)(raw)
    args = (x, lengths) if lengths is not None else (x,)
    model = bundle.model
    with torch.no_grad():
        expected = model(*args).float()
    graph = carried_graph(bundle, fmt)  # a notebook's model: the graph made and checked in training
    if graph is not None:
        data = graph
    else:
        data = export_onnx(model, args, opset) if fmt == "onnx" else _export_torchscript(model, args)
    if fmt == "onnx":  # a two-class threshold travels inside the file too (and in the JSON beside it)
        from kindling.task.threshold import onnx_with_decision  # lazy: numpy

        data = onnx_with_decision(data, bundle.meta.get("decision"))
        data = onnx_with_thresholds(data, bundle.meta)  # a multi-label model's, likewise
    runner = onnx_runner(data) if fmt == "onnx" else _torchscript_runner(data)
    diff = float((torch.as_tensor(runner(args)).float() - expected).abs().max())
    if not diff < TOLERANCE:
        raise ExportCheckFailed(
            f"the {fmt} export differs from PyTorch by {diff:.3g} (limit {TOLERANCE}); nothing was written"
        )
    check = {"max_abs_diff": diff, "tolerance": TOLERANCE, "n": int(x.shape[0]), "inputs": source}
    if graph is not None:  # PyTorch is not here to compare with: the check is the one made in training
        check = {**bundle.meta["graph"].get("check", {}), "tolerance": TOLERANCE}
        check["inputs"] = (
            f"{check.get('inputs', 'the run data')}, at the end of training (the Bundle's graph)"
        )
    report = {
        "format": fmt,
        "output": str(out_path),
        "preprocess": str(description_path(out_path)),
        "threads": threads,
        "check": check,
        "size_bytes": {"pytorch": (bundle.path / "model.safetensors").stat().st_size, fmt: len(data)},
        "latency_ms": _latencies(None if graph is not None else lambda a: model(*a), runner, args),
    }
    atomic_write_bytes(out_path, data)
    atomic_write_json(
        description_path(out_path), describe(bundle, fmt, out_path.name, lengths is not None, report["check"])
    )
    return report


def carried_graph(bundle, fmt: str) -> bytes | None:
    """The ONNX graph a Bundle carries in place of code no process but the training one has (a model
    defined in a notebook or a script: kindling.bundle.graph); None for a model built from its code."""
    from kindling.bundle.graph import GraphModel  # lazy: torch

    if not isinstance(bundle.model, GraphModel):
        return None
    if fmt != "onnx":
        name = bundle.meta["model"].get("code", {}).get("name", bundle.name)
        raise UserError(
            f"model '{name}' was defined in a notebook or a script, so its Bundle carries an ONNX graph, not "
            f"its code: use --format onnx, or move {name} to a .py file and train again for {fmt}"
        )
    return bundle.model.data


def description_path(model_path: Path) -> Path:
    """model.onnx -> model.onnx.json: beside the model, and distinct for each format."""
    return model_path.with_name(model_path.name + ".json")


def real_inputs(bundle, n: int, objects: dict | None = None):
    """The first n samples of the run's test (else val, train) split -> (raw x, lengths, where from).

    When the run's data cannot be rebuilt here (files moved), random inputs of the right shape and
    kind stand in, and the report says so."""
    import torch  # lazy: torch

    from kindling.bundle.rundir import data_config_for  # lazy: yaml

    try:
        dm = data_mod.build(data_config_for(bundle), quiet=True, objects=objects)
        part = next(p for p in (dm.test, dm.val, dm.train) if p is not None and len(p))
        name = "test" if part is dm.test else "val" if part is dm.val else "train"
        x, _, lengths = next(part.batches(n))
        if list(x.shape[1:]) != list(bundle.signature.input_shape):
            raise ValueError(
                f"its data has shape {list(x.shape[1:])}, the model takes {bundle.signature.input_shape}"
            )
        return x, lengths, f"the run's {name} split ({len(x)} samples)"
    except Exception as exc:  # any failure to rebuild the data falls back to random inputs, reported
        why = str(exc).splitlines()[0][:120] if str(exc) else exc.__class__.__name__

    inputs = inputs_for(bundle.signature)
    x, lengths = inputs.random_batch(n, torch.Generator().manual_seed(0))
    return x, lengths, f"{inputs.random_name} (the run's data is not available: {why})"


def export_onnx(model, args: tuple, opset: int) -> bytes:
    return trace_onnx(model, args, opset)[0]


def trace_onnx(model, args: tuple, opset: int) -> tuple[bytes, list[str]]:
    """ONNX bytes, and the tracer's warnings that a Python value taken from a tensor was frozen into the
    trace (an `if` on the data: the graph may be wrong for other inputs)."""
    import torch  # lazy: torch

    names = ["input", "lengths"][: len(args)]
    axes = {name: {0: "batch"} for name in [*names, "output"]}
    buf = io.BytesIO()
    try:
        with warnings.catch_warnings(record=True) as caught:
            # The TorchScript-based exporter is deprecated in favour of dynamo=True, but it handles these
            # small models in a fraction of the time and writes to memory; use dynamo when it is removed.
            warnings.simplefilter("ignore")
            warnings.simplefilter("always", torch.jit.TracerWarning)
            torch.onnx.export(
                model,
                args,
                buf,
                dynamo=False,
                input_names=names,
                output_names=["output"],
                dynamic_axes=axes,
                opset_version=opset,
            )
        frozen = [str(w.message) for w in caught if issubclass(w.category, torch.jit.TracerWarning)]
        return buf.getvalue(), frozen
    except Exception as exc:
        raise UserError(
            f"this model cannot be exported to ONNX ({exc.__class__.__name__}: {str(exc)[:200]}); "
            "try --format torchscript"
        ) from exc


def _export_torchscript(model, args: tuple) -> bytes:
    import torch  # lazy: torch

    buf = io.BytesIO()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter(
                "ignore"
            )  # torch.jit is deprecated but still the one portable format for C++
            traced = torch.jit.trace(model, args, check_trace=False)
            torch.jit.save(traced, buf)
    except Exception as exc:
        raise UserError(
            f"this model cannot be traced to TorchScript ({exc.__class__.__name__}: {str(exc)[:200]}); "
            "try --format onnx"
        ) from exc
    return buf.getvalue()


def onnx_runner(data: bytes):
    import onnxruntime as ort  # lazy: onnxruntime
    import torch  # lazy: torch

    options = ort.SessionOptions()
    options.intra_op_num_threads = torch.get_num_threads()  # the same threads PyTorch gets: a fair timing
    options.log_severity_level = 3  # errors only: its graph-optimiser notes are not the user's concern
    session = ort.InferenceSession(data, options, providers=["CPUExecutionProvider"])
    names = [i.name for i in session.get_inputs()]
    return lambda args: session.run(None, {n: a.numpy() for n, a in zip(names, args)})[0]


def _torchscript_runner(data: bytes):
    import torch  # lazy: torch

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        loaded = torch.jit.load(io.BytesIO(data), map_location="cpu")

    def run(args):
        with torch.no_grad():
            return loaded(*args)

    return run


def _latencies(eager, exported, args: tuple) -> dict:
    """Median milliseconds for one sample and for the whole batch, eager PyTorch (None: not timed) vs
    the export."""
    import torch  # lazy: torch

    one = tuple(a[:1] for a in args)
    result = {}
    for label, batch, repeats in (("batch_1", one, 30), (f"batch_{len(args[0])}", args, 10)):
        for name, fn in (("pytorch", eager), ("export", exported)):
            if fn is None:  # no PyTorch model here (the Bundle's graph stands in for it)
                result.setdefault(label, {})[name] = None
                continue
            times = []
            with torch.no_grad():
                fn(batch)
                for _ in range(repeats):
                    start = time.perf_counter()
                    fn(batch)
                    times.append(time.perf_counter() - start)
            result.setdefault(label, {})[name] = sorted(times)[len(times) // 2] * 1000
    return result


def describe(bundle, fmt: str, file_name: str, with_lengths: bool, check: dict) -> dict:
    """The preprocessing description written beside the model: enough to use it without kindling."""

    sig, task = bundle.signature, task_of_bundle(bundle)
    inputs = [
        {
            "name": "input",
            "shape": ["batch", *sig.input_shape],
            "dtype": task.inputs.dtype,
        }
    ]
    if with_lengths:
        inputs.append(
            {
                "name": "lengths",
                "shape": ["batch"],
                "dtype": "int64",
                "meaning": "true token count of each row",
            }
        )
    pre = task.inputs.describe()
    post = task.describe_outputs()
    return {
        "format": fmt,
        "model_file": file_name,
        "model": bundle.meta.get("model", {}),
        "task": sig.task,
        "inputs": inputs,
        "outputs": [{"name": "output", "shape": ["batch", task.num_outputs]}],
        "preprocess": pre,
        "postprocess": post,
        "signature_extras": sig.extras,
        "check": check,
    }


def format_report(report: dict) -> str:
    fmt, lat, size = report["format"], report["latency_ms"], report["size_bytes"]
    lines = [
        f"wrote {report['output']} and {report['preprocess']}",
        f"check: max abs diff {report['check']['max_abs_diff']:.3g} < {report['check']['tolerance']:g} "
        f"on {report['check']['inputs']}",
        f"size: pytorch {size['pytorch'] / 1024:.1f} KiB, {fmt} {size[fmt] / 1024:.1f} KiB",
        f"{'latency (median ms, ' + str(report['threads']) + ' thread(s))':<32} {'pytorch':>9} {fmt:>12}",
    ]
    for label, row in lat.items():
        eager = f"{row['pytorch']:9.3f}" if row["pytorch"] is not None else f"{'-':>9}"
        lines.append(f"{label:<32} {eager} {row['export']:12.3f}")
    return "\n".join(lines)
