"""Plot workers: torch-free processes that draw the end-of-training plots.

Started when training starts, each imports matplotlib and loads its fonts (about 0.4 s of CPU) in a
low-priority thread, so mostly in the cycles training leaves idle, and waits on stdin. At the end of
training the trainer sends the numbers (history, signature, the best model's predictions; images only of
the samples shown) to every worker, each draws its share of the plots (worker i of n draws plots i, i+n,
...) in parallel, and the trainer writes plots/index.json. A worker never outlives the training command:
if the trainer goes away without sending a job, stdin closes and the worker exits.

    pool = PlotWorkers.start(2)                          # at fit start
    pool.draw(run_dir, history, sig, preds)              # at fit end -> index entries
"""

from __future__ import annotations

import base64
import io
import json
import os
import subprocess
import sys
import threading
from pathlib import Path
from types import SimpleNamespace

ARRAYS = ("y", "pred", "loss", "probs", "images", "image_ids")


def encode_job(run_dir: Path, history: list[dict], sig, preds, part: tuple[int, int] = (0, 1)) -> bytes:
    import numpy as np

    buf = io.BytesIO()
    arrays = (
        {k: getattr(preds, k) for k in ARRAYS if getattr(preds, k) is not None} if preds is not None else {}
    )
    np.savez(buf, **arrays)
    job = {
        "run_dir": str(run_dir),
        "part": list(part),
        "history": history,
        "signature": {"task": sig.task, "input_kind": sig.input_kind, "class_names": list(sig.class_names)},
        "split": preds.split if preds is not None else None,
        "names": list(preds.names) if preds is not None else [],
        "arrays": base64.b64encode(buf.getvalue()).decode("ascii"),
    }
    return json.dumps(job).encode("utf-8")


def decode_job(data: bytes):
    import numpy as np

    from kindling.report.evidence import Predictions

    job = json.loads(data)
    sig = SimpleNamespace(**job["signature"])
    preds = None
    if job["split"] is not None:
        with np.load(io.BytesIO(base64.b64decode(job["arrays"])), allow_pickle=False) as npz:
            arrays = {k: npz[k] for k in npz.files}
        preds = Predictions(job["split"], names=job["names"], **arrays)
    return Path(job["run_dir"]), job["history"], sig, preds, tuple(job["part"])


def draw_job(data: bytes) -> dict:
    """Draw this worker's share of the planned plots, write their PNGs -> index entries, plan order, notes."""
    from kindling.report.evidence import plan
    from kindling.report.plots import index_entry, write_pngs

    run_dir, history, sig, preds, (i, n) = decode_job(data)
    todo, notes = plan(history, preds, sig)
    plots = [draw() for _, draw in todo[i::n]]
    write_pngs(run_dir / "plots", plots)
    return {"entries": [index_entry(p) for p in plots], "order": [name for name, _ in todo], "notes": notes}


def warm_up() -> None:
    """Import matplotlib and render one small figure with text, so fonts and caches are loaded."""
    from kindling.report.plots import new_figure, to_png

    fig = new_figure(1, 1)
    fig.add_subplot().set_title("warm-up 0.123")
    to_png(fig)


WARM_NICE = 10  # low enough to yield to training, high enough not to starve behind other work


def _set_thread_nice(native_id: int, value: int) -> bool:
    """Renice one thread (Linux treats a thread id as a process id here). Lowering needs privileges."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        os.setpriority(os.PRIO_PROCESS, native_id, value)
        return True
    except OSError:
        return False


def main() -> int:
    """Warm up in a low-priority thread (the imports use the cycles training leaves idle) while the main
    thread, at normal priority, waits for the job and then draws."""
    warm = threading.Thread(
        target=lambda: (_set_thread_nice(threading.get_native_id(), WARM_NICE), warm_up()), daemon=True
    )
    warm.start()
    data = sys.stdin.buffer.read()
    if not data:  # the trainer went away without a job (interrupted, crashed): nothing to draw
        return 0
    if warm.is_alive() and warm.native_id is not None:
        _set_thread_nice(warm.native_id, 0)  # the trainer now waits on us: finish at full speed (if allowed)
    warm.join()
    sys.stdout.write(json.dumps(draw_job(data)))
    return 0


class PlotWorkers:
    def __init__(self, procs: list[subprocess.Popen]):
        self.procs = procs

    @classmethod
    def start(cls, count: int = 2) -> PlotWorkers | None:
        env = {**os.environ, "MPLBACKEND": "Agg"}
        procs = []
        try:
            for _ in range(max(1, count)):
                procs.append(
                    subprocess.Popen(
                        [sys.executable, "-m", "kindling.report.plot_worker"],
                        stdin=subprocess.PIPE,
                        stdout=subprocess.PIPE,
                        stderr=subprocess.PIPE,
                        env=env,
                    )
                )
        except OSError:
            cls(procs).close()
            return None
        return cls(procs)

    def draw(self, run_dir: Path, history: list[dict], sig, preds, timeout: float = 600) -> list[dict]:
        """Send every worker its part, wait for all, write index.json; RuntimeError if any worker failed."""
        from concurrent.futures import ThreadPoolExecutor

        from kindling.report.plots import write_index

        slim = preds.slim() if preds is not None else None
        n = len(self.procs)
        jobs = [encode_job(run_dir, history, sig, slim, (i, n)) for i in range(n)]
        with ThreadPoolExecutor(n) as pool:
            results = list(pool.map(lambda pj: self._one(*pj, timeout), zip(self.procs, jobs)))
        by_name = {e["name"]: e for r in results for e in r["entries"]}
        entries = [by_name[name] for name in results[0]["order"] if name in by_name]
        write_index(run_dir / "plots", entries)
        return entries

    def _one(self, proc: subprocess.Popen, job: bytes, timeout: float) -> dict:
        try:
            out, err = proc.communicate(job, timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.communicate()
            raise RuntimeError(f"a plot worker took over {timeout:.0f} s") from None
        if proc.returncode != 0:
            raise RuntimeError((err.decode(errors="replace").strip().splitlines() or ["no output"])[-1])
        return json.loads(out)

    def close(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                proc.kill()
                proc.communicate()


if __name__ == "__main__":
    sys.exit(main())
