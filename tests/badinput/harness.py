"""The bad-input corpus: what every refusal must look like, checked one way for every input surface.

A case is a name and a function that, given a fresh folder, writes the bad input there (files, a run
directory, a damaged Bundle ...) and returns the `kindling` arguments that use it. `refuse(case, ...)`
runs the real CLI in-process (`refuse_in_child`: in a child process under a memory ceiling, for
inputs built to exhaust memory) and checks the contract: exit 2, exactly one stderr line of at most
~300 characters starting with `kindling`, no traceback, and no file left behind that was not there
before. Each kind of input has one parametrised test (`test_<kind>.py`) over its `CASES`, so a new input
surface adds its cases in one place. `make_corpus.py` lists every case (and writes them out for a look).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

MAX_LINE = 300


@dataclass(frozen=True)
class Case:
    """`build(folder) -> argv`; `expect` is a fragment the line must contain (case-insensitive)."""

    name: str
    build: Callable[[Path], list[str]]
    expect: str = ""

    def __str__(self) -> str:  # the pytest id
        return self.name


def snapshot(folder: Path) -> set[str]:
    return {str(p.relative_to(folder)) for p in folder.rglob("*")}


def refuse(case: Case, folder: Path, capsys, allowed_new: Callable[[str], bool] = lambda p: False) -> str:
    """Run `kindling <argv>` for `case` in `folder`; assert a clean one-line refusal; return the line."""
    from kindling.cli.main import main

    argv = case.build(folder)
    before = snapshot(folder)
    capsys.readouterr()
    cwd = os.getcwd()
    os.chdir(folder)
    try:
        rc = main([str(a) for a in argv])
    except SystemExit as exc:  # argparse refuses a command line by ending the process, exit code 2
        rc = exc.code
    finally:
        os.chdir(cwd)
    out, err = capsys.readouterr()
    return _check(case, rc, err, folder, before, allowed_new)


# A process that has imported what `python -m kindling` imports (torch above all) and forks one child per
# case: each child is a fresh copy of that process, capped and run as `kindling ARGV` would be, without
# paying the 2 s of imports again (15 cases: 30 CPU-s). Nothing in it has run a torch operation before the
# fork, so no thread pool is copied half-alive.
ZYGOTE = r"""
import json, os, resource, sys, traceback
os.environ["CUDA_VISIBLE_DEVICES"] = ""  # no driver mapping counts against the cap
import pandas, torch  # noqa: F401 - every case's process imports them
from kindling.cli.main import entry
for line in sys.stdin:
    job = json.loads(line)
    pid = os.fork()
    if pid == 0:
        code = 1
        try:
            os.setsid()
            resource.setrlimit(resource.RLIMIT_DATA, (job["ceiling"], job["ceiling"]))
            os.chdir(job["cwd"])
            os.dup2(os.open(job["stderr"], os.O_WRONLY | os.O_CREAT | os.O_TRUNC), 2)
            os.dup2(os.open(os.devnull, os.O_WRONLY), 1)
            sys.argv = ["kindling", *job["argv"]]
            code = entry()  # ends the process itself when it can
        except SystemExit as exc:  # argparse's refusal of a command line
            code = exc.code if isinstance(exc.code, int) else 1
        except BaseException:
            traceback.print_exc()
        finally:
            sys.stderr.flush()
            os._exit(code or 0)
    _, status = os.waitpid(pid, 0)
    print(json.dumps({"rc": os.waitstatus_to_exitcode(status)}), flush=True)
"""


class Zygote:
    """`run(argv, cwd, ceiling)` -> (exit code, stderr) of `kindling ARGV` in a fresh child process whose
    data segment is capped at `ceiling` bytes; the children are forked from one process started once."""

    def __init__(self):
        import subprocess
        import sys

        self.proc = subprocess.Popen(
            [sys.executable, "-c", ZYGOTE], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
        )

    def run(self, argv: list[str], cwd: Path, ceiling: int, timeout: float) -> tuple[int, str]:
        import json
        import select

        err = Path(cwd).parent / f".{Path(cwd).name}.stderr"  # beside the case's folder, not in it
        job = {"argv": [str(a) for a in argv], "cwd": str(cwd), "ceiling": ceiling, "stderr": str(err)}
        self.proc.stdin.write(json.dumps(job) + "\n")
        self.proc.stdin.flush()
        ready, _, _ = select.select([self.proc.stdout], [], [], timeout)
        assert ready, f"kindling {' '.join(job['argv'])} did not end in {timeout:.0f} s"
        answer = self.proc.stdout.readline()
        assert answer, "the process forking the cases ended"
        text = err.read_text(encoding="utf-8", errors="replace")
        err.unlink()
        return json.loads(answer)["rc"], text

    def close(self) -> None:
        self.proc.stdin.close()
        try:
            self.proc.wait(timeout=30)
        except Exception:  # noqa: BLE001 - a child still running: end it with its parent
            self.proc.kill()
            self.proc.wait()


def refuse_in_child(
    case: Case,
    folder: Path,
    ceiling: int,
    zygote: Zygote,
    timeout: float = 180,
    allowed_new: Callable[[str], bool] = lambda p: False,
) -> str:
    """`refuse`, with `kindling <argv>` run in a child process (forked by `zygote`) whose data segment is
    capped at `ceiling` bytes (RLIMIT_DATA): a reader whose memory grows with a hostile file's size ends
    in MemoryError (a traceback, exit 1) instead of filling the machine. CUDA is hidden from the child so
    that no driver mapping counts against the cap."""

    argv = case.build(folder)
    before = snapshot(folder)
    rc, err = zygote.run(argv, folder, ceiling, timeout)
    return _check(case, rc, err, folder, before, allowed_new)


def _check(case: Case, rc, err: str, folder: Path, before: set[str], allowed_new) -> str:
    """The contract: exit 2, one line of at most MAX_LINE characters naming `case.expect`, nothing left."""
    lines = err.strip().splitlines()
    assert rc == 2, f"{case}: exit {rc}, stderr: {err[-2000:]}"
    assert "Traceback" not in err, f"{case}: traceback: {err[-2000:]}"
    assert len(lines) == 1, f"{case}: {len(lines)} stderr lines: {err[-2000:]}"
    line = lines[0]
    assert line.startswith("kindling"), f"{case}: {line}"
    # the case's own folder counts as one character: pytest's temporary paths (longer under xdist's
    # workers) are not the message's words
    measured = line.replace(str(folder), "F")
    assert len(measured) <= MAX_LINE, f"{case}: {len(measured)} characters (its folder as 1): {line}"
    assert case.expect.lower() in line.lower(), f"{case}: expected {case.expect!r} in: {line}"
    left = sorted(p for p in snapshot(folder) - before if not allowed_new(p))
    assert not left, f"{case}: files left behind: {left[:10]}"
    return line
