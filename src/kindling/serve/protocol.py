"""uvicorn's HTTP protocols with one change: a request they cannot parse gets the API's JSON 400.

uvicorn answers a malformed request (a bad request line, a bad header, a bad Content-Length, a request
h11 finds too long) itself, before the app sees it, with `400 text/plain`. Every other error of this API
is `{"success": false, "error": ..., "status": N}`, so a client parses one shape. `kindling serve` passes
these classes to uvicorn (its documented `http=` setting); they can go when uvicorn lets an app shape
that answer.
"""

from __future__ import annotations

import json

from uvicorn.protocols.http.h11_impl import H11Protocol

MESSAGE = (
    "malformed HTTP request ({reason}); send a valid HTTP/1.1 request (request line, headers, "
    "Content-Length matching the body)"
)


def json_400(reason: str) -> bytes:
    status = 400
    text = MESSAGE.format(reason=reason.rstrip(".").lower() or "unparseable")
    return json.dumps({"success": False, "error": text, "status": status}).encode()


class JsonErrorH11(H11Protocol):
    """The pure-Python parser (uvicorn's `h11`)."""

    def send_400_response(self, msg: str) -> None:
        import h11  # lazy: h11

        body = json_400(msg)
        headers = [
            (b"content-type", b"application/json"),
            (b"content-length", str(len(body)).encode()),
            (b"connection", b"close"),
        ]
        for event in (
            h11.Response(status_code=400, headers=headers, reason=b"Bad Request"),
            h11.Data(data=body),
            h11.EndOfMessage(),
        ):
            self.transport.write(self.conn.send(event))
        self.transport.close()


try:
    from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
except ImportError:  # httptools is optional (uvicorn[standard]); uvicorn then uses h11
    HttpToolsProtocol = None

if HttpToolsProtocol is not None:

    class JsonErrorHttpTools(HttpToolsProtocol):
        """The C parser (uvicorn's `httptools`, its default when installed)."""

        def send_400_response(self, msg: str) -> None:
            body = json_400(msg)
            head = [b"HTTP/1.1 400 Bad Request\r\n"]
            for name, value in self.server_state.default_headers:
                head.extend([name, b": ", value, b"\r\n"])
            head.append(
                b"content-type: application/json\r\ncontent-length: %d\r\nconnection: close\r\n\r\n"
                % len(body)
            )
            self.transport.write(b"".join(head) + body)
            self.transport.close()


def protocol() -> str:
    """The `http=` setting for uvicorn: the parser uvicorn's `auto` would pick, with the JSON 400."""
    name = "JsonErrorHttpTools" if HttpToolsProtocol is not None else "JsonErrorH11"
    return f"kindling.serve.protocol:{name}"
