"""Malformed HTTP against one real `kindling serve`: every answer is a JSON 4xx, never a 5xx or plain text,
and the server answers a good request afterwards.

Requests go over raw sockets, so the bytes are exactly the malformed ones (a client library would fix
or refuse most of them). Some are refused by uvicorn's parser before the app sees them; the server
answers those with the API's JSON 400 too. A request that is only incomplete (no end of headers) gets
no answer, which is what HTTP allows; every other case must get its JSON status.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from badinput import runs

HOST = "127.0.0.1"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind((HOST, 0))
        return probe.getsockname()[1]


def exchange(port: int, data: bytes, half_close: bool = False, timeout: float = 10.0) -> bytes:
    """Send `data` and read one answer (b"" when the server only closes). `half_close` ends our side
    after sending, for input that may be an incomplete request the server would otherwise wait on."""
    with socket.create_connection((HOST, port), timeout=timeout) as conn:
        try:
            conn.sendall(data)
            if half_close:
                conn.shutdown(socket.SHUT_WR)
        except (BrokenPipeError, ConnectionResetError):  # it answered and closed before reading it all
            pass
        answer = b""
        while not _complete(answer):
            try:
                chunk = conn.recv(65536)
            except ConnectionResetError:
                break
            if not chunk:
                break
            answer += chunk
    return answer


def _complete(answer: bytes) -> bool:
    head, found, body = answer.partition(b"\r\n\r\n")
    if not found:
        return False
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            return len(body) >= int(value)
    return False


def parse(answer: bytes) -> tuple[int, dict, dict]:
    head, _, body = answer.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    headers = {k.strip().lower(): v.strip() for k, _, v in (ln.partition(":") for ln in lines[1:])}
    return status, headers, json.loads(body) if body else {}


def good(port: int) -> int:
    status, _, body = parse(exchange(port, b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n"))
    assert body.get("success") is True
    return status


@pytest.fixture(scope="module")
def port(digits_run):
    """One `kindling serve` (one worker, one thread) for every case of this module."""
    runs.use(digits_run)
    port = _free_port()
    cmd = [sys.executable, "-m", "kindling", "serve", str(digits_run), "--port", str(port)]
    proc = subprocess.Popen(
        [*cmd, "--workers", "1", "--threads", "1", "--max-upload-mb", "1"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        env={**os.environ},
    )
    deadline = time.time() + 90
    while True:
        assert proc.poll() is None, proc.stderr.read().decode()[-2000:]
        try:
            if good(port) == 200:
                break
        except (OSError, ValueError, IndexError, AssertionError):
            assert time.time() < deadline, "the server did not become ready"
            time.sleep(0.3)
    yield port
    proc.terminate()
    try:
        proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def _request(method: str, path: str, headers: dict | None = None, body: bytes = b"") -> bytes:
    head = {"Host": "x", **({"Content-Length": str(len(body))} if body else {}), **(headers or {})}
    lines = [f"{method} {path} HTTP/1.1", *(f"{k}: {v}" for k, v in head.items())]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


def _multipart(field: str, filename: str | None, data: bytes, boundary: str = "kb0undary") -> bytes:
    disposition = f'form-data; name="{field}"' + (f'; filename="{filename}"' if filename else "")
    return (
        f"--{boundary}\r\nContent-Disposition: {disposition}\r\nContent-Type: image/png\r\n\r\n".encode()
        + data
        + f"\r\n--{boundary}--\r\n".encode()
    )


def _upload(
    body: bytes, ctype: str = "multipart/form-data; boundary=kb0undary", path: str = "/predict"
) -> bytes:
    return _request("POST", path, {"Content-Type": ctype}, body)


JSON = {"Content-Type": "application/json"}
PNG_HEAD = b"\x89PNG\r\n\x1a\n"

# name -> (raw request, expected status)
CASES = {
    "long_query": (_request("GET", "/health?x=" + "a" * 20_000), 414),
    "long_path": (_request("GET", "/" + "p" * 9_000), 414),
    "long_url_predict": (_upload(_multipart("image", "a.png", b"x"), path="/predict?" + "q" * 10_000), 414),
    "huge_header": (_request("GET", "/health", {"X-Big": "a" * 70_000}), 431),
    "many_headers": (_request("GET", "/health", {f"X-{i}": "v" * 60 for i in range(2000)}), 431),
    "garbage_line": (b"GARBAGE\r\n\r\n", 400),
    "http_version_99": (b"GET /health HTTP/9.9\r\nHost: x\r\n\r\n", 400),
    "lowercase_method_junk": (b"g@t /health HTTP/1.1\r\nHost: x\r\n\r\n", 400),
    "header_no_colon": (b"GET /health HTTP/1.1\r\nBad Header\r\n\r\n", 400),
    "header_name_space": (b"GET /health HTTP/1.1\r\nFo o: bar\r\n\r\n", 400),
    "header_value_ctl": (b"GET /health HTTP/1.1\r\nX-A: a\x01b\r\n\r\n", 400),
    "bare_lf": (b"GET /health HTTP/1.1\nHost: x\n\n", 400),
    "null_in_url": (b"GET /he\x00alth HTTP/1.1\r\nHost: x\r\n\r\n", 400),
    "content_length_text": (b"POST /predict HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n", 400),
    "content_length_negative": (b"POST /predict HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n", 400),
    "content_length_twice": (
        b"POST /predict HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab",
        400,
    ),
    "length_and_chunked": (
        b"POST /predict HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
        400,
    ),
    "chunk_size_junk": (
        b"POST /predict HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nContent-Type: application/json"
        b"\r\n\r\nzz\r\n",
        400,
    ),
    "huge_content_length": (_request("POST", "/predict", {"Content-Length": str(10**12)}), 413),
    "huge_body": (_upload(_multipart("image", "a.png", os.urandom(1_100_000))), 413),
    "huge_chunked_body": (
        b"POST /predict HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nContent-Type: application/json"
        b"\r\n\r\n" + b"".join(b"10000\r\n" + b"a" * 0x10000 + b"\r\n" for _ in range(20)) + b"0\r\n\r\n",
        413,
    ),
    "wrong_content_type": (_request("POST", "/predict", {"Content-Type": "text/plain"}, b"hello"), 415),
    "no_content_type": (_request("POST", "/predict", {}, b"hello"), 415),
    "multipart_no_boundary": (_upload(b"--x\r\n\r\n", "multipart/form-data"), 400),
    "multipart_wrong_boundary": (_upload(_multipart("image", "a.png", b"x", boundary="other")), 400),
    "multipart_truncated": (_upload(_multipart("image", "a.png", PNG_HEAD)[:60]), 400),
    "multipart_no_image_field": (_upload(_multipart("photo", "a.png", PNG_HEAD)), 400),
    "multipart_field_is_text": (_upload(_multipart("image", None, b"not a file")), 400),
    "multipart_empty_file": (_upload(_multipart("image", "a.png", b"")), 400),
    "multipart_not_an_image": (_upload(_multipart("image", "a.png", b"hello world")), 400),
    "multipart_png_head_only": (_upload(_multipart("image", "a.png", PNG_HEAD)), 400),
    "json_invalid": (_request("POST", "/predict", JSON, b"{not json"), 422),
    "json_not_utf8": (_request("POST", "/predict", JSON, b'{"rows": "\xff\xfe"}'), 400),
    "json_for_image_model": (_request("POST", "/predict", JSON, b'{"rows": [{"a": 1}]}'), 415),
    "top_k_zero": (_upload(_multipart("image", "a.png", PNG_HEAD), path="/predict?top_k=0"), 422),
    "top_k_text": (_upload(_multipart("image", "a.png", PNG_HEAD), path="/predict?top_k=many"), 422),
    "unknown_path": (_request("GET", "/nothing/here"), 404),
    "wrong_method": (_request("DELETE", "/predict"), 405),
    "get_predict": (_request("GET", "/predict"), 405),
    "path_traversal_static": (_request("GET", "/static/../../../../etc/passwd"), 404),
}


@pytest.mark.parametrize("name", list(CASES))
def test_malformed_request_gets_a_json_4xx(port, name):
    data, expected = CASES[name]
    answer = exchange(port, data)
    assert answer, f"{name}: no answer"
    status, headers, body = parse(answer)
    assert status == expected, f"{name}: {answer[:400]!r}"
    assert headers.get("content-type", "").startswith("application/json"), f"{name}: {answer[:400]!r}"
    assert body["success"] is False and body["status"] == status and len(body["error"]) <= 300
    assert good(port) == 200  # still answering


@pytest.mark.parametrize(
    "data",
    [
        b"GET /health HTT",
        b"GET /\r\n\r\n",
        b"POST /predict HTTP/1.1\r\nHost: x\r\nContent-Length: 50\r\n\r\nab",
    ],
    ids=["cut_request_line", "http_0_9", "body_shorter_than_length"],
)
def test_incomplete_request_is_closed_or_a_json_4xx(port, data):
    """No answer, or a JSON 4xx; `GET /` without a version is a valid HTTP/0.9 request that the parser
    may serve (the page) before it sees our side close."""
    answer = exchange(port, data, half_close=True)
    if answer:
        status, headers, _ = parse(answer)
        assert status < 500, answer[:400]
        if status >= 400:
            assert headers["content-type"].startswith("application/json"), answer[:400]
    assert good(port) == 200


def _check_answer(port: int, answer: bytes) -> None:
    """Random input: no answer (an incomplete request) or a JSON 4xx; never a 5xx; server still up."""
    if answer:
        status, headers, body = parse(answer)
        assert 400 <= status < 500, answer[:400]
        assert headers.get("content-type", "").startswith("application/json"), answer[:400]
        assert body["success"] is False


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.binary(min_size=1, max_size=2000))
def test_random_bytes_as_a_request(port, data):
    _check_answer(port, exchange(port, data + b"\r\n\r\n", half_close=True))


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.binary(max_size=3000))
def test_random_bytes_as_an_uploaded_image(port, data):
    _check_answer(port, exchange(port, _upload(_multipart("image", "x.png", data)), half_close=True))


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.binary(max_size=2000))
def test_random_bytes_as_a_json_body(port, data):
    _check_answer(port, exchange(port, _request("POST", "/predict", JSON, data), half_close=True))


def _counts(port: int) -> dict[str, float]:
    """The server's own request counts from /metrics: {'method,path,status': count}."""
    text = exchange(port, _request("GET", "/metrics")).partition(b"\r\n\r\n")[2].decode()
    counts = {}
    for line in text.splitlines():
        if line.startswith("kindling_requests_total{"):
            labels, _, value = line.partition("} ")
            counts[labels.removeprefix("kindling_requests_total{")] = float(value)
    return counts


def test_server_made_no_5xx(port):
    """Counted by the server itself: every case above sent again, and /metrics counts no 5xx answer (the
    503s of /health while the model loaded at start-up aside), but the 4xx answers it gave."""
    before = _counts(port)
    for data, _ in CASES.values():
        exchange(port, data)
    after = _counts(port)
    five = [k for k in after if 'status="5' in k and k != 'method="GET",path="/health",status="503"']
    assert not five, five
    grown = {k: after[k] - before.get(k, 0.0) for k in after if after[k] > before.get(k, 0.0)}
    seen = {int(k.rsplit('status="', 1)[1].rstrip('"')) for k in grown}
    assert {404, 405, 415, 422} <= seen, grown  # the app's own refusals were counted
