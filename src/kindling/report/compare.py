"""`kindling compare RUN RUN...`: the runs side by side, in the terminal and on one page.

    path, rows = write_compare(["runs/a", "runs/b"])         # the page, next to the first run
    print(format_compare(rows))                              # the terminal's table

Each row names the figure that picked the run's best epoch beside its value (`val_loss 0.0837`: a loss
is never set beside an accuracy unnamed), and the test metrics when the run has them: what
`kindling evaluate RUN` wrote (metrics_test.json), else the evaluation training ended with
(plots/report.json, when it was on the test split). Nothing here imports torch.
"""

from __future__ import annotations

from pathlib import Path

from kindling.bundle.files import saved_test_metrics
from kindling.errors import UserError
from kindling.report import page as H
from kindling.report.html import best_record, monitor_key, resolve_run_dir
from kindling.util.fileio import atomic_write_text

TEST_KEYS = ("accuracy", "macro_f1", "mae", "rmse", "r2")  # what a run's test evaluation is shown by


def test_metrics(run_dir: Path) -> dict:
    """The run's test metrics shown in the table ({} when it has none; kindling.bundle.files.saved_test_metrics)."""
    found = saved_test_metrics(run_dir)
    return {k: found[k] for k in TEST_KEYS if k in found}


def compare_rows(dirs: list[Path]) -> list[dict]:
    """One row per run directory: its label, model, data, epochs, lr, monitor and best value, the final
    validation loss and accuracy, its test metrics and its training time."""
    from kindling.bundle.rundir import load_saved_config  # lazy: as kindling.report.html.gather
    from kindling.report.evidence import read_history  # lazy: numpy, only when a page is drawn

    names = [d.name for d in dirs]
    rows = []
    for d in dirs:
        cfg, history = load_saved_config(d), read_history(d)
        best, final = best_record(history, cfg.train.monitor) or {}, history[-1] if history else {}
        key = monitor_key(history, cfg.train.monitor)
        rows.append(
            {
                "label": str(d) if names.count(d.name) > 1 else d.name,
                "dir": d,
                "model": cfg.model.name,
                "data": cfg.data.shown,
                "lr": cfg.optim.lr,
                "epochs": f"{len(history)}/{cfg.train.epochs}",
                "key": key,
                "best": best.get(key),
                "loss": final.get("val_loss", final.get("train_loss")),
                "acc": final.get("val_acc", final.get("train_acc")),
                "test": test_metrics(d),
                "seconds": sum(r.get("seconds", 0) for r in history),
                "history": history,
            }
        )
    return rows


def test_columns(rows: list[dict]) -> list[str]:
    """The test metrics any of the runs has, in TEST_KEYS' order."""
    return [k for k in TEST_KEYS if any(k in r["test"] for r in rows)]


def _number(value) -> str:
    return "—" if value is None else f"{value:.4g}" if abs(value) < 1e-3 and value else f"{value:.4f}"


def format_compare(rows: list[dict]) -> str:
    """The runs as an aligned table for the terminal: the best monitored value named by its metric."""
    tests = test_columns(rows)
    header = ["run", "model", "data", "epochs", "best (monitor)", *(f"test {k}" for k in tests), "time"]
    lines = [header]
    for r in rows:
        best = f"{r['key']} {_number(r['best'])}" if r["best"] is not None else "—"
        cells = [r["label"], r["model"], r["data"], r["epochs"], best]
        cells += [_number(r["test"].get(k)) for k in tests] + [f"{r['seconds']:.1f} s"]
        lines.append(cells)
    widths = [max(len(str(line[i])) for line in lines) for i in range(len(header))]
    numeric = {3, *range(5, len(header))}
    return "\n".join(
        "  ".join(
            f"{c:>{w}}" if i in numeric else f"{c:<{w}}" for i, (c, w) in enumerate(zip(line, widths))
        ).rstrip()
        for line in lines
    )


def write_compare(runs: list[str | Path], output: str | Path | None = None) -> tuple[Path, list[dict]]:
    """One page: the runs' curves overlaid, their metrics side by side; written to `output`, else next
    to the first run (runs/compare.html). -> (the page's path, the rows)."""
    from kindling.report.curves import compare_curves  # lazy: matplotlib

    if len(runs) < 1:
        raise UserError("compare needs at least one run directory")
    dirs = [resolve_run_dir(r) for r in runs]
    rows = compare_rows(dirs)
    histories = {r["label"]: r["history"] for r in rows}
    plots = [compare_curves({k: v for k, v in histories.items() if v})] if any(histories.values()) else []
    page = H.render(
        "compare.html",
        title="kindling compare",
        subtitle=" vs ".join(r["label"] for r in rows),
        footer="",
        nav=[("runs", "Runs"), ("curves", "Curves")],
        runs=rows,
        tests=test_columns(rows),
        test_heads=[f"test {k}" for k in test_columns(rows)],
        plots=plots,
    )
    path = Path(output) if output else dirs[0].parent / "compare.html"
    return atomic_write_text(path, page), rows
