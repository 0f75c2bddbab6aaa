"""A table run's columns on its report page: what kindling did with each, as training printed it once.

    rows = column_rows(run_dir)   # [(column, what was done with it)], [] for a run that is not a table

Read from the Bundle's readable copy of its signature (best/bundle.json: the fitted encoders, the dropped
columns and why, the target), so the page shows the schema of the model itself. Nothing heavy imported.
"""

from __future__ import annotations

import json
from pathlib import Path


def column_rows(run_dir: Path) -> list[tuple[str, str]]:
    """(column, handling) for each input column of a table run, the target first; [] otherwise."""
    try:
        meta = json.loads((Path(run_dir) / "best" / "bundle.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return []
    sig = meta.get("signature") or {}
    extras = sig.get("extras") or {}
    if not isinstance(extras, dict) or not isinstance(extras.get("encoders"), list):
        return []
    rows = [(str(extras.get("target")), f"target ({sig.get('task', '?')})")]
    for enc in extras["encoders"]:
        if isinstance(enc, dict):
            rows.append(_row(enc))
    dropped = extras.get("dropped") or {}
    rows += [(str(name), str(why)) for name, why in dropped.items()] if isinstance(dropped, dict) else []
    return rows


def _row(enc: dict) -> tuple[str, str]:
    kind, name = enc.get("kind"), str(enc.get("name"))
    n = len(enc.get("categories") or [])
    handling = {
        "numeric": "numeric, standardised",
        "category": f"category, one-hot ({n} categories)",
        "embed": f"category, embedding ({n} categories)",
        "date": "date features (year, month, day, weekday, season)",
        "ymd": "date features (year, month, day, weekday, season)",
    }.get(kind, str(kind))
    if enc.get("sources") and kind == "ymd":
        name = "+".join(map(str, enc["sources"]))
    return name, handling + (", missing imputed + flag" if enc.get("flag") else "")
