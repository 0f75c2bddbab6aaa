"""`kindling tensorboard RUN...`: TensorBoard on the runs' tb/ folders, side by side.

Nothing heavy is imported here: `kindling --help` must answer at once.
"""

from __future__ import annotations

import importlib.util
import signal
import subprocess
import sys
from pathlib import Path

from kindling.errors import UserError


def add_commands(sub) -> None:
    p = sub.add_parser("tensorboard", help="start TensorBoard on the runs' tb/ folders, side by side")
    p.add_argument("runs", nargs="+", help="run directories")
    p.add_argument("--port", type=int, default=6006, help="port to listen on (default: 6006)")
    p.add_argument(
        "--host", default="127.0.0.1", help="address to bind (default: 127.0.0.1, this machine only)"
    )
    p.set_defaults(handler=cmd_tensorboard)


def tensorboard_command(runs: list[str], port: int, host: str = "127.0.0.1") -> list[str]:
    """The TensorBoard command line for these runs: each run's tb/ under the run's name."""

    if importlib.util.find_spec("tensorboard") is None:
        raise UserError(
            "TensorBoard is not installed; `pip install tensorboard` (or `pip install kindling[report]`)"
        )
    if not 0 < port < 65536:
        raise UserError(f"--port {port} is not a port number (1-65535)")
    specs, seen = [], set()
    for run in runs:
        tb = Path(run) / "tb"
        if not tb.is_dir():
            raise UserError(
                f"{run} has no TensorBoard logs (no {tb}); train with --set train.logger=tensorboard"
            )
        name = Path(run).resolve().name
        while name in seen:
            name += "_"
        seen.add(name)
        specs.append(f"{name}:{tb.resolve()}")
    return [
        sys.executable,
        "-m",
        "tensorboard.main",
        "--logdir_spec",
        ",".join(specs),
        "--port",
        str(port),
        "--host",
        host,
    ]


def cmd_tensorboard(args) -> int:
    """TensorBoard as a child process that ends with this one: Ctrl-C, SIGTERM (a service manager, `kill`)
    or SIGHUP (the terminal closed) stop the child too, so its port is never left open."""

    command = tensorboard_command(args.runs, args.port, args.host)
    print(f"TensorBoard on http://{args.host}:{args.port}/ (Ctrl-C stops it)", flush=True)

    def stop(signum, frame):
        raise KeyboardInterrupt

    # SIGINT too: a process started with SIGINT ignored (as some launchers leave it) still stops on Ctrl-C;
    # installed before the child starts, so no signal falls between the two
    previous = {sig: signal.signal(sig, stop) for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)}
    child = None
    try:
        child = subprocess.Popen(command)
        return child.wait()
    except KeyboardInterrupt:
        return 130
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        if child is not None:
            _stop(child)


def _stop(child) -> None:
    """Terminate the child and wait for it; kill it if it has not ended in 10 seconds."""

    if child.poll() is None:
        child.terminate()
        try:
            child.wait(timeout=10)
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait()
