"""Serving: seed 003's Flask design (one forward pass per request) vs `kindling serve`, same model.

The model is seed 000's LeNet on 32x32 RGB images (a Bundle saved from an untrained model: accuracy
is not the point, the work per request is). Every server runs as its own process on loopback, all of
them started together; each load point is run for every server in turn (interleaved), so a busy
neighbour on a shared machine hits them all alike. The load: one client process keeping C requests in
flight for a fixed time (closed loop), a new connection per request as the seed's `requests.post` does.

  * Flask: Flask's threaded dev server (`app.run`, as in the seed), PIL decode + preprocess + model
    forward + top-3 per request, torch on 1 intra-op thread (its fastest setting on small machines; the
    seed leaves the default);
  * kindling, micro-batching off: `kindling serve --max-batch 1`, with 1 and 2 worker processes;
  * kindling, micro-batching on: `kindling serve` (--max-batch 32), with 1 and 2 worker processes
    (2 is what `kindling serve RUN` picks on a machine with 2+ cores for a model this size).

Goal (issue 8): kindling's requests/s at 16 clients >= 3x Flask's, with p99 latency no worse; judged
only when the Flask baseline and the kindling server both answered every request of that point.
Also ONNX (onnxruntime) vs PyTorch eager latency for 1 image and a batch of 64 (`kindling export`).

What made earlier runs of the baseline hang or crawl, and what this script does about it (session 2):
  * The "hang" (every client timing out after 60 s under 16+ clients) was the harness: servers' stderr
    went to a pipe nobody read. Werkzeug logs one access line per request to stderr; after ~64 KiB
    (~900 requests) the pipe was full and every request thread blocked in write() (py-spy showed all
    of them in logging's StreamHandler.emit -> write). Servers now log to a file.
  * `torch.set_num_threads(1)` in the main thread did not reach werkzeug's request threads (one new
    thread per request): libgomp built a 2-thread team in every fresh thread, ~10 ms of CPU per
    forward instead of ~0.4 ms. The baseline runs with OMP_NUM_THREADS=1, which is what "1 intra-op
    thread" was meant to be.
  * Kept, because it is the seed's server: werkzeug's dev server closes every connection and, after each
    response, waits up to 10 ms for leftover request bytes before closing (`run_wsgi`), so its latency
    at 1 client is ~13 ms although the work takes ~3 ms.
  * The client is a minimal asyncio HTTP/1.1 client (prebuilt request, `Connection: close`, read to
    EOF), ~0.17 ms of CPU per request against aiohttp's ~0.39: it shares the 2 cores with the server
    under test, and a heavy client takes the most from the fastest server. aiohttp repeats the
    16-client point for Flask and the default kindling server as a cross-check.

    python benchmarks/bench_serve.py            # 6 s per point
    python benchmarks/bench_serve.py --quick    # 1.5 s per point: checks that the script works
"""

from __future__ import annotations

import asyncio
import io
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent
sys.path.insert(0, str(ROOT))
from common import machine, table  # noqa: E402

CONCURRENCY = (1, 16, 64)

FLASK_APP = """
import io, sys
import numpy as np, torch
from flask import Flask, jsonify, request
from PIL import Image
from kindling.bundle.files import load_bundle

torch.set_num_threads(1)
bundle = load_bundle(sys.argv[1])
model, sig = bundle.model, bundle.signature
mean = torch.tensor(sig.mean).view(1, -1, 1, 1)
std = torch.tensor(sig.std).view(1, -1, 1, 1)
app = Flask(__name__)

@app.route("/predict", methods=["POST"])
def predict():
    if "image" not in request.files:
        return jsonify({"success": False}), 400
    img = Image.open(io.BytesIO(request.files["image"].read())).convert("RGB").resize((32, 32))
    x = torch.from_numpy(np.asarray(img, dtype=np.float32) / 255.0).permute(2, 0, 1).unsqueeze(0)
    with torch.no_grad():
        probs = torch.softmax(model((x - mean) / std), dim=1)
    top_p, top_i = probs.topk(3)
    preds = [{"label": sig.class_names[i], "probability": p} for p, i in zip(top_p[0].tolist(), top_i[0].tolist())]
    return jsonify({"success": True, "predictions": preds})

@app.route("/health")
def health():
    return jsonify({"success": True})

app.run(host="127.0.0.1", port=int(sys.argv[2]), threaded=True)
"""


