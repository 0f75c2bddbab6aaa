"""The HTTP app: any Bundle behind POST /predict, compatible with seed 003's Flask client.

    app = create_app("runs/digits", max_batch=32, max_wait_ms=0)
    # POST /predict  multipart field `image` (or `file`) -> {"success": true, "predictions": [...]}
    #                JSON {"rows": [{...}]} (tables) or {"texts": ["..."]} (text) -> {"success": true, "results": [...]}

The run is fixed when the app is built: no endpoint loads a model from a path or URL in a request.
One process (`workers=1`): the model loads on a background thread after the server starts listening,
so /health and /predict answer 503 (JSON) until it is ready. Several processes share one listening
socket, and the kernel hands each connection to whichever accepts first: a worker still loading would
answer 503 after another had answered /health 200, so there each worker loads before it accepts (its
lifespan waits for the model) and every request, /health included, is answered by a loaded model.
Every error, including 404/405 and limits, is a JSON object `{"success": false, "error": "...", "status": N}`.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import platform
import secrets
import threading
import time
from pathlib import Path

from fastapi import FastAPI, Query, Request
from fastapi.responses import FileResponse, JSONResponse, PlainTextResponse
from fastapi.staticfiles import StaticFiles
from starlette.concurrency import run_in_threadpool

from kindling.bundle.files import saved_test_metrics
from kindling.data.images.load import DEFAULT_MAX_PIXELS, ImageTooLarge
from kindling.errors import UserError
from kindling.predict.batch import NOT_FINITE, json_ready
from kindling.predict.predictor import Predictor
from kindling.serve.batching import MicroBatcher
from kindling.serve.fastpath import TOP_K_MAX, PredictFastPath
from kindling.serve.limits import (
    ApiError,
    BodyLimitMiddleware,
    add_error_handlers,
    error_responses,
    openapi_predict,
)
from kindling.serve.metrics import ServeMetrics
from kindling.serve.multipart import read_parts
from kindling.serve.tuning import tune
from kindling.util.codetrust import point_at
from kindling.util.envinfo import VERSION as __version__

STATIC = Path(__file__).parent / "static"
log = logging.getLogger("kindling.serve")


class ModelState:
    """The one model of this process: loading -> ready (or failed), read by every endpoint."""

    def __init__(self, loader, threads: int = 0, max_batch: int = 32, workers: int = 1):
        self.loader, self.threads, self.max_batch, self.workers = loader, threads, max_batch, workers
        self.threads_how = ""
        self.predictor: Predictor | None = None
        self.error: str | None = None
        self.ready = threading.Event()

    def load(self) -> None:
        try:
            predictor = self.loader()
            self.threads, self.threads_how = tune(predictor, self.threads, self.max_batch, self.workers)
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
    max_wait_ms: float = 0.0,
    token: str | None = None,
    max_upload_mb: float = 10.0,
    max_pixels: int = DEFAULT_MAX_PIXELS,
    max_items: int = 256,
    default_top_k: int = 3,
    threads: int = 0,
    workers: int = 1,
    loader=None,
    trust_code: bool = False,
) -> FastAPI:
    """Build the app for one run. `loader` (tests) replaces `Predictor.load(run)`; `workers` is how many
    processes serve it (each picks its threads from its share of the cores)."""
    from PIL import Image  # lazy: PIL

    Image.MAX_IMAGE_PIXELS = max_pixels  # Pillow's own bomb check, lowered to our cap, on every decode
    state = ModelState(
        loader or (lambda: Predictor.load(run, trust_code=trust_code)), threads, max_batch, workers
    )
    metrics = ServeMetrics()
    batcher = MicroBatcher(
        lambda samples, k: state.predictor.predict_samples(samples, k),
        max_batch,
        max_wait_ms,
        on_batch=metrics.observe_batch,
    )
    limits = {"max_upload_mb": max_upload_mb, "max_pixels": max_pixels, "max_items": max_items}

    async def lifespan(app: FastAPI):
        if workers > 1:  # this worker accepts no connection until its model is loaded (see the docstring)
            await asyncio.to_thread(state.load)
        else:
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

    async def answer(request: Request, top_k: int) -> JSONResponse:
        """The work of POST /predict, for the route and for the fast path (kindling.serve.fastpath)."""
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
        if any("error" in r for r in json_ready(results)):  # NaN is not JSON: a clear 422, never a 500
            raise ApiError(422, NOT_FINITE)
        classes = len(predictor.sig.class_names)
        extra = {
            "top_k": min(top_k, classes) if classes else top_k,  # what each answer holds
            "model": predictor.bundle.name,
            "latency_ms": round((time.perf_counter() - start) * 1000, 3),
        }
        if single:
            body = {"success": True, **_shape(results[0]), **extra}
        else:
            body = {"success": True, "results": [_shape(r) for r in results], **extra}
        return JSONResponse(body)  # plain JSON types already: skips FastAPI's per-field encoder walk

    # the fast path sits inside the body limit (which also counts requests for /metrics)
    app.add_middleware(PredictFastPath, answer=answer, default_top_k=default_top_k)
    app.add_middleware(BodyLimitMiddleware, max_bytes=int(max_upload_mb * 1024 * 1024), metrics=metrics)

    @app.post(
        "/predict", openapi_extra=openapi_predict(), responses=error_responses(400, 401, 413, 415, 422, 503)
    )
    async def predict(
        request: Request,
        top_k: int = Query(default_top_k, ge=1, le=TOP_K_MAX, description="classes per input"),
    ):
        """An image (multipart field `image` or `file`), table rows or texts (JSON) -> top-k classes."""
        return await answer(request, top_k)

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
            "workers": workers,
            "threads": state.threads,
            "threads_how": state.threads_how,
        }
        return _metadata(state.require(), limits, batching, token is not None)

    @app.get("/metrics", response_class=PlainTextResponse)
    async def prometheus(request: Request):
        """Prometheus text format: request counts, latency histogram, batch sizes."""
        authorize(request)
        body, content_type = metrics.render()
        return PlainTextResponse(body, media_type=content_type)

    @app.get("/", include_in_schema=False)
    async def page():
        return FileResponse(STATIC / "index.html", media_type="text/html")

    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    return app


def _shape(result: dict) -> dict:
    """A Predictor result -> the seed's response shape: `predictions` = [{label, label_name, probability}]
    (a multi-label model's: every label over its threshold, `labels` their names, `top_labels` the top k)."""
    if "value" in result:
        return {"value": result["value"], "predictions": [{"value": result["value"]}]}
    if "labels" in result:  # multi-label: `predictions` holds every label over its threshold
        return {
            "predictions": result["predictions"],
            "labels": result["labels"],
            "top_labels": result["top_k"],
        }
    return {
        "predictions": result["top_k"],
        "label": result["label"],
        "label_name": result["label_name"],
        "probability": result["probability"],
    }


async def _image_samples(request: Request, predictor: Predictor, max_pixels: int) -> list:
    if not predictor.task.inputs.pictures:
        raise ApiError(
            415,
            f"this model takes {predictor.sig.input_kind} input: send application/json with "
            f"{predictor.task.inputs.json_field}",
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
        try:  # a small image decodes on the event loop: cheaper than the hop to a thread
            return [predictor.load_image_bytes(data, name, min(max_pixels, INLINE_PIXELS))]
        except ImageTooLarge:  # refused from its header, before any pixel was decoded: a thread decides
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
    field = predictor.task.inputs.json_field
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


INLINE_PIXELS = 256 * 256  # images up to this size decode on the event loop: well under a millisecond


def _example(field: str) -> str:
    return '{"texts": ["some text"]}' if field == "texts" else '{"rows": [{"column": 1.0}]}'


def _metadata(predictor: Predictor, limits: dict, batching: dict, auth: bool) -> dict:

    import torch  # lazy: torch

    sig, meta = predictor.sig, predictor.bundle.meta
    return {
        "model": predictor.bundle.name,
        "task": sig.task,
        "input_kind": sig.input_kind,
        "input_shape": sig.input_shape,
        "class_names": sig.class_names,
        "columns": _column_spec(predictor),
        "metrics": _metrics(meta.get("metrics", {}), predictor.bundle.path),
        "decision": meta.get("decision"),  # a two-class threshold (kindling.task.threshold), or null
        "versions": {"kindling": _version(), "torch": torch.__version__, "python": platform.python_version()},
        "trained_with": meta.get("env", {}).get("versions", {}),
        "limits": limits,
        "batching": batching,
        "auth": "bearer" if auth else "none",
        "worker_pid": os.getpid(),
    }


def _metrics(recorded: dict, folder) -> dict:
    """The best epoch's validation metrics and the run's test metrics, named as `kindling evaluate`
    names them (`accuracy`, not the training log's `acc`)."""
    named = {key: value for key, value in recorded.items() if key != "val"}
    named["val"] = {("accuracy" if k == "acc" else k): v for k, v in (recorded.get("val") or {}).items()}
    test = saved_test_metrics(folder)
    if test:
        named["test"] = {k: v for k, v in test.items() if k != "split"}
    return named


def _column_spec(predictor: Predictor) -> list[dict]:
    """Table models: one entry per input column (number, category with its choices, or date), for the
    page's generated form. Read from the fitted encoders, so the form offers what training saw."""
    if not predictor.task.inputs.table_rows:
        return []
    kinds: dict[str, dict] = {}
    for enc in predictor.sig.extras.get("encoders") or []:
        if enc.get("kind") in ("category", "embed"):
            kinds[enc["name"]] = {"type": "category", "choices": [str(c) for c in enc.get("categories", [])]}
        elif enc.get("kind") == "date":
            kinds[enc["name"]] = {"type": "date"}
    return [{"name": name, **kinds.get(name, {"type": "number"})} for name in predictor.columns()]


def _version() -> str:

    return __version__


def app_from_env() -> FastAPI:
    """uvicorn factory (`kindling.serve.app:app_from_env`): settings come from KINDLING_SERVE as JSON,
    so every worker process under `--workers N` builds the same app and loads its own model copy."""
    settings = json.loads(os.environ["KINDLING_SERVE"])
    code = settings.pop("code", None)
    if code:
        point_at(code)
    return create_app(**settings)
