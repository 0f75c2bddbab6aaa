"""`kindling serve RUN`: parse, check the run and the port, then hand over to uvicorn.

Imports nothing heavy at module level: `kindling --help` must not pay for FastAPI or torch.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import sys
import threading
from collections.abc import Iterator

from kindling.bundle.files import bundle_dir, read_bundle
from kindling.cli.args import add_trust_code
from kindling.errors import UserError
from kindling.serve.metrics import multiprocess_dir
from kindling.util.envinfo import usable_cores

AUTO_WORKERS_MAX_MB = 100


def add_commands(sub) -> None:
    p = sub.add_parser(
        "serve",
        help="serve a run's model over HTTP: POST /predict, a web page at /",
        description="Serve a trained model: POST /predict, GET /health /metadata /metrics, and a page at /.",
    )
    p.add_argument("run", help="run directory (runs/NAME) or bundle folder")
    p.add_argument(
        "--host",
        default="127.0.0.1",
        help="address to bind; 0.0.0.0 exposes it to the network (default: 127.0.0.1)",
    )
    p.add_argument("--port", type=int, default=8000, help="TCP port (default: 8000)")
    p.add_argument(
        "--workers",
        type=int,
        default=0,
        help="worker processes, each with its own model copy; 0 picks: 2 on a machine with 2+ cores for "
        f"weights up to {AUTO_WORKERS_MAX_MB} MB, else 1 (default: 0)",
    )
    p.add_argument(
        "--token",
        default=None,
        help="require 'Authorization: Bearer TOKEN' on /predict /metadata /metrics (default: none; also $KINDLING_TOKEN)",
    )
    p.add_argument(
        "--max-batch",
        type=int,
        default=32,
        help="most samples in one forward pass; 1 turns micro-batching off (default: 32)",
    )
    p.add_argument(
        "--max-wait-ms",
        type=float,
        default=0.0,
        help="how long a batch waits for more requests beyond those that queued while the model was busy "
        "(default: 0: run as soon as the model is free)",
    )
    p.add_argument(
        "--threads",
        type=int,
        default=0,
        help="intra-op threads of each worker's model; 0 measures 1 thread against the worker's share of the "
        "cores less one for the event loop (and the channels_last layout) and keeps the fastest (default: 0)",
    )
    p.add_argument(
        "--max-upload-mb",
        type=float,
        default=10.0,
        help="largest request body; bigger ones get 413 (default: 10)",
    )
    p.add_argument(
        "--max-pixels",
        type=int,
        default=40_000_000,
        help="largest image (width x height) decoded (default: 40000000)",
    )
    p.add_argument(
        "--max-items", type=int, default=256, help="most rows or texts in one JSON request (default: 256)"
    )
    p.add_argument(
        "--log-level",
        default="warning",
        help="uvicorn log level: critical | error | warning | info | debug (default: warning)",
    )
    add_trust_code(p)
    p.set_defaults(handler=cmd_serve)


def _check(args) -> None:

    # the whole Bundle (metadata, the user's recorded code unchanged or --trust-code, model, weights) is
    # checked once here, before the port opens: a damaged one is one line and exit 2, not a traceback per
    # worker and 503 forever
    read_bundle(args.run, trust_code=args.trust_code)
    checks = [
        (1 <= args.port <= 65535, f"--port {args.port} must be between 1 and 65535"),
        (args.workers >= 0, f"--workers {args.workers} must be 0 (pick) or more"),
        (args.threads >= 0, f"--threads {args.threads} must be 0 (measure) or more"),
        (args.max_batch >= 1, f"--max-batch {args.max_batch} must be at least 1"),
        (args.max_wait_ms >= 0, f"--max-wait-ms {args.max_wait_ms} must be 0 or more"),
        (args.max_upload_mb > 0, f"--max-upload-mb {args.max_upload_mb} must be positive"),
        (args.max_pixels > 0, f"--max-pixels {args.max_pixels} must be positive"),
        (args.max_items >= 1, f"--max-items {args.max_items} must be at least 1"),
        (
            args.log_level in ("critical", "error", "warning", "info", "debug", "trace"),
            f"--log-level {args.log_level} is not a uvicorn log level",
        ),
    ]
    for ok, message in checks:
        if not ok:
            raise UserError(message)
    with socket.socket(socket.AF_INET6 if ":" in args.host else socket.AF_INET) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((args.host, args.port))
        except OSError as exc:
            raise UserError(
                f"cannot listen on {args.host}:{args.port} ({exc.strerror}); pick another --port or --host"
            ) from exc


def auto_workers(run) -> int:
    """Two processes on a multi-core machine for a small model: with one, its event loop (HTTP, multipart,
    decoding, all under one GIL) is the bottleneck long before the model is; a second doubles that for one
    more model copy (hundreds of MB with a CUDA build of torch). A big model keeps one process and gets the
    cores as intra-op threads instead. More workers only when asked for."""

    weights = sum(f.stat().st_size for f in bundle_dir(run).glob("*.safetensors"))
    return 2 if usable_cores() >= 2 and weights <= AUTO_WORKERS_MAX_MB * 2**20 else 1


def cmd_serve(args) -> int:
    import uvicorn  # lazy: uvicorn

    from kindling.serve.protocol import protocol  # lazy: uvicorn

    _check(args)
    workers = args.workers or auto_workers(args.run)
    token = args.token or os.environ.get("KINDLING_TOKEN") or None
    settings = {
        "run": str(args.run),
        "max_batch": args.max_batch,
        "max_wait_ms": args.max_wait_ms,
        "token": token,
        "max_upload_mb": args.max_upload_mb,
        "max_pixels": args.max_pixels,
        "max_items": args.max_items,
        "threads": args.threads,
        "workers": workers,
        "trust_code": args.trust_code,
        "code": args.code,  # each worker names the user's file again (kindling.util.codetrust)
    }
    os.environ["KINDLING_SERVE"] = json.dumps(settings)  # read by every worker's app factory
    if args.host not in ("127.0.0.1", "localhost", "::1") and token is None:
        print("kindling: warning: serving on a non-loopback address without --token", file=sys.stderr)
    shown = f"[{args.host}]" if ":" in args.host else args.host
    print(
        f"kindling: serving {args.run} at http://{shown}:{args.port}/ with {workers} worker process"
        f"{'es' if workers > 1 else ''} (Ctrl+C stops)",
        file=sys.stderr,
        flush=True,
    )
    # before the workers start: /metrics adds up every worker's counts
    with multiprocess_dir(), _sigterm_ends_cleanly():
        uvicorn.run(
            "kindling.serve.app:app_from_env",
            factory=True,
            host=args.host,
            port=args.port,
            workers=workers,
            http=protocol(),  # uvicorn's own parser, answering a malformed request with the API's JSON 400
            log_level=args.log_level,
            access_log=args.log_level in ("info", "debug", "trace"),
        )
    return 0


@contextlib.contextmanager
def _sigterm_ends_cleanly() -> Iterator[None]:
    """SIGTERM ends the command through its `with` blocks, with exit 0. With one worker uvicorn serves in
    this process, shuts down gracefully on SIGTERM, then restores the handler it found and raises the
    signal again; the default handler would end the process there (exit -15), leaving the metrics folder
    behind. (With several workers uvicorn's supervisor returns normally.)"""
    if threading.current_thread() is not threading.main_thread():  # signals reach the main thread only
        yield
        return

    def stop(signum, frame) -> None:
        raise SystemExit(0)

    previous = signal.signal(signal.SIGTERM, stop)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)