def make_bundle(folder: Path) -> Path:
    """Seed 000's LeNet for 3x32x32 images, untrained, saved as a kindling Bundle."""
    import torch

    from kindling.bundle.files import save_bundle
    from kindling.data.signature import Signature
    from kindling.models import build

    torch.manual_seed(0)
    names = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]
    sig = Signature("classification", "image", [3, 32, 32], names, [0.49, 0.48, 0.45], [0.25, 0.24, 0.26])
    model = build("lenet", sig, {})
    save_bundle(folder / "best", model.eval(), {"name": "lenet", "options": {}}, sig, {}, {})
    return folder


def test_image() -> bytes:
    """A 32x32 RGB PNG with some structure (a CIFAR-sized upload)."""
    import numpy as np
    from PIL import Image

    rng = np.random.default_rng(0)
    buf = io.BytesIO()
    Image.fromarray(rng.integers(0, 255, (32, 32, 3), dtype=np.uint8)).save(buf, "PNG")
    return buf.getvalue()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start(cmd: list[str], port: int, env: dict | None = None) -> subprocess.Popen:
    import urllib.request

    # the server's output goes to a file, never to a pipe nobody reads: Werkzeug writes an access-log line
    # per request to stderr, and an undrained pipe fills after ~64 KiB (~900 requests) and then blocks
    # every request thread in write() -- that, not Flask, was the "hang" seen in earlier runs
    log = tempfile.NamedTemporaryFile(prefix="kindling-bench-server-", suffix=".log", delete=False)
    proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=env)
    proc.log_path = log.name
    log.close()
    deadline = time.time() + 120
    while time.time() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{cmd[:4]} exited: {Path(proc.log_path).read_text()[-1500:]}")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=2) as r:
                if r.status == 200:
                    return proc
        except OSError:
            time.sleep(0.2)
    proc.kill()
    raise RuntimeError(f"{cmd[:4]} did not become ready")


def stop(proc: subprocess.Popen) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
    Path(proc.log_path).unlink(missing_ok=True)


def multipart_body(image: bytes) -> tuple[bytes, str]:
    """The upload `requests.post(url, files={"image": ...})` sends, encoded once: the client then spends
    its CPU on HTTP, not on re-encoding the same form for every request (it shares the cores)."""
    boundary = "kindlingbench7MA4YWxkTrZu0gW"
    head = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="image"; filename="x.png"\r\n'
        "Content-Type: image/png\r\n\r\n"
    )
    return (
        head.encode() + image + f"\r\n--{boundary}--\r\n".encode(),
        f"multipart/form-data; boundary={boundary}",
    )


async def _raw_load(url: str, image: bytes, clients: int, seconds: float) -> dict:
    """`clients` closed-loop clients for `seconds`, each on its own new connection per request (as the
    seed's `requests.post` client): send a prebuilt HTTP/1.1 request with `Connection: close`, read the
    answer to EOF, check its status line and `success`. About 0.17 ms of client CPU per request against
    aiohttp's 0.39 (both measured here): the client shares the cores with the server under test, and a
    heavy one takes the most from the fastest server."""
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    body, ctype = multipart_body(image)
    request = (
        f"POST {parts.path} HTTP/1.1\r\nHost: {parts.netloc}\r\nContent-Type: {ctype}\r\n"
        f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n"
    ).encode() + body

    async def one() -> bool:
        reader, writer = await asyncio.open_connection(parts.hostname, parts.port)
        try:
            writer.write(request)
            answer = await reader.read(-1)
        finally:
            writer.close()
        head, _, payload = answer.partition(b"\r\n\r\n")
        return (
            head.startswith((b"HTTP/1.1 200 ", b"HTTP/1.0 200 ")) and json.loads(payload)["success"] is True
        )

    return await _closed_loop(one, clients, seconds)


async def _aiohttp_load(url: str, image: bytes, clients: int, seconds: float) -> dict:
    """The same load through aiohttp (a new connection per request): a cross-check of the raw client."""
    import aiohttp

    body, ctype = multipart_body(image)
    connector = aiohttp.TCPConnector(limit=clients, force_close=True)
    async with aiohttp.ClientSession(connector=connector) as session:

        async def one() -> bool:
            async with session.post(url, data=body, headers={"Content-Type": ctype}) as r:
                return r.status == 200 and (await r.json()).get("success") is True

        return await _closed_loop(one, clients, seconds)


