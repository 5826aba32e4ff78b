"""Receiving a ``multipart/form-data`` upload straight to a temp file, as the bytes arrive.

The body is parsed incrementally by python-multipart's ``MultipartParser``; the ``file`` part's
bytes go to a temp file (and through MD5, for the ETag) and the small text parts (``key``,
``contentType``) are kept in memory. Parsing, hashing and writing happen in a worker thread, a
batch at a time, so the event loop only moves chunks. Memory stays at one batch whatever the
file size. The caller decides what to do with the finished temp file, and must ``discard()`` it
on every path that does not commit it.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import BinaryIO

import anyio.to_thread
from python_multipart.exceptions import MultipartParseError
from python_multipart.multipart import MultipartParser, parse_options_header
from starlette.requests import ClientDisconnect, Request

from ._errors import ApiError, validation_error
from ._storage_keys import key_problem
from ._storage_store import valid_content_type

# Hand the worker thread about this much at a time.
BATCH_BYTES = 1 << 20
# Room for the form's own bytes (boundaries, part headers, the key) beyond the file's size.
FORM_OVERHEAD_BYTES = 1 << 20
# Text parts are keys and media types; anything bigger is not one.
MAX_TEXT_PART_BYTES = 64 * 1024
TEXT_PARTS = ("key", "contentType")


def too_large(limit: int) -> ApiError:
    """The 413 for a file over ``limit`` bytes."""
    return ApiError(413, "VALIDATION_ERROR", f"The file is larger than {limit} bytes")


def multipart_boundary(request: Request) -> bytes:
    """The boundary of a ``multipart/form-data`` request; 415 for any other body."""
    media_type, options = parse_options_header(request.headers.get("content-type", ""))
    boundary = options.get(b"boundary")
    if media_type != b"multipart/form-data" or not boundary:
        raise ApiError(
            415,
            "VALIDATION_ERROR",
            "Upload must be multipart/form-data with a boundary",
            {"fieldErrors": {"Content-Type": ["Expected multipart/form-data"]}},
        )
    return boundary


class UploadSink:
    """Parses one multipart body; the ``file`` part goes to ``temp``, text parts to memory."""

    def __init__(self, boundary: bytes, temp: Path, max_file_bytes: int) -> None:
        self.temp = temp
        self.max_file_bytes = max_file_bytes
        self.fields: dict[str, str] = {}
        self.file_seen = False
        self.file_content_type: str | None = None
        self.file_size = 0
        self.md5 = hashlib.md5(usedforsecurity=False)
        self.complete = False
        self._file: BinaryIO | None = None
        self._header_field = bytearray()
        self._header_value = bytearray()
        self._headers: dict[bytes, bytes] = {}
        self._part: str | None = None  # "file", a text field name, or None to skip
        self._text = bytearray()
        self._error: ApiError | None = None
        self._parser = MultipartParser(
            boundary,
            {
                "on_part_begin": self._on_part_begin,
                "on_header_field": self._on_header_field,
                "on_header_value": self._on_header_value,
                "on_header_end": self._on_header_end,
                "on_headers_finished": self._on_headers_finished,
                "on_part_data": self._on_part_data,
                "on_part_end": self._on_part_end,
                "on_end": self._on_end,
            },
        )

    # -- parser callbacks (run in the worker thread, inside feed) --

    def _on_part_begin(self) -> None:
        self._headers = {}
        self._part = None
        self._text.clear()

    def _on_header_field(self, data: bytes, start: int, end: int) -> None:
        self._header_field += data[start:end]

    def _on_header_value(self, data: bytes, start: int, end: int) -> None:
        self._header_value += data[start:end]

    def _on_header_end(self) -> None:
        self._headers[bytes(self._header_field).lower()] = bytes(self._header_value)
        self._header_field.clear()
        self._header_value.clear()

    def _on_headers_finished(self) -> None:
        _, disposition = parse_options_header(self._headers.get(b"content-disposition", b""))
        name = disposition.get(b"name", b"").decode("utf-8", "replace")
        if name == "file":
            if self.file_seen:
                raise _Refused(validation_error({"file": ["Send exactly one file part"]}))
            self.file_seen = True
            part_type = self._headers.get(b"content-type")
            if part_type:
                self.file_content_type = part_type.decode("latin-1").strip()
            self._file = self.temp.open("wb")
            self._part = "file"
        elif name in TEXT_PARTS:
            self._part = name

    def _on_part_data(self, data: bytes, start: int, end: int) -> None:
        if self._part == "file":
            assert self._file is not None
            self.file_size += end - start
            if self.file_size > self.max_file_bytes:
                raise _Refused(too_large(self.max_file_bytes))
            chunk = memoryview(data)[start:end]
            self.md5.update(chunk)
            self._file.write(chunk)
        elif self._part is not None:
            self._text += data[start:end]
            if len(self._text) > MAX_TEXT_PART_BYTES:
                raise _Refused(validation_error({self._part: ["Too long"]}))

    def _on_part_end(self) -> None:
        if self._part == "file" and self._file is not None:
            self._file.close()
            self._file = None
        elif self._part is not None:
            try:
                value = self._text.decode("utf-8")
            except UnicodeDecodeError:
                raise _Refused(validation_error({self._part: ["Must be UTF-8 text"]})) from None
            # Refuse a bad key or media type as soon as it is known, even mid-upload.
            problem = _field_problem(self._part, value)
            if problem is not None:
                raise _Refused(validation_error({self._part: [problem]}))
            self.fields[self._part] = value
        self._part = None

    def _on_end(self) -> None:
        self.complete = True

    # -- driving --

    def feed(self, data: bytes) -> None:
        """Parse the next bytes of the body (blocking: call it in a worker thread)."""
        try:
            self._parser.write(data)
        except _Refused as refused:
            raise refused.error from None
        except MultipartParseError as exc:
            raise validation_error(
                {"body": [str(exc)]}, "The multipart body could not be parsed"
            ) from None

    def close(self) -> None:
        """Close the temp file if a part was cut short (the caller deletes the file)."""
        if self._file is not None:
            self._file.close()
            self._file = None


def _field_problem(name: str, value: str) -> str | None:
    if name == "key":
        return key_problem(value)
    if name == "contentType" and value and not valid_content_type(value):
        return "Must be printable ASCII (at most 255 characters), such as image/png"
    return None


class _Refused(Exception):
    """Raised inside a parser callback to stop parsing with ``error``."""

    def __init__(self, error: ApiError) -> None:
        super().__init__(error.message)
        self.error = error


async def receive(request: Request, sink: UploadSink, max_body_bytes: int) -> None:
    """Stream the request body through ``sink``, a batch at a time in a worker thread."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > max_body_bytes:
        raise too_large(sink.max_file_bytes)
    batch: list[bytes] = []
    pending = 0
    received = 0
    try:
        async for chunk in request.stream():
            received += len(chunk)
            if received > max_body_bytes:
                raise too_large(sink.max_file_bytes)
            batch.append(chunk)
            pending += len(chunk)
            if pending >= BATCH_BYTES:
                await anyio.to_thread.run_sync(sink.feed, b"".join(batch))
                batch.clear()
                pending = 0
    except ClientDisconnect:
        raise ApiError(400, "VALIDATION_ERROR", "The client went away during the upload") from None
    if batch:
        await anyio.to_thread.run_sync(sink.feed, b"".join(batch))
    if not sink.complete:
        raise validation_error(
            {"body": ["The multipart body ended before its closing boundary"]},
            "The multipart body is incomplete",
        )
