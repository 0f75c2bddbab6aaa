"""`make bench`: run every benchmarks/bench_*.py one after another (never in parallel: two torch processes
oversubscribe the cores) and write BENCHMARKS.md. GPU sections measured on a lent GPU machine are kept in
benchmarks/results/gpu_*.md and included as they are."""

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
    "bench_images",
    "bench_tables",
    "bench_text",
    "bench_report",
    "bench_serve",
]


def main() -> None:
    from common import machine

    quick = "--quick" in sys.argv
    only = [a for a in sys.argv[1:] if not a.startswith("-")]
    names = [n for n in ORDER if (HERE / f"{n}.py").exists() and (not only or n in only)]
    sections = []
    for name in names:
        t0 = time.perf_counter()
        print(f"== {name}", flush=True)
        try:
            sections.append(importlib.import_module(name).main(quick=quick))
        except Exception:  # one broken benchmark must not hide the others' results
            sections.append(f"## {name}\n\nFAILED:\n\n```\n{traceback.format_exc()[-2000:]}\n```")
        print(f"== {name} took {time.perf_counter() - t0:.0f} s", flush=True)
    gpu = sorted((HERE / "results").glob("gpu_*.md"))
    header = (
        "# Benchmarks\n\n"
        f"Written by `make bench` (`python benchmarks/run_all.py{' --quick' if quick else ''}`) on "
        f"{datetime.date.today()}; machine: {machine()}; OMP/threads as each section says. Each benchmark runs "
        "alone, one after another; figures are medians of the runs stated. GPU sections come from "
        "`benchmarks/gpu_bench.sh` on a lent GPU machine (files in benchmarks/results/).\n"
    )
    body = "\n\n".join([header, *sections, *(p.read_text() for p in gpu)]) + "\n"
    out = HERE.parent / "BENCHMARKS.md"
    tmp = out.with_suffix(".md.tmp")
    tmp.write_text(body)
    os.replace(tmp, out)
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
