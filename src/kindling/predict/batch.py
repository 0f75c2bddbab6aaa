"""`kindling predict` at scale: expand folders / globs / tables / text files, predict in batches,
write preds.csv or .jsonl, and optionally sort images into per-class folders.

Everything the user asked for is validated before the first forward pass, and files are written only
after every prediction succeeded (atomically), so a bad input never leaves half an output behind.
"""

from __future__ import annotations

import csv
import glob
import io
import json
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from kindling.data.tables import encode_records, is_tabular, prediction_frame, read_table
from kindling.errors import UserError
from kindling.predict.predictor import Predictor
from kindling.util.fileio import (
    NotDecodable,
    atomic_write_bytes,
    atomic_write_text,
    finite,
    read_text_checked,
)

TABLE_SUFFIXES = {".csv", ".tsv", ".parquet", ".json", ".jsonl", ".xlsx"}
OUTPUT_SUFFIXES = {".csv", ".jsonl"}


@dataclass
class Job:
    """What one `kindling predict` call was asked to do, checked before any work."""

    inputs: list[str]
    texts: list[str] = field(default_factory=list)
    top_k: int = 3
    batch_size: int = 256
    output: Path | None = None
    sort_into: Path | None = None
    min_confidence: float = 0.5
    progress: bool = True


def check_job(job: Job, predictor: Predictor) -> None:
    sig = predictor.sig
    if job.top_k < 1:
        raise UserError(f"--top-k {job.top_k} must be at least 1")
    if job.batch_size < 1:
        raise UserError(f"--batch-size {job.batch_size} must be at least 1")
    if not 0.0 <= job.min_confidence <= 1.0:
        raise UserError(f"--min-confidence {job.min_confidence} must be between 0 and 1")
    if job.output is not None and job.output.suffix.lower() not in OUTPUT_SUFFIXES:
        raise UserError(f"--output {job.output}: use a .csv or .jsonl file name")
    if job.sort_into is not None and not (predictor.task.inputs.pictures and predictor.task.class_targets):
        raise UserError("--sort-into works for image classification models only")
    if job.texts and not predictor.task.inputs.text_lines:
        raise UserError(f"--text given, but this model takes {sig.input_kind} input")
    if not job.inputs and not job.texts:
        raise UserError(
            "predict needs inputs: image files, folders, globs, a CSV (tables) or a text file / --text"
        )


def expand_paths(inputs: list[str], suffixes: set[str] | None) -> list[Path]:
    """Files, folders (searched recursively for `suffixes`) and globs -> a sorted, de-duplicated list."""
    paths: list[Path] = []
    for item in inputs:
        path = Path(item).expanduser()
        if path.is_dir():
            found = sorted(
                p
                for p in path.rglob("*")
                if p.is_file() and (suffixes is None or p.suffix.lower() in suffixes)
            )
            if not found:
                raise UserError(f"folder {path} has no input files ({', '.join(sorted(suffixes or []))})")
            paths += found
        elif path.is_file():
            paths.append(path)
        elif re.search(r"[*?\[]", item):
            found = sorted(Path(p) for p in glob.glob(str(path), recursive=True) if Path(p).is_file())
            if not found:
                raise UserError(f"the pattern {item} matches no files")
            paths += found
        else:
            raise UserError(
                f"input {item} does not exist; pass files, folders or a quoted glob like 'photos/*.jpg'"
            )
    seen: set[Path] = set()
    return [p for p in paths if not (p in seen or seen.add(p))]


def read_text_lines(paths: list[Path], encoding: str = "utf-8") -> list[str]:
    texts = []
    for path in paths:
        try:
            lines = read_text_checked(path, encoding, "predict reads one text per line").splitlines()
        except NotDecodable as exc:
            raise UserError(
                f"{path} is not valid {encoding} text (byte {exc.offset}); convert it to UTF-8"
            ) from exc
        texts += [line for line in lines if line.strip()]
    return texts


def run_job(job: Job, predictor: Predictor) -> tuple[list[dict], object]:
    """-> (results, frame): frame is the input table with prediction columns (tables), else None."""
    check_job(job, predictor)
    inputs = predictor.task.inputs
    if inputs.text_lines:
        texts = list(job.texts) + read_text_lines(expand_paths(job.inputs, None) if job.inputs else [])
        if not texts:
            raise UserError("no text to classify: the text files are empty")
        return predictor.predict_texts(texts, job.top_k, job.batch_size, job.progress), None
    if inputs.table_rows and any(Path(p).suffix.lower() in TABLE_SUFFIXES for p in job.inputs):
        return _predict_tables(job, predictor)
    paths = expand_paths(job.inputs, set(inputs.file_suffixes))
    return predictor.predict_files(paths, job.top_k, job.batch_size, job.progress), None


