"""The saved report record (kindling.evaluate.saved) with its plots read back, and the data summary the
report and the end of training save in it.

    found = load(run_dir)     # the record, `found["plots"]` the Plots (None when one is gone); None when stale
"""

from __future__ import annotations

import json
from pathlib import Path

from kindling.evaluate.saved import load as load_record


def data_summary(dm) -> tuple[dict, list[str]]:
    """The data doctor's checks on the run's data and the notes they call for."""
    from kindling.report.doctor import inspect_module  # lazy: numpy

    doctor = inspect_module(dm)
    notes = list(doctor.pop("_warnings"))
    if dm.val is None or not len(dm.val):
        notes.append(
            "the run has no validation split: the best model was picked on the training metrics, "
            "and the curves show training only"
        )
    return doctor, notes


def load(run_dir: Path) -> dict | None:
    """The saved record with its plots read back (`record["plots"]`: None when one is gone), or None when
    it is missing, from another version, or older than metrics.jsonl / best/."""
    record = load_record(run_dir)
    if record is None:
        return None
    try:
        entries = json.loads((Path(run_dir) / "plots" / "index.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        entries = None
    record["plots"] = _read_plots(Path(run_dir) / "plots", entries) if isinstance(entries, list) else None
    return record


def _read_plots(folder: Path, entries: list[dict]) -> list | None:
    from kindling.report.plots import Plot  # lazy: numpy

    plots = []
    for entry in entries:
        png = folder / entry.get("file", "")
        if not png.is_file():
            return None
        data, caption = entry.get("data", {}), entry.get("caption", "")
        plots.append(Plot(entry["name"], entry["title"], png.read_bytes(), data, caption))
    return plots
