"""The Bundle: `best/model.safetensors` + `best/bundle.json`. The only thing evaluate/predict/serve read.

The safetensors header carries the same JSON as bundle.json, so the weights file alone is a complete,
self-describing model (one atomic write publishes weights and metadata together); bundle.json is the
readable copy. Loading never unpickles anything. A model defined in a notebook or a script also has
`best/model.onnx`, its code-free graph, named with its sha256 in the header (kindling.bundle.graph).
"""

from __future__ import annotations

import hashlib
import json
import sys
from dataclasses import dataclass, field
from pathlib import Path

from kindling.bundle.check import check_weights, compare_copy, parse_meta
from kindling.data.signature import Signature
from kindling.errors import UserError, near_folder, one_line
from kindling.models import build, recorded, usercode
from kindling.util.fileio import atomic_write_bytes, atomic_write_json

BUNDLE_FORMAT = 1


@dataclass
class Bundle:
    model: object  # torch.nn.Module, in eval mode
    signature: Signature
    meta: dict = field(default_factory=dict)
    path: Path | None = None

    @property
    def name(self) -> str:
        return self.meta.get("model", {}).get("name", "?")


def save_bundle(
    folder: Path,
    model,
    model_spec: dict,
    sig: Signature,
    metrics: dict,
    env: dict,
    data: dict | None = None,
    extra: dict | None = None,
) -> None:
    """`extra`: more header keys (`decision`: a two-class threshold; `imbalance`: how training weighed the
    classes), kept beside the required ones."""
    state = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    meta = {
        "format": "kindling-bundle",
        "format_version": BUNDLE_FORMAT,
        "model": model_spec,
        "signature": sig.to_dict(),
        "metrics": metrics,
        "env": env,
        "data": data or {},  # the data config, so evaluate can rebuild the splits from a bare bundle
        **(extra or {}),
    }
    _publish(folder, state, meta)


def update_meta(folder: Path, **changes) -> None:
    """Set header keys of a published Bundle (the threshold chosen once training ended): the weights are
    rewritten as they were read, with the new header, in one atomic write."""
    from safetensors.torch import load_file  # lazy: safetensors

    meta = read_meta(folder)
    state = load_file(str(folder / "model.safetensors"))
    meta.update(changes)
    _publish(folder, state, meta)


def _publish(folder: Path, state: dict, meta: dict) -> None:
    """Weights and header in one atomic write, then the readable copy of the header."""
    from safetensors.torch import save  # lazy: safetensors

    text = json.dumps(meta, default=str)
    atomic_write_bytes(folder / "model.safetensors", save(state, metadata={"kindling": text}))
    atomic_write_json(folder / "bundle.json", meta)


def add_graph(folder: Path, graph: bytes, record: dict) -> None:
    """Put the model's ONNX graph in the Bundle (kindling.bundle.graph): `model.onnx` first, then the
    header naming it with its sha256, so a header never names a graph that is not there, and a graph left
    by a run killed in between is ignored. The weights are rewritten as they were read."""

    from safetensors.torch import load_file  # lazy: safetensors

    from kindling.bundle.graph import GRAPH_FILE  # lazy: torch

    meta = read_meta(folder)
    state = load_file(str(folder / "model.safetensors"))
    atomic_write_bytes(folder / GRAPH_FILE, graph)
    meta["graph"] = {"file": GRAPH_FILE, "sha256": hashlib.sha256(graph).hexdigest(), **record}
    _publish(folder, state, meta)


def bundle_dir(path: str | Path) -> Path:
    """A run directory or a bundle folder -> the bundle folder."""
    path = Path(path)
    try:
        return _find_bundle(path)
    except OSError as exc:  # a name too long, a folder without permission
        raise UserError(f"{path} cannot be read ({exc.strerror}); pass runs/NAME or runs/NAME/best") from exc


def _find_bundle(path: Path) -> Path:
    if (path / "model.safetensors").is_file():
        return path
    if (path / "best" / "model.safetensors").is_file():
        return path / "best"
    if not path.exists():
        raise UserError(
            f"{path} does not exist{near_folder(path)}; pass a run directory (runs/NAME) or its best/ bundle folder"
        )
    if (path / "cv.json").is_file():  # kindling cv without --ensemble: its models are the folds'
        raise UserError(
            f"{path} is a cross-validation without a fold ensemble; pass one fold ({path / 'fold-0'}), or "
            f"keep the folds as one Bundle with `kindling cv --resume {path} --ensemble`"
        )
    if (path / "checkpoints" / "last.pt").is_file():
        raise UserError(
            f"{path} has no best model yet (the run stopped before its first validation); resume it with `kindling train --resume {path}`"
        )
    raise UserError(
        f"{path} is not a kindling run or bundle (no model.safetensors inside); pass runs/NAME or runs/NAME/best"
    )


def read_meta(folder: Path) -> dict:
    """The metadata of the safetensors header, checked (required keys, types, signature consistency)."""
    from safetensors import safe_open  # lazy: safetensors

    file = folder / "model.safetensors"
    try:
        with safe_open(str(file), framework="pt") as f:
            text = (f.metadata() or {}).get("kindling")
    except Exception as exc:  # safetensors raises its own error types for a damaged header
        raise UserError(
            f"{file} is corrupt or truncated ({one_line(str(exc), 120)}); retrain or restore the file"
        ) from exc
    if not text:
        raise UserError(f"{file} carries no kindling metadata; it was not written by kindling")
    meta = parse_meta(text, file)
    if meta.get("format_version") != BUNDLE_FORMAT:
        raise UserError(
            f"{file} is bundle format {one_line(str(meta.get('format_version')), 40)}; "
            f"this kindling reads format {BUNDLE_FORMAT}"
        )
    return meta


