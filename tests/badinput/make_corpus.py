"""List the bad-input corpus by kind, or write every case's inputs under a folder for a look.

python tests/badinput/make_corpus.py            # counts by kind
python tests/badinput/make_corpus.py OUT_DIR    # OUT_DIR/<kind>/<case>/ with the inputs and argv.txt
"""

from __future__ import annotations

import importlib
import sys
from pathlib import Path

HERE = Path(__file__).parent


def kinds() -> dict[str, list]:
    """Every `cases_<kind>.py` beside this file: kind -> its CASES."""
    sys.path.insert(0, str(HERE.parent))
    found = {}
    for path in sorted(HERE.glob("cases_*.py")):
        module = importlib.import_module(f"badinput.{path.stem}")
        found[path.stem.removeprefix("cases_")] = list(module.CASES)
    return found


def main(argv: list[str]) -> int:
    total = 0
    for kind, cases in kinds().items():
        print(f"{kind:12} {len(cases):4} cases")
        total += len(cases)
        if argv:
            for case in cases:
                folder = Path(argv[0]) / kind / case.name
                folder.mkdir(parents=True, exist_ok=True)
                args = case.build(folder)
                (folder / "argv.txt").write_text(" ".join(map(str, args)) + "\n")
    print(f"{'total':12} {total:4} cases")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
