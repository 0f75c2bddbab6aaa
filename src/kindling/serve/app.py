"""The HTTP app: any Bundle behind POST /predict, compatible with seed 003's Flask client.

    app = create_app("runs/digits", max_batch=32, max_wait_ms=5)
    # POST /predict  multipart field `image` (or `file`) -> {"success": true, "predictions": [...]}
    #                JSON {"rows": [{...}]} (tables) or {"texts": ["..."]} (text) -> {"success": true, "results": [...]}

The run is fixed when the app is built: no endpoint loads a model from a path or URL in a request.
The model loads on a background thread after the server starts listening, so /health and /predict
answer 503 (JSON) until it is ready. Every error, including 404/405 and limits, is a JSON object
`{"success": false, "error": "...", "status": N}`.
"""

from __future__ import annotations

import json
import logging
import os
import secrets
import threading
import time
from pathlib import Path

from fastapi import FastAPI, Query, Request
from fastapi.responses import FileResponse, JSONResponse, PlainTextResponse
from fastapi.staticfiles import StaticFiles
from starlette.concurrency import run_in_threadpool

from kindling.errors import UserError
from kindling.predict import DEFAULT_MAX_PIXELS, ImageTooLarge, Predictor
from kindling.serve.batching import MicroBatcher
from kindling.serve.limits import (
    ApiError,
    BodyLimitMiddleware,
    add_error_handlers,
    error_responses,
    openapi_predict,
)
from kindling.serve.metrics import ServeMetrics
from kindling.serve.multipart import read_parts

STATIC = Path(__file__).parent / "static"
log = logging.getLogger("kindling.serve")


class ModelState:
    """The one model of this process: loading -> ready (or failed), read by every endpoint."""

    def __init__(self, loader, threads: int = 0, max_batch: int = 32):
        self.loader, self.threads, self.max_batch = loader, threads, max_batch
        self.threads_how = ""
        self.predictor: Predictor | None = None
        self.error: str | None = None
        self.ready = threading.Event()

    def load(self) -> None:
        try:
            predictor = self.loader()
            self.threads, self.threads_how = _pick_threads(predictor, self.threads, self.max_batch)
            self.predictor = predictor
        except Exception as exc:  # a failed load is reported by /health and /predict, not a crash loop
            log.exception("loading the model failed")
            self.error = f"the model failed to load: {exc}"
        self.ready.set()

    def require(self) -> Predictor:
        if self.predictor is not None:
            return self.predictor
        if self.error:
            raise ApiError(503, self.error)
        raise ApiError(503, "the model is still loading; retry in a moment", headers={"Retry-After": "1"})


