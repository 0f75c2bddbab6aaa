"""The hot path of the server: POST /predict with an image upload, answered without FastAPI's routing.

For a small model, FastAPI's per-request machinery (exception and exit-stack middleware, routing,
dependency solving of the `top_k` query) is a large share of the event loop's time per prediction
(cProfile shows it). This pure ASGI middleware answers the common request itself:
a multipart body and either no query or a plain `top_k=N` within its bounds. It calls the same
`answer(request, top_k)` as the FastAPI route, and maps errors through the same `error_response`, so the
two paths cannot drift apart. Anything else (JSON bodies, any other query, other paths) goes on to the
FastAPI app, which also owns the OpenAPI schema and gives every validation error its usual message.
"""

from __future__ import annotations

from starlette.requests import Request

from kindling.serve.limits import error_response

TOP_K_MAX = 1000  # the route's Query(le=...) bound


class PredictFastPath:
    def __init__(self, app, answer, default_top_k: int = 3):
        self.app, self.answer, self.default_top_k = app, answer, default_top_k

    async def __call__(self, scope, receive, send):
        top_k = self._plain(scope) if scope["type"] == "http" else None
        if top_k is None:
            return await self.app(scope, receive, send)
        request = Request(scope, receive)
        try:
            response = await self.answer(request, top_k)
        except Exception as exc:  # the app's exception handlers would do the same
            response = error_response(request, exc)
        await response(scope, receive, send)

    def _plain(self, scope) -> int | None:
        """top_k of a request this path answers exactly as the route would; None for anything else."""
        if scope["path"] != "/predict" or scope["method"] != "POST":
            return None
        ctype = next((v for k, v in scope["headers"] if k == b"content-type"), b"")
        if ctype.split(b";")[0].strip().lower() != b"multipart/form-data":
            return None
        query = scope.get("query_string", b"")
        if not query:
            return self.default_top_k
        name, _, value = query.partition(b"=")
        if name == b"top_k" and value.isdigit() and len(value) <= 4 and 1 <= int(value) <= TOP_K_MAX:
            return int(value)
        return None
