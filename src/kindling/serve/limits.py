"""Request limits and the error type of the HTTP API.

The body limit is enforced twice: a Content-Length over the limit is refused before a byte of the body
is read, and a body without one (chunked) is counted as it streams in and cut off at the limit. Either
way the client gets a 413 JSON answer and the server never buffers more than the limit.
"""

from __future__ import annotations

import json
import logging
import time

from fastapi import FastAPI
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException
from starlette.requests import ClientDisconnect

from kindling.data.images.load import ImageTooLarge
from kindling.errors import UserError

log = logging.getLogger("kindling.serve")

NO_ANSWER = 499
MAX_URL_BYTES = 8192  # what nginx and most front servers accept in a request line; a URL of this API is short
MAX_HEADER_BYTES = 65536  # all request headers together; uvicorn's httptools parser sets no limit
KNOWN_PATHS = {"/", "/predict", "/health", "/metadata", "/metrics", "/docs", "/openapi.json"}


class ApiError(Exception):
    """An HTTP error with a message for the client; rendered as {"success": false, "error": ...}."""

    def __init__(self, status: int, message: str, headers: dict | None = None):
        super().__init__(message)
        self.status, self.message, self.headers = status, message, headers


class BodyTooLarge(ApiError):
    def __init__(self, max_bytes: int):
        super().__init__(
            413, f"the request body is over the limit of {max_bytes / 1048576:g} MB; send a smaller file"
        )


class BodyLimitMiddleware:
    """Pure ASGI middleware: the upload limit, plus request counts and latency for /metrics."""

    def __init__(self, app, max_bytes: int, metrics):
        self.app, self.max_bytes, self.metrics = app, max_bytes, metrics

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        start = time.perf_counter()
        # 499 (nginx's "client closed request"): the app ended without an answer, as when the client left or
        # uvicorn refused a malformed body mid-request and answered the 400 itself
        status = {"code": NO_ANSWER, "started": False}

        async def send_tracked(message):
            if message["type"] == "http.response.start":
                status["code"], status["started"] = message["status"], True
            await send(message)

        try:
            self._check_head(scope)
            await self.app(scope, self._limited(receive), send_tracked)
        except ApiError as exc:  # the body or URL limit, answered before the app saw the request
            if not status["started"]:
                await _send_json(
                    send_tracked,
                    exc.status,
                    {"success": False, "error": exc.message, "status": exc.status},
                    close=True,
                )
        except Exception:
            if not status["started"]:
                status["code"] = 500  # uvicorn answers an exception that escaped the app with a 500
            raise
        finally:
            path = scope.get("path", "")
            label = path if path in KNOWN_PATHS else "/static" if path.startswith("/static/") else "other"
            self.metrics.observe_request(
                scope.get("method", "?"), label, status["code"], time.perf_counter() - start
            )

    def _check_head(self, scope) -> None:
        """URL, headers and declared body size, checked before the app reads a byte of the body."""
        url_bytes = len(scope.get("raw_path") or b"") + len(scope.get("query_string") or b"")
        if url_bytes > MAX_URL_BYTES:
            raise ApiError(414, f"the URL is {url_bytes} bytes, over the limit of {MAX_URL_BYTES}")
        headers = scope.get("headers") or []
        header_bytes = sum(len(name) + len(value) for name, value in headers)
        if header_bytes > MAX_HEADER_BYTES:
            raise ApiError(
                431, f"the request headers are {header_bytes} bytes, over the limit of {MAX_HEADER_BYTES}"
            )
        length = dict(headers).get(b"content-length")
        if length is not None and (not length.isdigit() or int(length) > self.max_bytes):
            raise BodyTooLarge(self.max_bytes)

    def _limited(self, receive):
        seen = 0

        async def receive_limited():
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.max_bytes:
                    raise BodyTooLarge(self.max_bytes)
            return message

        return receive_limited


async def _send_json(send, status: int, payload: dict, close: bool = False) -> None:
    body = json.dumps(payload).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    if close:
        headers.append((b"connection", b"close"))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def openapi_predict() -> dict:
    """The request body of POST /predict in the OpenAPI schema: an image upload or a JSON object."""
    binary = {"type": "string", "format": "binary"}
    return {
        "requestBody": {
            "required": True,
            "content": {
                "multipart/form-data": {
                    "schema": {"type": "object", "properties": {"image": binary, "file": binary}},
                },
                "application/json": {
                    "schema": {
                        "type": "object",
                        "properties": {
                            "rows": {"type": "array", "items": {"type": "object"}},
                            "texts": {"type": "array", "items": {"type": "string"}},
                        },
                    },
                },
            },
        }
    }


def error_responses(*codes: int) -> dict:
    schema = {
        "type": "object",
        "properties": {
            "success": {"type": "boolean"},
            "error": {"type": "string"},
            "status": {"type": "integer"},
        },
    }
    return {
        code: {"description": "error", "content": {"application/json": {"schema": schema}}} for code in codes
    }


def reply(status: int, message: str, headers: dict | None = None) -> JSONResponse:
    return JSONResponse({"success": False, "error": message, "status": status}, status, headers=headers)


def error_response(request, exc: Exception) -> JSONResponse:
    """Any exception raised while answering -> the JSON error the client gets (the one mapping, used by
    the app's exception handlers and by the /predict fast path alike)."""
    if isinstance(exc, ApiError):
        return reply(exc.status, exc.message, exc.headers)
    if isinstance(exc, HTTPException):
        return reply(exc.status_code, str(exc.detail), getattr(exc, "headers", None))
    if isinstance(exc, RequestValidationError):
        parts = [
            f"'{'.'.join(str(x) for x in err.get('loc', ()))}': {err.get('msg')}" for err in exc.errors()
        ]
        return reply(422, "invalid request: " + "; ".join(parts))
    if isinstance(exc, UserError):
        return reply(413 if isinstance(exc, ImageTooLarge) else 400, str(exc))
    if isinstance(exc, ClientDisconnect):  # the body ended early: no one to answer, and no fault here
        return reply(NO_ANSWER, "the connection closed before the request body ended")
    log.error("unhandled error on %s", request.url.path, exc_info=exc)
    return reply(500, f"internal error ({exc.__class__.__name__}); see the server log")


def add_error_handlers(app: FastAPI) -> None:
    """Every exception -> its JSON answer. A class named here is answered by Starlette's exception
    middleware; only the catch-all `Exception` goes to its server-error middleware, which answers and
    then re-raises (a logged traceback) - so a client that left mid-body (ClientDisconnect) is named."""
    for kind in (ApiError, HTTPException, RequestValidationError, UserError, ClientDisconnect, Exception):
        app.add_exception_handler(kind, _handler)


async def _handler(request, exc: Exception) -> JSONResponse:
    return error_response(request, exc)
