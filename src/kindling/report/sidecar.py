"""The report sidecar: a second process that writes a run's TensorBoard events and draws its plots, so
that the training process never imports matplotlib or TensorBoard and runs no extra thread.

Why a process: on a 2-core machine torch trains on both cores, and any third busy thread stalls its
OpenMP workers at every barrier (importing matplotlib on a side thread made the digits demo's first
epoch 0.5 s slower). The sidecar starts before torch loads (runner.train calls `prepare`), imports and
warms up while the training process is still single-threaded, then sleeps on its pipe until the end of
training, when it draws the plots side by side (a group per core).

    car = Sidecar.start()                  # python -m kindling.report.sidecar
    car.call("scalars", step=3, values={...})   # queued; sent by the next flush()
    car.flush()
    car.request("finish")                  # waits: {"entries": [...], "errors": [...]}
    car.close()

Messages are frames of a JSON header and raw numpy buffers (dtype and shape in the header): nothing
is pickled. If the sidecar dies, `dead` says why, calls become no-ops and requests answer
{"error": ...}; the callbacks then draw the plots in the training process instead.
"""

from __future__ import annotations

import json
import os
import select
import struct
import subprocess
import sys

import numpy as np

from kindling.report.sink import METHODS, REQUESTS, ReportSink

HEAD = struct.Struct("<II")  # header bytes, array bytes


def encode(method: str, kwargs: dict) -> bytes:
    arrays: list[np.ndarray] = []

    def pack(value):
        if isinstance(value, np.ndarray):
            arrays.append(np.ascontiguousarray(value))
            return {"__array__": len(arrays) - 1}
        if isinstance(value, dict):
            return {k: pack(v) for k, v in value.items()}
        if isinstance(value, (list, tuple)):
            return [pack(v) for v in value]
        if isinstance(value, np.generic):
            return value.item()
        return value

    packed = pack(kwargs)
    shapes = [[a.dtype.str, list(a.shape)] for a in arrays]
    header = json.dumps({"method": method, "kwargs": packed, "arrays": shapes}).encode("utf-8")
    body = b"".join(a.tobytes() for a in arrays)
    return HEAD.pack(len(header), len(body)) + header + body


def decode(header_bytes: bytes, body: bytes) -> tuple[str, dict]:
    header = json.loads(header_bytes)
    arrays, offset = [], 0
    for dtype, shape in header["arrays"]:
        dtype = np.dtype(dtype)
        if dtype.hasobject:
            raise ValueError("object arrays are not accepted")
        count = int(np.prod(shape, dtype=np.int64))
        arrays.append(np.frombuffer(body, dtype, count=count, offset=offset).reshape(shape))
        offset += count * dtype.itemsize

    def unpack(value):
        if isinstance(value, dict):
            if set(value) == {"__array__"}:
                return arrays[value["__array__"]]
            return {k: unpack(v) for k, v in value.items()}
        if isinstance(value, list):
            return [unpack(v) for v in value]
        return value

    return header["method"], unpack(header["kwargs"])


def read_frame(stream) -> tuple[str, dict] | None:
    """The next message from a binary stream; None at its end."""
    head = stream.read(HEAD.size)
    if len(head) < HEAD.size:
        return None
    header_len, body_len = HEAD.unpack(head)
    header, body = stream.read(header_len), stream.read(body_len)
    if len(header) < header_len or len(body) < body_len:
        return None
    return decode(header, body)


