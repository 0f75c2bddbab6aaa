"""Damaged Bundles, each given to evaluate, predict, export and serve (start-up, before it listens).

Every damage is a copy of a trained digits run with one thing wrong in `best/`: the metadata in the
safetensors header (invalid JSON, a missing key, a wrong type, an edited shape or class list,
normalisation that does not fit the channels), or the weights themselves (NaN, renamed or missing
tensors, truncated, a pickle renamed .safetensors, empty, random bytes), or the ONNX graph that stands in
for a notebook's model (missing, swapped, outside the Bundle, not ONNX, reading external files). `serve` is given
`--max-items 0` as well: a Bundle that slipped through would be refused for that flag instead (the case
then fails on its expected text) rather than start a server.
"""

from __future__ import annotations

import random
import struct
from pathlib import Path

from badinput.harness import Case
from badinput.runs import copy_run, rewrite, weights


def _meta(edit):
    return lambda run: rewrite(run, meta_edit=edit)


def _state(edit):
    return lambda run: rewrite(run, state_edit=edit)


def _text(text):
    return lambda run: rewrite(run, text=text)


def _sig(**values):
    return _meta(lambda m: m["signature"].update(values))


def _drop(*keys):
    def edit(meta):
        target = meta
        for key in keys[:-1]:
            target = target[key]
        del target[keys[-1]]

    return _meta(edit)


def _set(state, key, fn):
    state[key] = fn(state[key])


def _raw(data_fn):
    def damage(run: Path) -> None:
        file = weights(run)
        file.write_bytes(data_fn(file.read_bytes()))

    return damage


def _pickle(run: Path) -> None:
    import io

    import torch
    from safetensors.torch import load_file

    buffer = io.BytesIO()  # serialised in memory first: load_file maps the file being replaced
    torch.save({k: v.clone() for k, v in load_file(str(weights(run))).items()}, buffer)
    weights(run).write_bytes(buffer.getvalue())


def _no_metadata(run: Path) -> None:
    from safetensors.torch import load_file, save

    weights(run).write_bytes(save(load_file(str(weights(run)))))


def _huge_header(data: bytes) -> bytes:
    return struct.pack("<Q", 2**40) + data[8:]


def _is_dir(run: Path) -> None:
    weights(run).unlink()
    weights(run).mkdir()


def _only_json(run: Path) -> None:
    weights(run).unlink()
    (run / "checkpoints" / "last.pt").unlink()


def _graph(data: bytes | None, sha: str | None = None, file: str = "model.onnx"):
    """A model of a notebook's session (its graph stands in for its code: kindling.bundle.graph) whose graph
    is `data` (None: no file), named in the header with `sha` (default: the bytes' own sha256)."""
    import hashlib

    def damage(run: Path) -> None:
        def edit(meta):
            meta["model"]["code"] = {"kind": "session", "name": "Net", "reference": "__main__:Net"}
            digest = sha or hashlib.sha256(data or b"").hexdigest()
            meta["graph"] = {"file": file, "sha256": digest, "format": "onnx"}

        rewrite(run, meta_edit=edit)
        if data is not None:
            (run / "best" / "model.onnx").write_bytes(data)

    return damage


def _external_graph() -> bytes:
    """A valid ONNX graph whose weight is read from a file outside it (/etc/hostname)."""
    import onnx
    from onnx import TensorProto, helper

    weight = onnx.TensorProto(name="w", data_type=TensorProto.FLOAT, dims=[64, 10])
    weight.data_location = TensorProto.EXTERNAL
    weight.external_data.add(key="location", value="/etc/hostname")
    graph = helper.make_graph(
        [
            helper.make_node("Flatten", ["input"], ["flat"]),
            helper.make_node("MatMul", ["flat", "w"], ["output"]),
        ],
        "g",
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, ["batch", 1, 8, 8])],
        [helper.make_tensor_value_info("output", TensorProto.FLOAT, ["batch", 10])],
        [weight],
    )
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]).SerializeToString()


