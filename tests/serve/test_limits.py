"""Bad input against the real server: each gets a clear JSON error with the right status, and the
server answers the next good request. Limits: the server under test allows 2 MB bodies and 1 MP images."""

from __future__ import annotations

import io
import struct
import zlib

import pytest
import requests
from PIL import Image
from serve_helpers import png_bytes


def huge_png(width: int = 20000, height: int = 20000) -> bytes:
    """A real, valid 1-bit PNG of width x height, all white: 50 MB of pixels deflate to ~50 KB."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data))
            + kind
            + data
            + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
        )

    row = b"\x00" + b"\xff" * ((width + 7) // 8)  # filter byte + packed bits
    pixels = zlib.compressobj(9)
    body = b"".join(pixels.compress(row) for _ in range(height)) + pixels.flush()
    header = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", body) + chunk(b"IEND", b"")


def jpeg_bytes(size=(64, 64)) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", size, (30, 200, 90)).save(buf, "JPEG")
    return buf.getvalue()


def assert_error(r: requests.Response, status: int, *words: str) -> None:
    assert r.status_code == status, r.text
    assert r.headers["content-type"].startswith("application/json")
    body = r.json()
    assert body["success"] is False and body["status"] == status
    for word in words:
        assert word in body["error"], body["error"]


@pytest.fixture()
def still_serving(server, digit_image):
    """After the test's bad request, a good request must still be answered."""
    yield
    r = requests.post(server.url + "/predict", files={"image": ("ok.png", digit_image[0])})
    assert r.status_code == 200 and r.json()["success"] is True


BAD_FILES = {
    "zero-byte file": ("empty.png", b"", 400, "empty"),
    "truncated JPEG": ("cut.jpg", jpeg_bytes()[:300], 400, "cut.jpg"),
    "text file named .png": ("notes.png", b"these are my notes, not an image\n", 400, "not an image"),
}


@pytest.mark.parametrize("case", BAD_FILES, ids=list(BAD_FILES))
def test_bad_image_files(server, still_serving, case):
    name, data, status, word = BAD_FILES[case]
    assert_error(requests.post(server.url + "/predict", files={"image": (name, data)}), status, word)


def test_png_bomb_is_refused_before_decoding(server, still_serving):
    bomb = huge_png()
    assert len(bomb) < 200_000  # 20000 x 20000 pixels in a small file
    assert_error(requests.post(server.url + "/predict", files={"image": ("bomb.png", bomb)}), 413, "bomb.png")


def test_image_over_the_pixel_cap(server, still_serving):
    big = png_bytes(Image.new("L", (1200, 1000), 255))  # 1.2 MP > the 1 MP cap of this server
    assert_error(requests.post(server.url + "/predict", files={"image": ("big.png", big)}), 413, "1200x1000")


def test_body_over_the_upload_limit(server, still_serving):
    r = requests.post(server.url + "/predict", files={"image": ("big.png", b"\0" * (3 * 1024 * 1024))})
    assert_error(r, 413, "limit")


def test_a_100_mb_upload(server, still_serving):
    r = requests.post(server.url + "/predict", files={"image": ("huge.png", b"\0" * (100 * 1024 * 1024))})
    assert_error(r, 413, "limit")


def test_a_streamed_body_without_length_is_cut_at_the_limit(server, still_serving):
    def body():
        yield b'--xyz\r\nContent-Disposition: form-data; name="image"; filename="a.png"\r\n\r\n'
        for _ in range(8):
            yield b"\0" * (1024 * 1024)
        yield b"\r\n--xyz--\r\n"

    r = requests.post(
        server.url + "/predict", data=body(), headers={"Content-Type": "multipart/form-data; boundary=xyz"}
    )
    assert_error(r, 413, "limit")


def test_multipart_with_no_parts(server, still_serving):
    r = requests.post(
        server.url + "/predict",
        data=b"--xyz--\r\n",
        headers={"Content-Type": "multipart/form-data; boundary=xyz"},
    )
    assert_error(r, 400, "image")


def test_multipart_with_1000_parts(server, still_serving):
    files = [(f"part{i}", (f"{i}.png", b"x")) for i in range(1000)]
    assert_error(requests.post(server.url + "/predict", files=files), 400, "too many parts")


def test_multipart_without_boundary(server, still_serving):
    r = requests.post(server.url + "/predict", data=b"abc", headers={"Content-Type": "multipart/form-data"})
    assert_error(r, 400)


