"""`kindling data DATA-SPEC`: a data doctor. Look at the data before training on it.

Class counts and imbalance, split sizes, image sizes and modes, corrupt or unreadable files, exact
duplicates across train/val/test (leakage: a test score that measures memory, not skill), and for
tables missing values and column types. Prints a table, or one JSON object with --json.

Two kinds of evidence: the DataModule that `data.build` makes (works for every source, checks what the
model will see) and, for sources that are files on disk, a direct scan of those files (finds what the
source skipped or could not decode).
"""

from __future__ import annotations

import hashlib
from collections import Counter, defaultdict
from pathlib import Path

from kindling import data as data_mod
from kindling.data.images.load import IMAGE_SUFFIXES
from kindling.data.labelsets import label_counts
from kindling.data.tables import read_table
from kindling.errors import UserError
from kindling.task import task_for
from kindling.task.imbalance import RARE, remedies

SPLIT_DIRS = {"train": "train", "val": "val", "valid": "val", "validation": "val", "test": "test"}
IMBALANCE_WARN = 3.0  # largest / smallest class count above this is worth a warning


# ---------------------------------------------------------------- the checks


def diagnose(data_cfg) -> dict:
    """Every check that applies to `data_cfg` -> one JSON-able dict (with `warnings`, plain sentences)."""

    result: dict = {"data": data_cfg.name, "warnings": []}
    try:
        dm = data_mod.build(data_cfg)
    except UserError as exc:
        dm = None
        result["build_error"] = str(exc)
        result["warnings"].append(f"the data does not load as it is: {exc}")
    if dm is not None:
        result.update(inspect_module(dm))
        result["warnings"].extend(result.pop("_warnings"))
    path = _source_path(data_cfg.name)
    if path is not None and path.is_dir():
        result["files"] = scan_image_folder(path, dm)
        result["warnings"].extend(result["files"].pop("_warnings"))
    elif path is not None and path.suffix.lower() in (".csv", ".tsv", ".parquet") and path.is_file():
        result["table"] = inspect_table(path, data_cfg)
        # a multi-label target's empty cells are samples without a label, not missing values
        labels = set((data_cfg.target or "").split(",")) if result.get("task") == "multilabel" else set()
        gaps = {
            k: c["missing"]
            for k, c in result["table"].get("columns", {}).items()
            if c["missing"] and k not in labels
        }
        if gaps:
            shown = ", ".join(f"{k} ({v})" for k, v in list(gaps.items())[:8])
            result["warnings"].append(
                f"missing values in {shown}; data.missing={data_cfg.missing} "
                "(impute fills them from the training rows, refuse stops)"
            )
    return result


def inspect_module(dm) -> dict:
    """Checks on what the model will see: split sizes, class counts, input shape, duplicate samples."""
    import torch  # lazy: torch

    sig = dm.signature
    task = task_for(sig)
    splits = {name: dm.split(name) for name in ("train", "val", "test") if dm.split(name) is not None}
    out: dict = {
        "task": sig.task,
        "input_kind": sig.input_kind,
        "input_shape": list(sig.input_shape),
        "splits": {name: len(part) for name, part in splits.items()},
    }
    warnings: list[str] = []
    if task.class_targets:
        names = list(sig.class_names)
        counts = {}
        for name, part in splits.items():
            bins = torch.bincount(part.y.long(), minlength=len(names)).tolist()
            counts[name] = dict(zip(names, bins))
        out["class_counts"] = counts
        train = [c for c in counts.get("train", {}).values()]
        if train:
            smallest, largest = min(train), max(train)
            out["imbalance"] = round(largest / smallest, 2) if smallest else None
            if smallest == 0:
                empty = [n for n, c in counts["train"].items() if c == 0]
                warnings.append(f"classes with no training samples: {', '.join(empty[:10])}")
            elif largest / smallest > IMBALANCE_WARN:
                rare = f"; {remedies(len(names))}" if largest > RARE * smallest else ""
                warnings.append(
                    f"classes are imbalanced: the largest has {largest / smallest:.1f}x the samples of the "
                    f"smallest; watch balanced accuracy and macro-F1 (kindling evaluate), not only accuracy{rare}"
                )
    elif len(splits.get("train", [])) and splits["train"].y.ndim == 2:  # multi-label: samples per label
        counts = {name: label_counts(part.y.numpy(), list(sig.class_names)) for name, part in splits.items()}
        out["class_counts"] = counts
        empty = [n for n, c in counts["train"].items() if c == 0]
        out["empty_label_sets"] = {name: int((part.y.sum(1) == 0).sum()) for name, part in splits.items()}
        if empty:
            warnings.append(f"labels with no training sample: {', '.join(empty[:10])}")
    elif len(splits.get("train", [])):
        y = splits["train"].y.float()
        out["target"] = {
            "mean": float(y.mean()),
            "std": float(y.std()),
            "min": float(y.min()),
            "max": float(y.max()),
        }
    out["duplicates"] = duplicate_samples(splits)
    for pair, found in out["duplicates"]["across"].items():
        warnings.append(
            f"{found['count']} samples of {pair.split('-')[1]} are exact copies of {pair.split('-')[0]} samples "
            "(leakage: the score on them measures memory)"
        )
    if task.inputs.text_lines and "train" in splits and splits["train"].lengths is not None:
        lengths = splits["train"].lengths.float()
        out["text_lengths"] = {
            "mean": float(lengths.mean()),
            "max": int(lengths.max()),
            "min": int(lengths.min()),
        }
    out["_warnings"] = warnings
    return out


