"""A lean multipart/form-data reader for /predict: parts straight into memory.

Starlette's `request.form()` spools every file part into a SpooledTemporaryFile behind an UploadFile,
which costs more than decoding and classifying a small image. Uploads here are already capped by the
body limit (BodyLimitMiddleware), so holding them in memory is safe. A well-formed body (what browsers,
`requests` and curl send) is split with `bytes.find`, a few microseconds; anything unusual (a preamble,
odd header lines, a missing close delimiter) goes through python-multipart's full parser, which gives
the error message. Limits on the number of parts stay in force on both paths.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from python_multipart.multipart import MultipartParseError, MultipartParser, parse_options_header

from kindling.serve.limits import ApiError

MAX_PARTS = 16


@dataclass
class Part:
    name: str = ""
    filename: str | None = None  # None: a plain text field, not a file
    data: bytes | bytearray = field(default_factory=bytearray)


async def read_parts(request, max_parts: int = MAX_PARTS) -> list[Part]:
    """The parts of a multipart body, in order; ApiError(400) for a malformed body or too many parts."""
    ctype, params = parse_options_header(request.headers.get("content-type", ""))
    boundary = params.get(b"boundary")
    if not boundary:
        raise ApiError(400, "multipart body without a boundary in its Content-Type header")
    body = await request.body()
    parts = split_parts(body, boundary, max_parts)
    return parts if parts is not None else parse_parts(body, boundary, max_parts)


def split_parts(body: bytes, boundary: bytes, max_parts: int = MAX_PARTS) -> list[Part] | None:
    """A well-formed body -> its parts; None where the full parser must decide (it never guesses)."""
    delimiter = b"--" + boundary
    if not body.startswith(delimiter):
        return None
    parts: list[Part] = []
    at = len(delimiter)
    while not body.startswith(b"--", at):  # the close delimiter ends the body
        if not body.startswith(b"\r\n", at):
            return None
        head_end = body.find(b"\r\n\r\n", at)
        data_end = body.find(b"\r\n" + delimiter, head_end + 4) if head_end >= 0 else -1
        if data_end < 0:
            return None
        if len(parts) >= max_parts:
            raise ApiError(400, f"too many parts in the multipart body; at most {max_parts}")
        head = body[at + 2 : head_end]
        part = None if delimiter in head else _part(head)  # a part without a blank line: not ours to guess
        if part is None:
            return None
        part.data = body[head_end + 4 : data_end]
        parts.append(part)
        at = data_end + 2 + len(delimiter)
    return parts


def _part(head: bytes) -> Part | None:
    """A part's header block -> a Part named from its Content-Disposition; None for unusual headers."""
    disposition = b""
    for line in head.split(b"\r\n") if head else ():
        name, sep, value = line.partition(b":")
        if not sep or not name or name[:1] in b" \t":  # folded or malformed: the full parser decides
            return None
        if name.strip().lower() == b"content-disposition":
            disposition = value.strip()
    return _named(Part(), disposition)


def _named(part: Part, disposition: bytes) -> Part:
    _, options = parse_options_header(disposition)
    part.name = options.get(b"name", b"").decode("utf-8", "replace")
    filename = options.get(b"filename")
    part.filename = filename.decode("utf-8", "replace") if filename is not None else None
    return part


def parse_parts(body: bytes, boundary: bytes, max_parts: int = MAX_PARTS) -> list[Part]:
    """python-multipart's streaming parser, with callbacks: the path for any body split_parts declines."""
    parts: list[Part] = []
    header: dict[str, bytes] = {"field": b"", "value": b""}
    headers: dict[bytes, bytes] = {}

    def part_begin() -> None:
        if len(parts) >= max_parts:
            raise ApiError(400, f"too many parts in the multipart body; at most {max_parts}")
        parts.append(Part())
        headers.clear()

    def header_end() -> None:
        headers[header["field"].lower()] = header["value"]
        header["field"], header["value"] = b"", b""

    callbacks = {
        "on_part_begin": part_begin,
        "on_header_field": lambda data, start, end: header.__setitem__(
            "field", header["field"] + data[start:end]
        ),
        "on_header_value": lambda data, start, end: header.__setitem__(
            "value", header["value"] + data[start:end]
        ),
        "on_header_end": header_end,
        "on_headers_finished": lambda: _named(parts[-1], headers.get(b"content-disposition", b"")),
        "on_part_data": lambda data, start, end: parts[-1].data.extend(data[start:end]),
    }
    parser = MultipartParser(boundary, callbacks)
    try:
        parser.write(body)
        parser.finalize()
    except MultipartParseError as exc:
        raise ApiError(400, f"malformed multipart body ({exc})") from exc
    return parts