async def _closed_loop(one, clients: int, seconds: float) -> dict:
    """Run `one()` back to back on `clients` tasks for `seconds`; a request over 60 s, an exception or a
    False counts as an error. Latencies are per request; the client's own CPU use is reported."""
    latencies: list[float] = []
    errors = 0
    stop_at = time.perf_counter() + seconds

    async def client() -> None:
        nonlocal errors
        while time.perf_counter() < stop_at:
            start = time.perf_counter()
            try:
                ok = await asyncio.wait_for(one(), 60)
            except (OSError, asyncio.TimeoutError, ValueError, KeyError):  # aiohttp's errors are OSErrors
                ok = False
            latencies.append(time.perf_counter() - start)
            errors += not ok

    cpu, begin = time.process_time(), time.perf_counter()
    await asyncio.gather(*(client() for _ in range(clients)))
    elapsed, cpu = time.perf_counter() - begin, time.process_time() - cpu
    latencies.sort()
    n = len(latencies)
    return {
        "rps": n / elapsed,
        "p50": latencies[n // 2] * 1000,
        "p99": latencies[min(n - 1, int(n * 0.99))] * 1000,
        "n": n,
        "errors": errors,
        "client_cpu": cpu / elapsed,  # cores the load client itself used
    }


def load(url: str, image: bytes, clients: int, seconds: float, client: str = "raw") -> dict:
    run = _raw_load if client == "raw" else _aiohttp_load
    try:
        import uvloop
    except ImportError:
        return asyncio.run(run(url, image, clients, seconds))
    return uvloop.run(run(url, image, clients, seconds))


FLASK = "Flask, 1 forward pass per request (seed 003)"
DEFAULT = "kindling serve, micro-batching on, 2 workers (the default here)"


def server_commands(run: Path) -> dict[str, tuple[Callable, dict | None]]:
    """name -> (port -> argv, extra environment)."""
    py = sys.executable

    def kindling(*args: str):
        return lambda port: [py, "-m", "kindling", "serve", str(run), "--port", str(port), *args]

    return {
        FLASK: (lambda port: [py, "-c", FLASK_APP, str(run), str(port)], {"OMP_NUM_THREADS": "1"}),
        "kindling serve, micro-batching off (--max-batch 1), 1 worker": (
            kindling("--max-batch", "1", "--workers", "1"), None),
        "kindling serve, micro-batching on (--max-batch 32), 1 worker": (kindling("--workers", "1"), None),
        "kindling serve, micro-batching off (--max-batch 1), 2 workers": (
            kindling("--max-batch", "1", "--workers", "2"), None),
        DEFAULT: (kindling("--workers", "2"), None),
    }  # fmt: skip


def warm_up(url: str, image: bytes, seconds: float) -> None:
    """First requests, thread pools, caches, and every worker loaded: /health said 200 from one worker,
    and another may still answer 503 while it loads, so load until a whole round has no errors."""
    deadline = time.time() + 60
    while load(url, image, 8, seconds)["errors"] and time.time() < deadline:
        time.sleep(0.5)


def bench_servers(run: Path, image: bytes, seconds: float) -> tuple[dict, dict]:
    """-> ({server: {clients: result}}, {server: aiohttp result at 16 clients}), all servers up at once."""
    procs, urls = {}, {}
    try:
        for name, (argv, env) in server_commands(run).items():
            port = free_port()
            procs[name] = start(argv(port), port, {**os.environ, **env} if env else None)
            urls[name] = f"http://127.0.0.1:{port}/predict"
        for url in urls.values():
            warm_up(url, image, min(1.0, seconds))
        results: dict[str, dict[int, dict]] = {name: {} for name in urls}
        for clients in CONCURRENCY:
            for name, url in urls.items():
                results[name][clients] = load(url, image, clients, seconds)
        cross = {name: load(urls[name], image, 16, seconds, client="aiohttp") for name in (FLASK, DEFAULT)}
    finally:
        for proc in procs.values():
            stop(proc)
    return results, cross


def bench_export(run: Path) -> dict:
    from kindling.predict.export import export_run

    with tempfile.TemporaryDirectory() as tmp:
        return export_run(run, "onnx", Path(tmp) / "lenet.onnx", samples=64, threads=1)


def verdict(name: str, point: dict, flask: dict) -> str:
    ratio = point["rps"] / flask["rps"]
    head = (
        f"- {name}: {ratio:.2f}x Flask's requests/s at 16 clients, p99 {point['p99']:.1f} ms vs "
        f"{flask['p99']:.1f} ms; goal (>= 3x, p99 no worse) "
    )
    if flask["errors"] or point["errors"]:  # a server that failed requests gives no fair ratio
        return head + f"not judged: errors in this run (Flask {flask['errors']}, kindling {point['errors']})."
    return head + ("**met**." if ratio >= 3 and point["p99"] <= flask["p99"] else "**not met**.")


def _markdown(servers: dict, cross: dict, onnx: dict, seconds: float) -> str:
    rows = [
        [
            name,
            c,
            f"{r['rps']:.0f}",
            f"{r['p50']:.1f}",
            f"{r['p99']:.1f}",
            r["errors"],
            f"{r['client_cpu']:.2f}",
        ]
        for name, by_c in servers.items()
        for c, r in by_c.items()
    ]
    flask = servers[FLASK][16]
    verdicts = [verdict(name, by_c[16], flask) for name, by_c in servers.items() if name != FLASK]
    check = [
        f"{name}: {r['rps']:.0f} req/s, p50 {r['p50']:.1f} ms, p99 {r['p99']:.1f} ms, {r['errors']} errors, "
        f"client {r['client_cpu']:.2f} cores"
        for name, r in cross.items()
    ]
    ratio = cross[DEFAULT]["rps"] / cross[FLASK]["rps"]
    lat = onnx["latency_ms"]
    export_rows = [
        [label, f"{row['pytorch']:.3f}", f"{row['export']:.3f}", f"{row['pytorch'] / row['export']:.2f}x"]
        for label, row in lat.items()
    ]
    return "\n".join([
        "## Serving (issue 8)",
        "",
        f"Machine: {machine()}. Model: seed 000's LeNet, 3x32x32 input, one 32x32 PNG per request.",
        f"Each point: {seconds:g} s of closed-loop load from one client process on loopback (a new connection "
        "per request, as the seed's `requests.post`), servers interleaved point by point, one run. "
        "`client cores`: CPU the load client itself used (it shares the machine's cores with the server).",
        "",
        table(["server", "clients", "requests/s", "p50 ms", "p99 ms", "errors", "client cores"], rows),
        "",
        *verdicts,
        "",
        "Cross-check at 16 clients with aiohttp as the client (heavier: ~0.4 ms of CPU per request): "
        + "; ".join(check) + f" ({ratio:.2f}x).",
        "",
        "The Flask baseline is Flask's threaded dev server as in the seed, with OMP_NUM_THREADS=1 (without it "
        "torch built a 2-thread OpenMP team in each of werkzeug's per-request threads: ~10 ms of CPU per "
        "request) and its access log going to a file (an unread stderr pipe is what made it hang in earlier "
        "runs). Werkzeug waits up to 10 ms after each response for leftover request bytes before it closes "
        "the connection: that is in its latencies, as it is for the seed's users.",
        "",
        f"ONNX export of the same model (onnxruntime vs PyTorch eager, 1 thread each, median; check max abs diff "
        f"{onnx['check']['max_abs_diff']:.2g}):",
        "",
        table(["batch", "PyTorch ms", "ONNX Runtime ms", "speed-up"], export_rows),
        "",
    ])  # fmt: skip


def main(quick: bool = False) -> str:
    seconds = 1.5 if quick else 6.0
    with tempfile.TemporaryDirectory(prefix="kindling-bench-serve-") as tmp:
        run = make_bundle(Path(tmp) / "lenet")
        image = test_image()
        servers, cross = bench_servers(run, image, seconds)
        onnx = bench_export(run)
    text = _markdown(servers, cross, onnx, seconds)
    print(text)
    return text


if __name__ == "__main__":
    os.environ.setdefault("PYTHONWARNINGS", "ignore")
    main(quick="--quick" in sys.argv[1:])