def _sample_hashes(part) -> list[str]:
    x = part.x.contiguous()
    flat = x.view(len(part), -1).numpy() if len(part) else []
    if part.lengths is not None:  # text: only the real tokens count
        return [
            hashlib.sha1(row[: int(n)].tobytes()).hexdigest() for row, n in zip(flat, part.lengths.tolist())
        ]
    return [hashlib.sha1(row.tobytes()).hexdigest() for row in flat]


def duplicate_samples(splits: dict) -> dict:
    """Exact duplicate inputs within each split and across splits (as the model sees them, after decoding)."""
    # streamed splits (inputs not held in memory) are left out: hashing them would read every sample again
    held = {name: part for name, part in splits.items() if hasattr(part.x, "contiguous")}
    hashes = {name: _sample_hashes(part) for name, part in held.items()}
    within = {name: len(h) - len(set(h)) for name, h in hashes.items()}
    across = {}
    names = list(hashes)
    for i, a in enumerate(names):
        first = {h: k for k, h in enumerate(hashes[a])}
        for b in names[i + 1 :]:
            hits = [(first[h], k) for k, h in enumerate(hashes[b]) if h in first]
            if hits:
                label = lambda part, k: part.names[k] if k < len(part.names) else str(k)  # noqa: E731
                examples = [[label(splits[a], p), label(splits[b], q)] for p, q in hits[:5]]
                across[f"{a}-{b}"] = {"count": len(hits), "examples": examples}
    return {"within": within, "across": across}


def _source_path(spec: str) -> Path | None:
    if ":" not in spec:
        return None
    return Path(spec.split(":", 1)[1]).expanduser()


def scan_image_folder(root: Path, dm=None) -> dict:
    """Open every image file under `root`: sizes, modes, unreadable files, identical files (by content)."""
    from PIL import Image  # lazy: PIL

    sizes: Counter = Counter()
    modes: Counter = Counter()
    bad: list[dict] = []
    by_hash: dict[str, list[str]] = defaultdict(list)
    files = sorted(p for p in root.rglob("*") if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)
    for path in files:
        by_hash[hashlib.sha1(path.read_bytes()).hexdigest()].append(str(path))
        try:
            with Image.open(path) as img:
                sizes[f"{img.size[0]}x{img.size[1]}"] += 1
                modes[img.mode] += 1
                img.load()
        except Exception as exc:  # PIL raises many types for damaged files; each is a finding, not a crash
            bad.append({"file": str(path), "error": f"{type(exc).__name__}: {str(exc)[:120]}"})
    split_of = _file_splits(root, files, dm)
    groups = [paths for paths in by_hash.values() if len(paths) > 1]
    across = [g for g in groups if len({split_of.get(p, "?") for p in g} - {"?"}) > 1]
    warnings = []
    if bad:
        warnings.append(
            f"{len(bad)} image files cannot be read (first: {bad[0]['file']}); remove them or train with "
            "--set data.skip_bad=true"
        )
    if across:
        warnings.append(f"{len(across)} files appear (byte for byte) in more than one split: leakage")
    if len(sizes) > 1:
        warnings.append(f"images come in {len(sizes)} sizes; they are resized to one (--image-size)")
    return {
        "root": str(root),
        "images": len(files),
        "sizes": dict(sizes.most_common(10)),
        "modes": dict(modes),
        "unreadable": bad,
        "duplicate_groups": len(groups),
        "duplicates_across_splits": across[:20],
        "_warnings": warnings,
    }


