"""The page of a cross-validation (`kindling cv`): RUN/report.html comparing its folds.

Built from the folder alone, as the report is: cv.json (each fold's scores on its held-out part and on
the test split, the mean and spread, the ensemble's scores), each fold's metrics.jsonl (the curves,
overlaid as `kindling compare` draws them) and config.yaml. No model runs, no torch.

    path = write_page("runs/wine")        # `kindling cv` writes it at its end; `kindling report runs/wine` again
"""

from __future__ import annotations

import time
from pathlib import Path

from kindling.errors import UserError
from kindling.report import page as H
from kindling.util.fileio import atomic_write_text, read_json, read_utf8

STATE = "cv.json"  # kindling.crossval.STATE: the report layer reads the folder, it imports no runner


def is_cv_dir(path: str | Path) -> bool:
    return (Path(path) / STATE).is_file()


def _rows(state: dict) -> tuple[list[str], list[dict]]:
    """The table's metric columns and one row per fold, then mean ± std, then the ensemble."""
    summary = state.get("summary") or {}
    columns = [(split, m) for split in ("val", "test") for m in (summary.get(split) or {})]
    rows = []
    for i in range(state["folds"]):
        record = (state.get("done") or {}).get(str(i))
        if record is None:
            rows.append({"label": f"fold {i + 1}", "cells": [None] * len(columns), "note": "not run yet"})
            continue
        cells = [record.get(split, {}).get(m) for split, m in columns]
        note = f"{record.get('epochs', 0)} epochs, {record.get('seconds', 0):.1f} s"
        rows.append({"label": f"fold {i + 1}", "dir": record.get("dir"), "cells": cells, "note": note})
    if summary:
        rows.append({"label": "mean", "cells": [summary[s][m]["mean"] for s, m in columns], "note": ""})
        rows.append({"label": "std", "cells": [summary[s][m]["std"] for s, m in columns], "note": "sample"})
    ens = state.get("ensemble_metrics")
    if ens:
        split = ens.get("split", "test")
        cells = [ens.get(m) if s == split else None for s, m in columns]
        rows.append({"label": "ensemble", "cells": cells, "note": f"the {state['folds']} models averaged"})
    headers = [f"{'held-out' if split == 'val' else 'test'} {m}" for split, m in columns]
    return headers, rows


def _curves(cv_dir: Path, state: dict) -> list:
    from kindling.report.evidence import read_history  # lazy: numpy; the page needs none without curves

    histories = {}
    for i in range(state["folds"]):
        history = read_history(cv_dir / f"fold-{i}") if (cv_dir / f"fold-{i}").is_dir() else []
        if history:
            histories[f"fold {i + 1}"] = history
    if not histories:
        return []
    from kindling.report.curves import compare_curves  # lazy: matplotlib

    return [compare_curves(histories)]


def write_page(run: str | Path, output: str | Path | None = None) -> Path:
    """RUN/report.html (or `output`) for the cross-validation in RUN."""
    cv_dir = Path(run)
    if not is_cv_dir(cv_dir):
        raise UserError(f"{cv_dir} is not a cross-validation (no {STATE}); run kindling cv first")
    state = read_json(cv_dir / STATE, STATE)
    if not isinstance(state, dict) or not isinstance(state.get("folds"), int):
        raise UserError(f"{cv_dir / STATE} is damaged (no fold count); run the cross-validation again")
    headers, rows = _rows(state)
    config = cv_dir / "config.yaml"
    config_yaml = read_utf8(config, "restore config.yaml") if config.is_file() else ""
    done = len(state.get("done") or {})
    cards = [("folds", f"{done} of {state['folds']} done"), ("seed", str(state.get("seed", 0)))]
    for split, label in (("val", "held-out"), ("test", "test")):
        metrics = (state.get("summary") or {}).get(split) or {}
        for name, s in list(metrics.items())[:1]:
            cards.append((f"{label} {name}", f"{H.fmt(s['mean'])} ± {H.fmt(s['std'])}"))
    ens = state.get("ensemble_metrics")
    if ens:
        name = "accuracy" if "accuracy" in ens else "mae" if "mae" in ens else "loss"
        cards.append((f"ensemble {ens.get('split', 'test')} {name}", H.fmt(ens.get(name))))
    page = H.render(
        "cv.html",
        title=f"kindling cv: {cv_dir.name}",
        subtitle=f"{state['folds']}-fold cross-validation — {cv_dir}",
        footer=f"written by kindling cv, {time.strftime('%Y-%m-%d %H:%M')}",
        nav=[("folds", "Folds"), ("curves", "Curves"), ("setup", "Config")],
        cards=cards,
        headers=headers,
        rows=rows,
        plots=_curves(cv_dir, state),
        bundle=state.get("bundle"),
        config_yaml=config_yaml,
    )
    path = Path(output) if output else cv_dir / "report.html"
    return atomic_write_text(path, page)
