"""A lean multipart/form-data reader for /predict: parts straight into memory.

Starlette's `request.form()` spools every file part into a SpooledTemporaryFile behind an UploadFile,
which costs more than decoding and classifying a small image. Uploads here are already capped by the
body limit (BodyLimitMiddleware), so holding them in memory is safe, and python-multipart's parser
is used directly with callbacks. Limits on the number of parts and on part headers stay in force.
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
    data: bytearray = field(default_factory=bytearray)


async def read_parts(request, max_parts: int = MAX_PARTS) -> list[Part]:
    """The parts of a multipart body, in order; ApiError(400) for a malformed body or too many parts."""
    ctype, params = parse_options_header(request.headers.get("content-type", ""))
    boundary = params.get(b"boundary")
    if not boundary:
        raise ApiError(400, "multipart body without a boundary in its Content-Type header")
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

    def headers_finished() -> None:
        _, options = parse_options_header(headers.get(b"content-disposition", b""))
        part = parts[-1]
        part.name = options.get(b"name", b"").decode("utf-8", "replace")
        filename = options.get(b"filename")
        part.filename = filename.decode("utf-8", "replace") if filename is not None else None

    callbacks = {
        "on_part_begin": part_begin,
        "on_header_field": lambda data, start, end: header.__setitem__(
            "field", header["field"] + data[start:end]
        ),
        "on_header_value": lambda data, start, end: header.__setitem__(
            "value", header["value"] + data[start:end]
        ),
        "on_header_end": header_end,
        "on_headers_finished": headers_finished,
        "on_part_data": lambda data, start, end: parts[-1].data.extend(data[start:end]),
    }
    parser = MultipartParser(boundary, callbacks)
    try:
        async for chunk in request.stream():
            parser.write(chunk)
        parser.finalize()
    except MultipartParseError as exc:
        raise ApiError(400, f"malformed multipart body ({exc})") from exc
    return parts