class Sidecar:
    """The training process's end of the pipe."""

    def __init__(self, process: subprocess.Popen):
        self.process = process
        self.fd = process.stdin.fileno()
        os.set_blocking(self.fd, False)  # training never waits on the sidecar: what does not fit stays queued
        _widen(self.fd)
        self.queue: list[bytes] = []
        self.unsent = b""
        self.dead: str | None = None
        self.used = False  # sent anything: closing it then means letting it finish its files

    @classmethod
    def start(cls, matplotlib: bool = True) -> Sidecar | None:
        """Start the sidecar (None if it cannot be started, or off POSIX: the caller draws in-process).
        `matplotlib`: import it while warming up (runs whose plots include matplotlib's)."""
        if os.name != "posix":  # non-blocking pipes, select on pipes and fork are POSIX
            return None
        env = dict(os.environ)
        env.update(
            {"OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "MPLBACKEND": "Agg"}
        )
        # the same imports as this process, however its sys.path was set (a notebook, a source checkout)
        env["PYTHONPATH"] = os.pathsep.join(p for p in sys.path if p and os.path.isdir(p))
        try:
            process = subprocess.Popen(
                [sys.executable, "-m", "kindling.report.sidecar", *(["--matplotlib"] if matplotlib else [])],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.DEVNULL,
                env=env,
            )
        except OSError:
            return None
        return cls(process)

    def call(self, method: str, **kwargs) -> None:
        """Queue a message (sent by the next flush or request)."""
        self.used = True
        if self.dead is None:
            self.queue.append(encode(method, kwargs))

    def flush(self) -> None:
        self.call("flush")
        self._send()

    def _send(self, wait: bool = False) -> None:
        """Write what is queued; without `wait`, only what the pipe takes now (the rest goes next time)."""
        if self.dead is not None:
            self.queue.clear()
            return
        self.unsent += b"".join(self.queue)
        self.queue = []
        try:
            while self.unsent:
                if wait:
                    select.select([], [self.fd], [])
                try:
                    written = os.write(self.fd, self.unsent)
                except BlockingIOError:
                    if not wait:
                        return
                    continue
                self.unsent = self.unsent[written:]
        except OSError:  # BrokenPipeError included: the sidecar is gone
            self._died()

    def request(self, method: str, timeout: float = 600, **kwargs) -> dict:
        """Send everything queued and this request, and wait for the answer (a sidecar silent for
        `timeout` seconds is killed and counted dead)."""
        self.call(method, **kwargs)
        self._send(wait=True)
        if self.dead is None:
            line = self._answer(timeout)
            if line:
                answer = json.loads(line)
                if answer.get("error"):
                    return {"error": answer["error"]}
                return answer.get("result") or {}
            self._died()
        return {"error": self.dead}

    def _answer(self, timeout: float) -> bytes:
        if not select.select([self.process.stdout], [], [], timeout)[0]:
            self.process.kill()
            return b""
        return self.process.stdout.readline()

    def _died(self) -> None:
        code = self.process.poll()
        self.dead = "the report sidecar process stopped" + (
            f" (exit code {code})" if code is not None else ""
        )

    def close(self) -> None:
        """Close the event file and end the process (waits a few seconds, then kills it). Never used (the
        run failed before training: a mistake in the data, say), it is killed: the error is not held up
        by its warm-up."""
        if not self.used:
            self.process.kill()
        elif self.dead is None:
            self.request("close", timeout=10)
        for stream in (self.process.stdin, self.process.stdout):
            try:
                stream.close()
            except OSError:
                pass
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


PIPE_BYTES = 1 << 20


def _widen(fd: int) -> None:
    """Grow the pipe from 64 KB to 1 MB where the OS allows it (Linux). A frame larger than the pipe is
    written in parts, one per flush: a training batch's image grid sent at the start would wait for the
    next flush, and with it everything queued behind it, so the sidecar sat idle at the last epoch while
    its whole backlog waited for the final request."""
    import fcntl

    if not hasattr(fcntl, "F_SETPIPE_SZ"):
        return
    try:
        fcntl.fcntl(fd, fcntl.F_SETPIPE_SZ, PIPE_BYTES)
    except OSError:  # not Linux, or above /proc/sys/fs/pipe-max-size: the frames still go, in parts
        pass


def serve(inp, out) -> None:
    """The sidecar's loop: a ReportSink fed by frames on `inp`; answers to requests as JSON lines on `out`."""
    sink = ReportSink(parallel=True)
    while True:
        frame = read_frame(inp)
        if frame is None:  # the training process is gone
            sink.close()
            return
        method, kwargs = frame
        result, error = None, None
        try:
            if method not in METHODS:
                raise ValueError(f"unknown message {method!r}")
            result = getattr(sink, method)(**kwargs)
        except Exception as exc:
            error = f"{method}: {type(exc).__name__}: {exc}"
            if method not in REQUESTS:
                sink.errors.append(error)  # told at the next finish
        if method in REQUESTS:
            out.write(json.dumps({"result": result, "error": error}) + "\n")
            out.flush()
        if method == "close":
            return


def main() -> None:
    os.nice(10)  # while warming up beside the trainer's start, yield to it; alone at the end, no matter
    replies = os.fdopen(os.dup(1), "w", encoding="utf-8")
    os.dup2(2, 1)  # stray prints (a library's warning) must not land in the answers
    from kindling.report.sink import warm_up

    try:
        warm_up(matplotlib="--matplotlib" in sys.argv[1:])
    except Exception:  # missing matplotlib: each plot reports it when asked for
        pass
    import gc

    gc.freeze()  # a child forked to draw then copies fewer pages: the collector no longer touches them
    serve(sys.stdin.buffer, replies)
    os._exit(0)  # the interpreter's teardown of matplotlib is ~0.2 s of nothing: answers are flushed


if __name__ == "__main__":
    main()
