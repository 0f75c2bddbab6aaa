"""`make bench`: run every benchmarks/bench_*.py one after another (never in parallel: two torch processes
oversubscribe the cores) and write BENCHMARKS.md. Each section is also kept in benchmarks/results/cpu/NAME.md,
so `python benchmarks/run_all.py bench_report` re-measures one section and keeps the others as they were
(each says when it ran). GPU sections measured on a lent GPU machine are kept in benchmarks/results/gpu_*.md
and included as they are."""

from __future__ import annotations

import datetime
import importlib
import os
import sys
import time
import traceback
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
ORDER = [
    "bench_spine",
    "bench_trainer",
    "bench_dataset",
    "bench_images",
    "bench_images_default",
    "bench_photo_stops",
    "bench_tables",
    "bench_monitor",
    "bench_tables_suite",
    "bench_fold_ensemble",
    "bench_text",
    "bench_text_defaults",
    "bench_text_losses",
    "bench_tta",
    "bench_imbalance",
    "bench_zeroconfig",
    "bench_report",
    "bench_serve",
    "bench_corpus",
    "bench_sigkill",
    "bench_sweep",
]


def main() -> None:
    from common import machine

    quick = "--quick" in sys.argv
    only = [a for a in sys.argv[1:] if not a.startswith("-")]
    names = [n for n in ORDER if (HERE / f"{n}.py").exists() and (not only or n in only)]
    kept = HERE / "results" / "cpu"
    kept.mkdir(parents=True, exist_ok=True)
    for name in names:
        t0 = time.perf_counter()
        print(f"== {name}", flush=True)
        try:
            text = importlib.import_module(name).main(quick=quick)
        except Exception:  # one broken benchmark must not hide the others' results
            text = f"## {name}\n\nFAILED:\n\n```\n{traceback.format_exc()[-2000:]}\n```"
        took = time.perf_counter() - t0
        stamp = f"_Measured {datetime.date.today()} by `python benchmarks/run_all.py {name}` ({took:.0f} s)._"
        if not quick:  # --quick checks that the scripts run; its figures are not results
            _write(kept / f"{name}.md", f"{text.rstrip()}\n\n{stamp}\n")
        print(f"== {name} took {took:.0f} s", flush=True)
    if quick:
        return
    sections = [(kept / f"{n}.md").read_text() for n in ORDER if (kept / f"{n}.md").exists()]
    gpu = sorted((HERE / "results").glob("gpu_*.md"))
    header = (
        "# Benchmarks\n\n"
        f"Written by `make bench` (`python benchmarks/run_all.py`); machine: {machine()}; OMP/threads as each "
        "section says; each section says when it ran. Each benchmark runs alone, one after another; figures are "
        "medians of the runs stated. GPU sections come from "
        "`benchmarks/gpu_bench.sh` on a lent GPU machine (files in benchmarks/results/).\n"
    )
    body = "\n\n".join([header, *sections, *(p.read_text() for p in gpu)]) + "\n"
    out = HERE.parent / "BENCHMARKS.md"
    _write(out, body)
    print(f"wrote {out}")


def _write(path: Path, text: str) -> None:
    tmp = path.with_suffix(".md.tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


if __name__ == "__main__":
    main()