def saved_test_metrics(folder: Path | None) -> dict:
    """The test metrics of the run a Bundle folder (runs/NAME/best) or run folder belongs to, as evaluate
    names them: what `kindling evaluate` wrote (metrics_test.json), else the evaluation training ended
    with (plots/report.json, when it was on test). Numbers only; {} when the run has none."""
    if folder is None:
        return {}
    run_dir = Path(folder).parent if Path(folder).name == "best" else Path(folder)
    for path, inner in (
        (run_dir / "metrics_test.json", None),
        (run_dir / "plots" / "report.json", "evaluation"),
    ):
        try:
            found = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        found = found.get(inner) if inner and isinstance(found, dict) else found
        if isinstance(found, dict) and found.get("split", "test") == "test":
            numbers = {
                k: v for k, v in found.items() if isinstance(v, (int, float)) and not isinstance(v, bool)
            }
            return {"split": "test", **numbers}
    return {}


def read_bundle(path: str | Path, device: str = "cpu", trust_code: bool = False) -> Bundle:
    """The one reader of Bundles: checked metadata, the model rebuilt from its registered name and options
    (or the user's recorded code, see `build_recorded`), and weights that fit it (names, shapes, finite
    values). Any inconsistency is one UserError line naming the file and the field; a bundle.json that
    disagrees with the header is one warning line."""

    from safetensors.torch import load_file  # lazy: safetensors

    folder = bundle_dir(path)
    file = folder / "model.safetensors"
    meta = read_meta(folder)
    sig = Signature.from_dict(meta["signature"])
    spec = meta["model"]
    if _graph_stands_in(meta):  # a notebook's or a script's model, in another process: no code runs
        return _graph_bundle(folder, meta, sig, device)
    try:
        model = build_recorded(spec, sig, folder, trust_code)
    except UserError as exc:
        raise UserError(f"{file}: {exc}") from exc
    except Exception as exc:  # metadata a user edited can break a constructor in any way
        raise UserError(
            f"{file}: model '{one_line(spec['name'], 60)}' cannot be built from its metadata "
            f"({exc.__class__.__name__}: {one_line(str(exc), 120)}); the bundle is damaged"
        ) from exc
    try:
        state = load_file(str(file), device=str(device))
    except Exception as exc:  # a truncated body, a bad dtype, an offset past the end
        raise UserError(
            f"{file} is corrupt or truncated ({one_line(str(exc), 120)}); retrain or restore the file"
        ) from exc
    check_weights(state, model, spec["name"], file)
    model.load_state_dict(state, strict=True)
    model.to(device).eval()
    warning = compare_copy(meta, folder)  # told only for a bundle that loads: an error stays one line
    if warning:
        print(f"kindling: warning: {warning}", file=sys.stderr)
    return Bundle(model, sig, meta, folder)


def _graph_stands_in(meta: dict) -> bool:
    from kindling.bundle.graph import stands_in  # lazy: torch

    return stands_in(meta)


def _graph_bundle(folder: Path, meta: dict, sig: Signature, device: str) -> Bundle:
    """The Bundle with its ONNX graph as the model (kindling.bundle.graph); its weights are in the graph."""

    from kindling.bundle.graph import load_graph  # lazy: torch

    model = load_graph(folder, meta).to(device).eval()
    warning = compare_copy(meta, folder)
    if warning:
        print(f"kindling: warning: {warning}", file=sys.stderr)
    return Bundle(model, sig, meta, folder)


def load_bundle(path: str | Path, device: str = "cpu", trust_code: bool = False) -> Bundle:
    """`read_bundle` under its older name (every caller goes through the same checks)."""
    return read_bundle(path, device, trust_code)


def save_code_copy(folder: Path, record: dict, source: bytes) -> None:
    """The user's model source, kept in the Bundle (`best/code/FILE.py`) for `--trust-code`."""
    atomic_write_bytes(Path(folder) / record["copy"], source)


def build_recorded(spec: dict, sig: Signature, folder: Path, trust_code: bool = False):
    """A Bundle's model. A registered one is built by name; the user's own code is imported only from
    where the Bundle recorded it, unchanged (sha256), or from the Bundle's copy with `trust_code`:
    loading a Bundle never runs code the user did not point at."""

    if spec["name"] == "ensemble":  # kindling cv --ensemble: each member rebuilt from its own record
        return _ensemble(spec, sig, folder, trust_code)
    if "code" in spec:
        return recorded.rebuild(spec["code"], folder, sig, trust_code)
    if usercode.is_reference(spec["name"]):
        raise UserError(
            f"{folder} names the model '{spec['name']}' without a record of its code; retrain it with this kindling"
        )
    return build(spec["name"], sig, spec.get("options", {}))


def _ensemble(spec: dict, sig: Signature, folder: Path, trust_code: bool):
    """A fold ensemble's model (kindling.models.averaged): its members rebuilt one by one as a Bundle of
    each would be (the user's code only from where it was recorded), then averaged as the Task says."""
    from kindling.models.averaged import MAX_MEMBERS  # lazy: torch

    options = dict(spec.get("options") or {})
    members = options.get("members")
    if not isinstance(members, list) or not 1 <= len(members) <= MAX_MEMBERS:
        raise UserError(f"model 'ensemble' needs options.members, a list of 1 to {MAX_MEMBERS} model specs")
    built = []
    for i, member in enumerate(members):
        if not isinstance(member, dict) or not isinstance(member.get("name"), str) or not member["name"]:
            raise UserError(f"ensemble member {i} is not a model spec with a name")
        if member["name"] == "ensemble":
            raise UserError(f"ensemble member {i} is itself an ensemble; an ensemble holds models")
        built.append(build_recorded(member, sig, folder, trust_code))
    return build("ensemble", sig, {**options, "members": built})
