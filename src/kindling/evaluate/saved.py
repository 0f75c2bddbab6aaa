"""What report.html shows besides the plots, saved next to them when training ends (plots/report.json):
the evaluation of the best model, the data summary, the notes and the monitor's direction.

With it `kindling report RUN` builds the page from files alone: no torch, no data rebuilt, no model run,
no matplotlib (the plots are the PNGs already in plots/, else drawn from plots/evidence.*). It is used
only while it is up to date: it records the size and modification time of metrics.jsonl and best/, and
any change to them (a resumed run, a run cut off before its end, a replaced model) sends the report back
to evaluating and drawing.

    save(run_dir, evaluation, doctor, notes, "min")   # last, after the PNGs and index.json
    found = load(run_dir)                              # None when missing or stale

The baseline step reads the evaluation from it; kindling.report.saved adds the plots and the data summary.
"""

from __future__ import annotations

import json
from pathlib import Path

from kindling.util.fileio import atomic_write_json

VERSION = 2
NAME = "report.json"
SOURCES = ("metrics.jsonl", "best/model.safetensors", "best/bundle.json")


def _stamps(run_dir: Path) -> dict:
    stamps = {}
    for rel in SOURCES:
        path = run_dir / rel
        stat = path.stat() if path.is_file() else None
        stamps[rel] = [stat.st_size, stat.st_mtime_ns] if stat else None
    return stamps


def save(
    run_dir: Path,
    evaluation: dict | None,
    doctor: dict | None,
    notes: list[str],
    monitor_mode: str,
) -> Path:

    run_dir = Path(run_dir)
    record = {
        "version": VERSION,
        "sources": _stamps(run_dir),
        "evaluation": evaluation,
        "doctor": doctor,
        "notes": notes,
        "monitor_mode": monitor_mode,
    }
    return atomic_write_json(run_dir / "plots" / NAME, record)


def load(run_dir: Path) -> dict | None:
    """The saved record, or None when it is missing, from another version, or older than metrics.jsonl /
    best/. (kindling.report.saved.load adds its plots, read back.)"""

    run_dir = Path(run_dir)
    path = run_dir / "plots" / NAME
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(record, dict) or record.get("version") != VERSION:
        return None
    if record.get("sources") != _stamps(run_dir):
        return None
    return record