def _file_splits(root: Path, files: list[Path], dm) -> dict[str, str]:
    """file -> split: from a train/val/test folder in its path, else from the DataModule's sample names."""
    found = {}
    for path in files:
        for part in path.relative_to(root).parts[:-1]:
            if part.lower() in SPLIT_DIRS:
                found[str(path)] = SPLIT_DIRS[part.lower()]
                break
    if dm is not None:
        for name in ("train", "val", "test"):
            part = dm.split(name)
            for sample in part.names if part is not None else []:
                resolved = str(Path(sample)) if Path(sample).is_absolute() else str(root / sample)
                found.setdefault(resolved, name)
                found.setdefault(sample, name)
    return found


def inspect_table(path: Path, data_cfg) -> dict:
    """Columns, their types and missing values, straight from the file (read by training's own reader, so
    a hostile file costs no more here than there)."""

    encoding = (
        data_cfg.encoding if data_cfg.encoding.lower().replace("_", "-") not in ("utf-8", "utf8") else "auto"
    )
    try:
        frame = read_table(path, encoding, getattr(data_cfg, "delimiter", "auto"))
    except UserError as exc:
        return {"error": str(exc)}
    columns = {}
    for name in frame.columns:
        col = frame[name]
        columns[str(name)] = {
            "type": str(col.dtype),
            "missing": int(col.isna().sum()),
            "unique": int(col.nunique()),
        }
    return {
        "rows": len(frame),
        "columns": columns,
        "missing_total": int(frame.isna().sum().sum()),
        "target": data_cfg.target,
    }


# ---------------------------------------------------------------- output


def format_report(result: dict) -> str:
    lines = [f"data: {result['data']}"]
    if "task" in result:
        lines.append(f"task {result['task']}, input {result['input_kind']} {result['input_shape']}")
        lines.append("splits: " + ", ".join(f"{k} {v}" for k, v in result["splits"].items()))
    counts = result.get("class_counts")
    if counts:
        names = list(next(iter(counts.values())))
        width = max(5, *(len(n) for n in names))
        lines.append(f"{'class':<{width}}  " + "  ".join(f"{s:>6}" for s in counts))
        lines.extend(f"{n:<{width}}  " + "  ".join(f"{counts[s][n]:>6}" for s in counts) for n in names)
        if result.get("imbalance"):
            lines.append(f"imbalance (largest / smallest train class): {result['imbalance']}")
    dup = result.get("duplicates")
    if dup:
        within = ", ".join(f"{k} {v}" for k, v in dup["within"].items())
        across = ", ".join(f"{k} {v['count']}" for k, v in dup["across"].items()) or "none"
        lines.append(f"duplicate samples within splits: {within}; across splits: {across}")
    files = result.get("files")
    if files:
        lines.append(
            f"files under {files['root']}: {files['images']} images, sizes {files['sizes']}, modes {files['modes']}, "
            f"{len(files['unreadable'])} unreadable, {files['duplicate_groups']} groups of identical files"
        )
        lines.extend(f"  unreadable: {b['file']} ({b['error']})" for b in files["unreadable"][:10])
        lines.extend(
            f"  identical files in different splits: {', '.join(g)}"
            for g in files["duplicates_across_splits"][:10]
        )
    table = result.get("table")
    if table and "columns" in table:
        lines.append(f"table: {table['rows']} rows, {table['missing_total']} missing values")
        lines.extend(
            f"  {name:<24} {c['type']:<10} missing {c['missing']:>5}  unique {c['unique']}"
            for name, c in table["columns"].items()
        )
    lines.extend(f"warning: {w}" for w in result["warnings"])
    if not result["warnings"]:
        lines.append("no problems found")
    return "\n".join(lines)
