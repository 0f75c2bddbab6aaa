"""Serving: seed 003's Flask design (one forward pass per request) vs `kindling serve`, same model.

The model is seed 000's LeNet on 32x32 RGB images (a Bundle saved from an untrained model: accuracy
is not the point, the work per request is). Every server runs as its own process on loopback; the
load comes from one asyncio client process (aiohttp) keeping C requests in flight for a fixed time.

  * Flask: `flask` threaded dev server, PIL decode + preprocess + model forward + top-3 per request,
    torch on 1 intra-op thread (its fastest setting on small machines; the seed leaves the default);
  * kindling, micro-batching off: `kindling serve --max-batch 1`;
  * kindling, micro-batching on: `kindling serve --max-batch 32 --max-wait-ms 2`;
  * the same with `--workers 2` (two processes, one model copy each).

Goal (issue 8): kindling's requests/s at 16 clients >= 3x Flask's, with p99 latency no worse.
Also ONNX (onnxruntime) vs PyTorch eager latency for 1 image and a batch of 64 (`kindling export`).

    python benchmarks/bench_serve.py            # 6 s per point
    python benchmarks/bench_serve.py --quick    # 1.5 s per point: checks that the script works
"""

from __future__ import annotations

import asyncio
import io
import os
import socket
import subprocess
import sys
import tempfile
import time
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
from kindling.bundle import load_bundle

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

    from kindling.bundle import save_bundle
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


def start(cmd: list[str], port: int) -> subprocess.Popen:
    import urllib.request

    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.time() + 120
    while time.time() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{cmd[:4]} exited: {proc.stderr.read().decode()[-1500:]}")
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


async def _load(url: str, image: bytes, clients: int, seconds: float) -> dict:
    import aiohttp

    latencies: list[float] = []
    errors = 0
    stop_at = time.perf_counter() + seconds

    async def client(session) -> None:
        nonlocal errors
        while time.perf_counter() < stop_at:
            form = aiohttp.FormData()
            form.add_field("image", image, filename="x.png", content_type="image/png")
            start = time.perf_counter()
            try:
                async with session.post(url, data=form) as r:
                    body = await r.json()
                    ok = r.status == 200 and body.get("success") is True
            except (aiohttp.ClientError, asyncio.TimeoutError, ValueError):
                ok = False
            latencies.append(time.perf_counter() - start)
            errors += not ok

    # a new connection per request, as the seed's requests.post client does; with keep-alive the Flask dev
    # server left one request per client hanging until the timeout (seen here), which would flatter kindling
    connector = aiohttp.TCPConnector(limit=clients, force_close=True)
    async with aiohttp.ClientSession(connector=connector, timeout=aiohttp.ClientTimeout(total=60)) as session:
        begin = time.perf_counter()
        await asyncio.gather(*(client(session) for _ in range(clients)))
        elapsed = time.perf_counter() - begin
    latencies.sort()
    n = len(latencies)
    return {
        "rps": n / elapsed,
        "p50": latencies[n // 2] * 1000,
        "p99": latencies[min(n - 1, int(n * 0.99))] * 1000,
        "n": n,
        "errors": errors,
    }


def measure(url: str, image: bytes, seconds: float) -> dict[int, dict]:
    asyncio.run(_load(url, image, 4, min(1.0, seconds)))  # warm-up: first requests, thread pools, caches
    return {c: asyncio.run(_load(url, image, c, seconds)) for c in CONCURRENCY}


def bench_servers(run: Path, image: bytes, seconds: float) -> dict[str, dict[int, dict]]:
    py = sys.executable
    servers = {
        "Flask, 1 forward pass per request (seed 003)": lambda port: [py, "-c", FLASK_APP, str(run), str(port)],
        "kindling serve, micro-batching off (--max-batch 1)": lambda port: [
            py, "-m", "kindling", "serve", str(run), "--port", str(port), "--max-batch", "1"],
        "kindling serve, micro-batching on (--max-batch 32)": lambda port: [
            py, "-m", "kindling", "serve", str(run), "--port", str(port), "--max-batch", "32", "--max-wait-ms", "2"],
        "kindling serve, micro-batching on, --workers 2": lambda port: [
            py, "-m", "kindling", "serve", str(run), "--port", str(port), "--max-batch", "32", "--max-wait-ms", "2",
            "--workers", "2", "--threads", "1"],
    }  # fmt: skip
    results = {}
    for name, cmd in servers.items():
        port = free_port()
        proc = start(cmd(port), port)
        try:
            results[name] = measure(f"http://127.0.0.1:{port}/predict", image, seconds)
        finally:
            stop(proc)
    return results


def bench_export(run: Path) -> dict:
    from kindling.export import export_run

    with tempfile.TemporaryDirectory() as tmp:
        return export_run(run, "onnx", Path(tmp) / "lenet.onnx", samples=64, threads=1)


def _markdown(servers: dict, onnx: dict, seconds: float) -> str:
    rows = []
    for name, by_c in servers.items():
        for c, r in by_c.items():
            rows.append([name, c, f"{r['rps']:.0f}", f"{r['p50']:.1f}", f"{r['p99']:.1f}", r["errors"]])
    flask = list(servers.values())[0][16]
    verdicts = []
    for name, by_c in list(servers.items())[2:]:
        ratio, p99 = by_c[16]["rps"] / flask["rps"], by_c[16]["p99"]
        met = "met" if ratio >= 3 and p99 <= flask["p99"] else "not met"
        if flask["errors"]:  # a baseline that hung or failed gives no fair ratio
            met = f"not judged: the Flask baseline failed {flask['errors']} requests in this run"
        verdicts.append(
            f"- {name}: {ratio:.2f}x Flask's requests/s at 16 clients, p99 {p99:.1f} ms vs "
            f"{flask['p99']:.1f} ms; goal (>= 3x, p99 no worse) {met}."
        )
    lat = onnx["latency_ms"]
    export_rows = [
        [label, f"{row['pytorch']:.3f}", f"{row['export']:.3f}", f"{row['pytorch'] / row['export']:.2f}x"]
        for label, row in lat.items()
    ]
    return "\n".join([
        "## Serving (issue 8)",
        "",
        f"Machine: {machine()}. Model: seed 000's LeNet, 3x32x32 input, one 32x32 PNG per request.",
        f"Each point: {seconds:g} s of closed-loop load from one aiohttp client process on loopback, one run.",
        "",
        table(["server", "clients", "requests/s", "p50 ms", "p99 ms", "errors"], rows),
        "",
        *verdicts,
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
        servers = bench_servers(run, image, seconds)
        onnx = bench_export(run)
    text = _markdown(servers, onnx, seconds)
    print(text)
    return text


if __name__ == "__main__":
    os.environ.setdefault("PYTHONWARNINGS", "ignore")
    main(quick="--quick" in sys.argv[1:])
