"""Files built to exhaust memory are refused in one line, each in a child process under a memory ceiling.

The ceiling is RLIMIT_DATA (the process's private writable memory: heap and anonymous mappings), set in
the child before it runs `kindling`. The children are forked from one process that imported torch once
(badinput.harness.Zygote): each starts as `python -m kindling` would be after its imports. Not RLIMIT_AS: a CUDA build of torch maps far more address space
than it uses (under 3 GiB of it, `import torch` fails; at 4 GiB it passes, with too little room left to
tell a 2 GiB read from a healthy run); its data segment is what a reader grows.
Measured on the CPU machine with torch 2.14 (CUDA build): `kindling train` refusing a file needs about
0.8 GB of it (768 MiB fails at import, 1 GiB passes), so 2 GiB leaves room for the reader while a reader
that takes in the whole 2 GiB file (as csv: did before issue 21) ends in MemoryError (exit 1, a traceback):
the test fails instead of filling the machine.
"""

from __future__ import annotations

import pytest

from badinput.cases_hostile import CASES
from badinput.harness import Zygote, refuse_in_child

CEILING = 2 * 2**30


@pytest.fixture(scope="module")
def zygote():
    forks = Zygote()
    yield forks
    forks.close()


@pytest.mark.parametrize("case", CASES, ids=str)
def test_hostile_file_is_refused_in_one_line_within_a_memory_ceiling(case, tmp_path, zygote):
    allowed = lambda p: p != "run" and not p.startswith("run/")  # noqa: E731
    refuse_in_child(case, tmp_path, CEILING, zygote, allowed_new=allowed)
