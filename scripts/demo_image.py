"""Write one test-split digit of a run's data as a PNG, for `make demo` to predict."""

from __future__ import annotations

import sys
from pathlib import Path


def main(run_dir: str, out: str) -> None:
    from PIL import Image

    from kindling import data
    from kindling.bundle.rundir import load_saved_config

    cfg = load_saved_config(Path(run_dir))
    test = data.build(cfg.data).test
    index = int((test.y == 7).nonzero()[0])
    img = Image.fromarray(test.x[index, 0].numpy()).resize((64, 64), Image.NEAREST)
    Path(out).parent.mkdir(parents=True, exist_ok=True)
    img.save(out)
    print(f"wrote {out}: test sample {index}, true class {int(test.y[index])}")


if __name__ == "__main__":
    main(*sys.argv[1:3])