def test_image_field_sent_as_text(server, still_serving):
    assert_error(requests.post(server.url + "/predict", files={"image": (None, "hello")}), 400, "file")


def test_wrong_content_type(server, still_serving):
    r = requests.post(server.url + "/predict", data=b"hello", headers={"Content-Type": "text/plain"})
    assert_error(r, 415, "text/plain")
    assert_error(requests.post(server.url + "/predict", json={"texts": ["hi"]}), 415, "image")


def test_malformed_json(server, still_serving):
    r = requests.post(
        server.url + "/predict", data=b'{"rows": [', headers={"Content-Type": "application/json"}
    )
    assert_error(r, 422, "not valid JSON")


def test_invalid_utf8_body(server, still_serving):
    r = requests.post(
        server.url + "/predict", data=b'{"texts": ["\xff\xfe"]}', headers={"Content-Type": "application/json"}
    )
    assert_error(r, 400, "UTF-8")


TABLE_CASES = {
    "rows not a list": ({"rows": "abc"}, 422, "'rows'"),
    "no rows field": ({"rowz": []}, 422, "'rows'"),
    "empty rows": ({"rows": []}, 422, "'rows'"),
    "row not an object": ({"rows": [3]}, 422, "rows[0]"),
    "too many rows": ({"rows": [{}] * 9}, 413, "at most 8"),
}


@pytest.mark.parametrize("case", TABLE_CASES, ids=list(TABLE_CASES))
def test_table_json_errors_name_the_field(wine_server, case):
    payload, status, word = TABLE_CASES[case]
    assert_error(requests.post(wine_server.url + "/predict", json=payload), status, word)


def _wine_row() -> dict:
    from sklearn.datasets import load_wine

    return load_wine(as_frame=True).frame.drop(columns="target").iloc[0].to_dict()


def test_rows_with_missing_or_extra_columns(wine_server):
    row = _wine_row()
    missing = {k: v for k, v in row.items() if k != "alcohol"}
    assert_error(
        requests.post(wine_server.url + "/predict", json={"rows": [missing]}), 422, "alcohol", "missing"
    )
    extra = {**row, "alcohool": 13.0}
    assert_error(
        requests.post(wine_server.url + "/predict", json={"rows": [extra]}), 422, "alcohool", "unknown"
    )
    wrong = {**row, "alcohol": "lots"}
    assert_error(requests.post(wine_server.url + "/predict", json={"rows": [wrong]}), 422, "alcohol")
    assert requests.post(wine_server.url + "/predict", json={"rows": [row]}).status_code == 200


def test_an_image_for_a_table_model_is_415(wine_server, digit_image):
    assert_error(
        requests.post(wine_server.url + "/predict", files={"image": ("x.png", digit_image[0])}), 415, "rows"
    )


def test_serve_refuses_a_missing_run_before_listening(tmp_path, capsys):
    from kindling.cli.main import main

    assert main(["serve", str(tmp_path / "nope"), "--port", "8"]) == 2
    assert "does not exist" in capsys.readouterr().err


def test_serve_refuses_a_port_in_use(digits_run, capsys):
    import socket

    from kindling.cli.main import main

    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen(1)
        port = busy.getsockname()[1]
        assert main(["serve", str(digits_run), "--port", str(port)]) == 2
    assert "cannot listen" in capsys.readouterr().err


TEXT_CASES = {
    "invalid UTF-8": (b'{"texts": ["caf\xe9"]}', 400, "UTF-8"),
    "texts not a list": (b'{"texts": "hello"}', 422, "'texts'"),
    "a text that is a number": (b'{"texts": ["ok", 3]}', 422, "texts[1]"),
    "an empty text": (b'{"texts": ["  "]}', 422, "texts[0]"),
    "too many texts": (b'{"texts": ["a", "b", "c", "d", "e"]}', 413, "at most 4"),
    "an unknown field": (b'{"texts": ["a"], "lang": "en"}', 422, "lang"),
}


@pytest.mark.parametrize("case", TEXT_CASES, ids=list(TEXT_CASES))
def test_text_json_errors(text_server, case):
    body, status, word = TEXT_CASES[case]
    r = requests.post(text_server.url + "/predict", data=body, headers={"Content-Type": "application/json"})
    assert_error(r, status, word)
    assert requests.post(text_server.url + "/predict", json={"texts": ["good"]}).status_code == 200