def create_app(
    run: str | Path,
    max_batch: int = 32,
    max_wait_ms: float = 5.0,
    token: str | None = None,
    max_upload_mb: float = 10.0,
    max_pixels: int = DEFAULT_MAX_PIXELS,
    max_items: int = 256,
    default_top_k: int = 3,
    threads: int = 0,
    loader=None,
) -> FastAPI:
    """Build the app for one run. `loader` (tests) replaces `Predictor.load(run)`."""
    from PIL import Image

    Image.MAX_IMAGE_PIXELS = max_pixels  # Pillow's own bomb check, lowered to our cap, on every decode
    state = ModelState(loader or (lambda: Predictor.load(run)), threads, max_batch)
    metrics = ServeMetrics()
    batcher = MicroBatcher(
        lambda samples, k: state.predictor.predict_samples(samples, k),
        max_batch,
        max_wait_ms,
        on_batch=metrics.observe_batch,
    )
    limits = {"max_upload_mb": max_upload_mb, "max_pixels": max_pixels, "max_items": max_items}

    async def lifespan(app: FastAPI):
        threading.Thread(target=state.load, name="kindling-load", daemon=True).start()
        batcher.start()
        yield
        await batcher.stop()

    app = FastAPI(
        title="kindling",
        version=_version(),
        lifespan=lifespan,
        description="Predictions from one trained kindling model. See GET /metadata for its inputs.",
    )
    app.state.model, app.state.metrics, app.state.batcher = state, metrics, batcher
    app.add_middleware(BodyLimitMiddleware, max_bytes=int(max_upload_mb * 1024 * 1024), metrics=metrics)
    add_error_handlers(app)

    def authorize(request: Request) -> None:
        if token is None:
            return
        given = request.headers.get("authorization", "")
        if not (given.startswith("Bearer ") and secrets.compare_digest(given[7:].encode(), token.encode())):
            raise ApiError(
                401,
                "missing or wrong bearer token; send the header 'Authorization: Bearer TOKEN'",
                headers={"WWW-Authenticate": "Bearer"},
            )

    @app.post(
        "/predict", openapi_extra=openapi_predict(), responses=error_responses(400, 401, 413, 415, 422, 503)
    )
    async def predict(
        request: Request, top_k: int = Query(default_top_k, ge=1, le=1000, description="classes per input")
    ):
        """An image (multipart field `image` or `file`), table rows or texts (JSON) -> top-k classes."""
        start = time.perf_counter()
        authorize(request)
        predictor = state.require()
        ctype = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if ctype == "multipart/form-data":
            samples, single = await _image_samples(request, predictor, max_pixels), True
        elif ctype == "application/json" or ctype.endswith("+json"):
            samples, single = await _json_samples(request, predictor, max_items), False
        else:
            raise ApiError(
                415,
                f"content type '{ctype or 'none'}' is not accepted; send multipart/form-data with an "
                "'image' field, or application/json with 'rows' or 'texts'",
            )
        results = await batcher.submit(samples, top_k)
        extra = {
            "top_k": top_k,
            "model": predictor.bundle.name,
            "latency_ms": round((time.perf_counter() - start) * 1000, 3),
        }
        if single:
            body = {"success": True, **_shape(results[0]), **extra}
        else:
            body = {"success": True, "results": [_shape(r) for r in results], **extra}
        return JSONResponse(body)  # plain JSON types already: skips FastAPI's per-field encoder walk

    @app.get("/health")
    async def health():
        """200 once the model is ready; 503 while it loads or if it failed to load."""
        if state.predictor is None:
            status = "error" if state.error else "loading"
            return JSONResponse(
                {"success": False, "status": status, "error": state.error or "the model is still loading"},
                503,
            )
        return {"success": True, "status": "ok", "model": state.predictor.bundle.name}

    @app.get("/metadata")
    async def metadata(request: Request):
        """What the model takes and returns: task, classes, input spec, its metrics, versions, limits."""
        authorize(request)
        batching = {
            "max_batch": max_batch,
            "max_wait_ms": max_wait_ms,
            "threads": state.threads,
            "threads_how": state.threads_how,
        }
        return _metadata(state.require(), limits, batching, token is not None)

    @app.get("/metrics", response_class=PlainTextResponse)
    async def prometheus(request: Request):
        """Prometheus text format: request counts, latency histogram, batch sizes."""
        authorize(request)
        return PlainTextResponse(metrics.render(), media_type="text/plain; version=0.0.4")

    @app.get("/", include_in_schema=False)
    async def page():
        return FileResponse(STATIC / "index.html", media_type="text/html")

    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    return app


def _pick_threads(predictor: Predictor, requested: int, max_batch: int) -> tuple[int, str]:
    """Intra-op threads for the model thread: `requested` if > 0, else the faster of 1 thread and all
    cores on a full batch of zeros (on small machines one thread is often several times faster).
    Interleaved repeats and the minimum of each keep a busy neighbour from deciding the result."""
    import os

    import numpy as np
    import torch

    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    if requested > 0 or cores == 1:
        torch.set_num_threads(requested or 1)
        return requested or 1, "set by --threads" if requested else "one core"
    sig = predictor.sig
    if sig.input_kind == "text":
        dummy, lengths = (
            np.ones((max_batch, sig.input_shape[0]), np.int64),
            np.full(max_batch, sig.input_shape[0]),
        )
    else:
        dummy, lengths = (
            np.zeros((max_batch, *sig.input_shape), np.uint8 if sig.input_kind == "image" else np.float32),
            None,
        )
    times = {1: [], cores: []}
    try:
        for _ in range(3):
            for n in times:
                torch.set_num_threads(n)
                start = time.perf_counter()
                predictor.predict_batch(dummy, 1, lengths)
                times[n].append(time.perf_counter() - start)
                if times[n][-1] > 1.0:  # a big model: all cores, no more timing
                    torch.set_num_threads(cores)
                    return cores, f"all cores (a batch takes {times[n][-1]:.2f}s)"
    except Exception as exc:  # an unusual model input: fall back to the safe choice
        torch.set_num_threads(1)
        return 1, f"1 ({exc.__class__.__name__} while timing)"
    best = min(times, key=lambda n: min(times[n]))
    torch.set_num_threads(best)
    return (
        best,
        f"measured on a batch of {max_batch}: 1 thread {min(times[1]) * 1e3:.1f} ms, {cores} threads {min(times[cores]) * 1e3:.1f} ms",
    )


def _shape(result: dict) -> dict:
    """A Predictor result -> the seed's response shape: `predictions` = [{label, label_name, probability}]."""
    if "value" in result:
        return {"value": result["value"], "predictions": [{"value": result["value"]}]}
    return {
        "predictions": result["top_k"],
        "label": result["label"],
        "label_name": result["label_name"],
        "probability": result["probability"],
    }


