"""What report.html shows besides the plots, saved next to them when training ends (plots/report.json):
the evaluation of the best model, the data summary, the notes and the monitor's direction.

With it `kindling report RUN` builds the page from files alone: no torch, no data rebuilt, no model run,
no matplotlib (the plots are the PNGs already in plots/, else drawn from plots/evidence.*). It is used
only while it is up to date: it records the size and modification time of metrics.jsonl and best/, and
any change to them (a resumed run, a run cut off before its end, a replaced model) sends the report back
to evaluating and drawing.

    save(run_dir, evaluation, doctor, notes, "min")   # last, after the PNGs and index.json
    found = load(run_dir)                              # None when missing or stale
"""

from __future__ import annotations

from pathlib import Path

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


def data_summary(dm) -> tuple[dict, list[str]]:
    """The data doctor's checks on the run's data and the notes they call for."""
    from kindling.report.doctor import inspect_module

    doctor = inspect_module(dm)
    notes = list(doctor.pop("_warnings"))
    if dm.val is None or not len(dm.val):
        notes.append(
            "the run has no validation split: the best model was picked on the training metrics, "
            "and the curves show training only"
        )
    return doctor, notes


def save(
    run_dir: Path,
    evaluation: dict | None,
    doctor: dict | None,
    notes: list[str],
    monitor_mode: str,
) -> Path:
    from kindling.util.fileio import atomic_write_json

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
    """The saved record with its plots read back (`record["plots"]`: None when one is gone), or None when
    it is missing, from another version, or older than metrics.jsonl / best/."""
    import json

    run_dir = Path(run_dir)
    path, index = run_dir / "plots" / NAME, run_dir / "plots" / "index.json"
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(record, dict) or record.get("version") != VERSION:
        return None
    if record.get("sources") != _stamps(run_dir):
        return None
    try:
        entries = json.loads(index.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        entries = None
    record["plots"] = _read_plots(run_dir / "plots", entries) if isinstance(entries, list) else None
    return record


def _read_plots(folder: Path, entries: list[dict]) -> list | None:
    from kindling.report.plots import Plot

    plots = []
    for entry in entries:
        png = folder / entry.get("file", "")
        if not png.is_file():
            return None
        data, caption = entry.get("data", {}), entry.get("caption", "")
        plots.append(Plot(entry["name"], entry["title"], png.read_bytes(), data, caption))
    return plots
