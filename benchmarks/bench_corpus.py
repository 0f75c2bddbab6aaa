"""The bad-input corpus (tests/badinput), run and counted by kind: how many inputs were refused cleanly.

A clean refusal is exit 2 with exactly one stderr line of at most ~300 characters and no traceback,
nothing left behind (or, over HTTP, a JSON 4xx with the server still answering). A case that fails is
put in one column by what went wrong: a traceback (an exception escaped, or the line was one), a 5xx
answer, files left behind, or anything else (a wrong exit code, several lines, an unexpected message).
The goal is 100% clean. Hypothesis tests count as one case each (each runs dozens of random inputs).
The `hostile` kind (files built to exhaust memory: 2 GiB of NUL bytes as every kind of file, 100,000
columns, a 17-million-character line) runs each case in a child process under a 2 GiB RLIMIT_DATA, so a
reader that grows with the file's size fails its case (MemoryError, a traceback) instead of the machine.

    python benchmarks/bench_corpus.py                # the table, as markdown
    python benchmarks/bench_corpus.py --json OUT     # and the counts as JSON
    python benchmarks/bench_corpus.py -k bundles     # a subset (pytest's -k)
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import tempfile
from collections import defaultdict
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
COLUMNS = ("cases", "clean", "tracebacks", "5xx", "files left", "other")


class Tally:
    """A pytest plugin: one row per kind (the test module, `test_<kind>.py`), one count per outcome."""

    def __init__(self):
        self.rows: dict[str, dict[str, int]] = defaultdict(lambda: dict.fromkeys(COLUMNS, 0))
        self.failures: list[str] = []

    def pytest_runtest_logreport(self, report):
        """One outcome per test: its call, or the setup that failed instead of it."""
        if not (report.when == "call" or (report.when == "setup" and not report.passed)):
            return
        row = self.rows[Path(report.nodeid.split("::")[0]).stem.removeprefix("test_")]
        row["cases"] += 1
        if report.passed:
            row["clean"] += 1
            return
        row["other" if report.skipped else classify(report)] += 1
        self.failures.append(f"{report.nodeid}: {'skipped' if report.skipped else first_line(report)}")


def classify(report) -> str:
    text = str(report.longrepr)
    crash = getattr(getattr(report.longrepr, "reprcrash", None), "message", "") or ""
    if re.search(r"HTTP/1\.[01] 5\d\d|status=\"5\d\d\"|status.: 5\d\d", text):
        return "5xx"
    if "files left behind" in text:
        return "files left"
    if "traceback:" in text or not crash.startswith("AssertionError"):
        return "tracebacks"
    return "other"


def first_line(report) -> str:
    crash = getattr(getattr(report.longrepr, "reprcrash", None), "message", "") or str(report.longrepr)
    return " ".join(crash.split())[:240]


def table(rows: dict[str, dict[str, int]]) -> str:
    total = dict.fromkeys(COLUMNS, 0)
    lines = ["| kind | " + " | ".join(COLUMNS) + " | clean % |", "|---" * (len(COLUMNS) + 2) + "|"]
    for kind, row in sorted(rows.items()):
        for column in COLUMNS:
            total[column] += row[column]
        lines.append(_row(kind, row))
    lines.append(_row("**total**", total))
    return "\n".join(lines)


def _row(kind: str, row: dict[str, int]) -> str:
    share = 100.0 * row["clean"] / row["cases"] if row["cases"] else 0.0
    return f"| {kind} | " + " | ".join(str(row[c]) for c in COLUMNS) + f" | {share:.0f}% |"


def cli(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", help="also write the counts to this file")
    parser.add_argument("-k", default=None, help="pytest -k expression: a subset of the corpus")
    args = parser.parse_args(argv)
    tally = Tally()
    pytest_args = [str(ROOT / "tests" / "badinput"), "-q", "-p", "no:cacheprovider", "--no-header", "-rN"]
    if args.k:
        pytest_args += ["-k", args.k]
    here = os.getcwd()
    with tempfile.TemporaryDirectory(prefix="bench-corpus-") as scratch:
        os.chdir(
            scratch
        )  # what the cases leave in the working directory (Hypothesis's .hypothesis/) is scratch
        try:
            pytest.main(pytest_args, plugins=[tally])
        finally:
            os.chdir(here)
    print()
    print(table(tally.rows))
    for failure in tally.failures:
        print(f"  not clean: {failure}")
    if args.json:
        Path(args.json).write_text(json.dumps({"rows": tally.rows, "failures": tally.failures}, indent=1))
    clean = all(row["clean"] == row["cases"] for row in tally.rows.values())
    return 0 if clean and tally.rows else 1


def main(quick: bool = False) -> str:
    """run_all's entry: the table as markdown (`--quick`: a small subset, to check the script runs)."""
    import contextlib
    import io

    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        cli(["-k", "config"] if quick else [])
    kept = [line for line in out.getvalue().splitlines() if not line.rstrip().endswith("%]")]  # pytest's dots
    return "## The bad-input corpus (issue 16)\n\n" + "\n".join(kept).strip() + "\n"


if __name__ == "__main__":
    sys.exit(cli())