# name -> (damage(run), expected text in the line)
DAMAGES = {
    "meta_invalid_json": (_text('{"format_version": 1, "model": '), "not valid JSON"),
    "meta_deeply_nested": (_text("[" * 100_000 + "]" * 100_000), "not valid JSON"),
    "meta_is_list": (_text("[1, 2, 3]"), "not an object"),
    "meta_empty_object": (_text("{}"), "lacks field"),
    "no_signature": (_drop("signature"), "'signature'"),
    "no_model": (_drop("model"), "'model'"),
    "no_model_name": (_drop("model", "name"), "'model.name'"),
    "no_input_shape": (_drop("signature", "input_shape"), "'signature.input_shape'"),
    "no_task": (_drop("signature", "task"), "'signature.task'"),
    "model_name_number": (_meta(lambda m: m["model"].update(name=7)), "'model.name'"),
    "model_name_empty": (_meta(lambda m: m["model"].update(name="")), "'model.name'"),
    "model_name_unknown": (_meta(lambda m: m["model"].update(name="nosuchnet")), "nosuchnet"),
    "model_options_list": (_meta(lambda m: m["model"].update(options=[1])), "'model.options'"),
    "model_options_unknown": (_meta(lambda m: m["model"].update(options={"bogus": 3})), "digits-cnn"),
    "signature_is_string": (_meta(lambda m: m.update(signature="image")), "'signature'"),
    "task_unknown": (_sig(task="clustering"), "'signature.task'"),
    "input_kind_unknown": (_sig(input_kind="audio"), "'signature.input_kind'"),
    "input_shape_strings": (_sig(input_shape=["1", "8", "8"]), "'signature.input_shape'"),
    "input_shape_negative": (_sig(input_shape=[1, -8, 8]), "'signature.input_shape'"),
    "input_shape_2d_image": (_sig(input_shape=[8, 8]), "'signature.input_shape'"),
    "input_shape_edited": (_sig(input_shape=[3, 8, 8]), "shape"),
    "class_names_four": (_sig(class_names=["a", "b", "c", "d"]), "shape"),
    "class_names_empty": (_sig(class_names=[]), "'signature.class_names'"),
    "class_names_numbers": (_sig(class_names=list(range(10))), "'signature.class_names'"),
    "mean_three_values": (_sig(mean=[0.1, 0.2, 0.3]), "'signature.mean' has 3 values"),
    "std_three_values": (_sig(std=[0.1, 0.2, 0.3]), "'signature.std' has 3 values"),
    "std_zero": (_sig(std=[0.0]), "'signature.std'"),
    "mean_string": (_sig(mean="0.3"), "'signature.mean'"),
    "mean_nan": (_sig(mean=[float("nan")]), "'signature.mean' must be a list of finite numbers"),
    "extras_list": (_sig(extras=[]), "'signature.extras'"),
    "metrics_list": (_meta(lambda m: m.update(metrics=[])), "'metrics'"),
    "format_version_99": (_meta(lambda m: m.update(format_version=99)), "format 99"),
    "decision_threshold_7": (
        _meta(lambda m: m.update(decision={"threshold": 7})),
        "'decision.threshold' is 7",
    ),
    "decision_for_ten_classes": (_meta(lambda m: m.update(decision={"threshold": 0.5})), "for two classes"),
    "no_kindling_metadata": (_no_metadata, "no kindling metadata"),
    "weights_nan": (_state(lambda s: _set(s, "classifier.1.weight", lambda t: t * float("nan"))), "NaN"),
    "weights_inf": (_state(lambda s: _set(s, "features.0.weight", lambda t: t / 0)), "NaN or infinite"),
    "running_var_nan": (
        _state(lambda s: _set(s, "features.1.running_var", lambda t: t * float("nan"))),
        "NaN",
    ),
    "tensor_missing": (_state(lambda s: s.pop("classifier.1.bias")), "lack 1 tensor"),
    "tensor_extra": (_state(lambda s: s.update(extra=s["classifier.1.bias"].clone())), "'extra'"),
    "tensor_renamed": (_state(lambda s: s.update(head=s.pop("classifier.1.weight"))), "lack 1 tensor"),
    "tensor_shape_edited": (_state(lambda s: _set(s, "classifier.1.bias", lambda t: t[:4].clone())), "[4]"),
    "truncated_half": (_raw(lambda b: b[: len(b) // 2]), "corrupt or truncated"),
    "truncated_header": (_raw(lambda b: b[:20]), "corrupt or truncated"),
    "empty_file": (_raw(lambda b: b""), "corrupt or truncated"),
    "random_bytes": (_raw(lambda b: random.Random(0).randbytes(4096)), "corrupt or truncated"),
    "huge_header_length": (_raw(_huge_header), "corrupt or truncated"),
    "pickle_renamed": (_pickle, "corrupt or truncated"),
    "weights_are_a_folder": (_is_dir, ""),
    "only_bundle_json": (_only_json, "not a kindling run"),
    "graph_missing": (_graph(None, "0" * 64), "is missing"),
    "graph_swapped": (_graph(b"other bytes", "0" * 64), "does not match the sha256"),
    "graph_outside_the_bundle": (_graph(b"x", file="../../model.onnx"), "not a graph record"),
    "graph_not_onnx": (_graph(random.Random(0).randbytes(256)), "onnx"),
    "graph_external_data": (lambda run: _graph(_external_graph())(run), "external data"),
}
COMMANDS = {
    "evaluate": lambda run, folder: ["evaluate", run],
    "predict": lambda run, folder: ["predict", run, _zeros(folder)],
    "export": lambda run, folder: ["export", run, "--format", "torchscript"],
    "serve": lambda run, folder: ["serve", run, "--max-items", "0"],
}


def _zeros(folder: Path) -> Path:
    import numpy as np

    path = folder / "zeros.npy"
    np.save(path, np.zeros((1, 8, 8), dtype=np.uint8))
    return path


def _case(command: str, name: str, damage, expect: str) -> Case:
    def build(folder: Path) -> list:
        run = copy_run(folder)
        damage(run)
        return COMMANDS[command](run, folder)

    return Case(f"{command}-{name}", build, expect)


CASES = [
    _case(command, name, damage, expect) for command in COMMANDS for name, (damage, expect) in DAMAGES.items()
]