async def _image_samples(request: Request, predictor: Predictor, max_pixels: int) -> list:
    if predictor.sig.input_kind != "image":
        raise ApiError(
            415,
            f"this model takes {predictor.sig.input_kind} input: send application/json with "
            f"{'texts' if predictor.sig.input_kind == 'text' else 'rows'}",
        )
    parts = await read_parts(request)
    upload = next((part for part in parts if part.name in ("image", "file")), None)
    if upload is None:
        raise ApiError(
            400, "no image in the request: send the file in a multipart field named 'image' (or 'file')"
        )
    if upload.filename is None:
        raise ApiError(400, f"the '{upload.name}' field is text, not a file: send it as a file upload")
    data = bytes(upload.data)
    name = upload.filename or "image"
    try:
        return [await run_in_threadpool(predictor.load_image_bytes, data, name, max_pixels)]
    except ImageTooLarge as exc:
        raise ApiError(413, str(exc)) from exc
    except UserError as exc:
        raise ApiError(400, str(exc)) from exc


async def _json_samples(request: Request, predictor: Predictor, max_items: int) -> list:
    body = await request.body()
    try:
        payload = json.loads(body.decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise ApiError(
            400, f"the request body is not valid UTF-8 (bad byte at position {exc.start})"
        ) from exc
    except json.JSONDecodeError as exc:
        raise ApiError(
            422, f"the request body is not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}"
        ) from exc
    kind = predictor.sig.input_kind
    field = "texts" if kind == "text" else "rows" if kind in ("tabular", "vector") else None
    if field is None:
        raise ApiError(
            415, "this model takes images: send multipart/form-data with the file in a field named 'image'"
        )
    if not isinstance(payload, dict) or field not in payload:
        raise ApiError(422, f"field '{field}' is required: send a JSON object like {_example(field)}")
    unknown = sorted(set(payload) - {field})
    if unknown:
        raise ApiError(422, f"unknown field(s) {unknown}; this model takes only '{field}'")
    items = payload[field]
    if not isinstance(items, list) or not items:
        raise ApiError(422, f"field '{field}' must be a non-empty list, like {_example(field)}")
    if len(items) > max_items:
        raise ApiError(413, f"field '{field}' has {len(items)} items; at most {max_items} per request")
    if field == "texts":
        bad = next((i for i, t in enumerate(items) if not isinstance(t, str) or not t.strip()), None)
        if bad is not None:
            raise ApiError(422, f"field 'texts[{bad}]' must be a non-empty string")
        return items
    bad = next((i for i, r in enumerate(items) if not isinstance(r, dict)), None)
    if bad is not None:
        raise ApiError(422, f"field 'rows[{bad}]' must be an object mapping column names to values")
    try:
        return await run_in_threadpool(predictor.encode_rows, items)
    except UserError as exc:
        raise ApiError(422, f"field 'rows': {exc}") from exc


def _example(field: str) -> str:
    return '{"texts": ["some text"]}' if field == "texts" else '{"rows": [{"column": 1.0}]}'


def _metadata(predictor: Predictor, limits: dict, batching: dict, auth: bool) -> dict:
    import platform

    import torch

    sig, meta = predictor.sig, predictor.bundle.meta
    return {
        "model": predictor.bundle.name,
        "task": sig.task,
        "input_kind": sig.input_kind,
        "input_shape": sig.input_shape,
        "class_names": sig.class_names,
        "columns": _column_spec(predictor),
        "metrics": meta.get("metrics", {}),
        "versions": {"kindling": _version(), "torch": torch.__version__, "python": platform.python_version()},
        "trained_with": meta.get("env", {}).get("versions", {}),
        "limits": limits,
        "batching": batching,
        "auth": "bearer" if auth else "none",
        "worker_pid": os.getpid(),
    }


def _column_spec(predictor: Predictor) -> list[dict]:
    """Table models: one entry per input column (number, category with its choices, or date), for the
    page's generated form. Read from the fitted encoders, so the form offers what training saw."""
    if predictor.sig.input_kind not in ("tabular", "vector"):
        return []
    kinds: dict[str, dict] = {}
    for enc in predictor.sig.extras.get("encoders") or []:
        if enc.get("kind") in ("category", "embed"):
            kinds[enc["name"]] = {"type": "category", "choices": [str(c) for c in enc.get("categories", [])]}
        elif enc.get("kind") == "date":
            kinds[enc["name"]] = {"type": "date"}
    return [{"name": name, **kinds.get(name, {"type": "number"})} for name in predictor.columns()]


def _version() -> str:
    from kindling import __version__

    return __version__


def app_from_env() -> FastAPI:
    """uvicorn factory (`kindling.serve.app:app_from_env`): settings come from KINDLING_SERVE as JSON,
    so every worker process under `--workers N` builds the same app and loads its own model copy."""
    settings = json.loads(os.environ["KINDLING_SERVE"])
    return create_app(**settings)