def _predict_tables(job: Job, predictor: Predictor) -> tuple[list[dict], object]:
    import pandas as pd  # lazy: pandas

    paths = expand_paths(job.inputs, TABLE_SUFFIXES)

    if is_tabular(predictor.sig):  # the tables source's rows: its own reader, encoders and output frame
        frame = pd.concat([read_table(p) for p in paths], ignore_index=True)
        encoded = encode_records(predictor.sig, frame)
        encoded = encoded.numpy() if hasattr(encoded, "numpy") else np.asarray(encoded)
        results = _batched(predictor, list(encoded.astype(np.float32, copy=False)), job)
        return results, prediction_frame(predictor.sig, frame, results)

    frame = pd.concat([read_table(p) for p in paths], ignore_index=True)
    columns = predictor.columns()
    samples = predictor.encode_rows(frame[[c for c in columns if c in frame.columns]].to_dict("records"))
    results = _batched(predictor, samples, job)
    out = frame.copy()
    for key in ("value", "label_name", "probability"):
        if results and key in results[0]:
            out[f"predicted_{key}"] = [r[key] for r in results]
    if results and "labels" in results[0]:
        out["predicted_labels"] = ["|".join(r["labels"]) for r in results]
    return results, out


def _batched(predictor: Predictor, samples: list, job: Job) -> list[dict]:
    results = []
    for lo in range(0, len(samples), job.batch_size):
        for i, res in enumerate(predictor.predict_samples(samples[lo : lo + job.batch_size], job.top_k)):
            results.append({"input": f"row {lo + i}", **res})
    return results


NOT_FINITE = (
    "the model's output for this input is not a finite number (NaN or infinite); its weights may be "
    "damaged or the input far outside what it was trained on"
)


def json_ready(results: list[dict]) -> list[dict]:
    """JSON stays JSON: a result holding a NaN or infinite number gets null there and an `error`."""
    ready = []
    for result in results:
        clean, bad = finite(result)
        ready.append({**clean, "error": NOT_FINITE} if bad else result)
    return ready


def write_output(path: Path, results: list[dict], frame=None) -> None:
    """preds.csv (one row per input, top-k as `name:p` pairs) or preds.jsonl (one JSON object a line)."""
    if path.suffix.lower() == ".jsonl":
        lines = (json.dumps(r, ensure_ascii=False, allow_nan=False) + "\n" for r in json_ready(results))
        atomic_write_text(path, "".join(lines))
        return
    if frame is not None:
        atomic_write_text(path, frame.to_csv(index=False))
        return
    buf = io.StringIO()
    writer = csv.writer(buf)
    extra = ["tta_views"] if results and "tta_views" in results[0] else []  # predict --tta
    if results and "value" in results[0]:
        writer.writerow(["input", "value", *extra])
        writer.writerows([r["input"], r["value"], *(r[k] for k in extra)] for r in results)
    elif results and "labels" in results[0]:  # multi-label: every label over its threshold
        writer.writerow(["input", "labels", "probabilities", "top_k", *extra])
        for r in results:
            chosen = " ".join(f"{p['label_name']}:{p['probability']:.6f}" for p in r["predictions"])
            tops = " ".join(f"{t['label_name']}:{t['probability']:.6f}" for t in r["top_k"])
            writer.writerow([r["input"], "|".join(r["labels"]), chosen, tops, *(r[k] for k in extra)])
    else:
        writer.writerow(["input", "label", "label_name", "probability", "top_k", *extra])
        for r in results:
            tops = " ".join(f"{t['label_name']}:{t['probability']:.6f}" for t in r["top_k"])
            row = [r["input"], r["label"], r["label_name"], f"{r['probability']:.6f}", tops]
            writer.writerow([*row, *(r[k] for k in extra)])
    atomic_write_text(path, buf.getvalue())


def _safe_folder(name: str) -> str:
    """A class name as one folder name: no separators, no '..', never empty."""
    cleaned = re.sub(r"[\\/\x00]", "_", name).strip().strip(".")
    return cleaned or "_"


def sort_into(folder: Path, results: list[dict], min_confidence: float) -> dict[str, int]:
    """Copy each image to folder/<class>/ or folder/uncertain/ (below min_confidence); -> counts."""
    counts: dict[str, int] = {}
    for r in results:
        src = Path(r["input"])
        label = "uncertain" if r["probability"] < min_confidence else _safe_folder(r["label_name"])
        dest = folder / label / src.name
        n = 1
        while dest.exists():
            dest = folder / label / f"{src.stem}_{n}{src.suffix}"
            n += 1
        atomic_write_bytes(dest, src.read_bytes())
        counts[label] = counts.get(label, 0) + 1
    return counts


def format_results(results: list[dict]) -> str:
    lines = []
    for r in results:
        if "value" in r:
            lines.append(f"{r['input']}: {r['value']:.4f}")
        elif "labels" in r:  # multi-label: the labels over their thresholds, then the top k
            chosen = ", ".join(f"{p['label_name']} {p['probability']:.3f}" for p in r["predictions"])
            tops = "  ".join(f"{t['label_name']} {t['probability']:.3f}" for t in r["top_k"])
            lines.append(f"{r['input']}: {chosen or '(no label over its threshold)'}   [top: {tops}]")
        else:
            tops = "  ".join(f"{t['label_name']} {t['probability']:.3f}" for t in r["top_k"])
            lines.append(f"{r['input']}: {tops}")
    return "\n".join(lines)
