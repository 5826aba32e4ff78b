"""The multipart upload body: every source kind, exact length, replay rules, progress."""

from __future__ import annotations

import io
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from aerostack_async.errors import InvalidArgumentTypeError, InvalidRequestError
from aerostack_async.streaming.upload import (
    MultipartUpload,
    SourceSizeMismatchError,
    UploadSource,
    guess_content_type,
)

from .multipart_parse import parse_multipart

pytestmark = pytest.mark.anyio

DATA = bytes(range(256)) * 41  # 10,496 bytes: several chunks at chunk_size=4096


async def collect(upload: MultipartUpload) -> list[bytes]:
    return [piece async for piece in upload.open()]


async def body_of(upload: MultipartUpload) -> bytes:
    await upload.prepare()
    return b"".join(await collect(upload))


async def agen(*pieces: bytes) -> AsyncIterator[bytes]:
    for piece in pieces:
        yield piece


def sources(tmp_path: Path) -> dict[str, UploadSource]:
    path = tmp_path / "data.bin"
    path.write_bytes(DATA)
    return {
        "bytes": DATA,
        "bytearray": bytearray(DATA),
        "memoryview": memoryview(DATA),
        "str-path": str(path),
        "pathlib": path,
        "file-object": io.BytesIO(DATA),
        "async-iterable": agen(DATA[:5000], DATA[5000:]),
        "sync-generator": (piece for piece in (DATA[:3000], b"", DATA[3000:])),
        "list-of-chunks": [DATA[:10], bytearray(DATA[10:])],
        "callable": lambda: agen(DATA[:100], DATA[100:]),
    }


SOURCE_KINDS = [
    "bytes", "bytearray", "memoryview", "str-path", "pathlib", "file-object", "async-iterable",
    "sync-generator", "list-of-chunks", "callable",
]  # fmt: skip


@pytest.mark.parametrize("kind", SOURCE_KINDS)
async def test_body_parses_back_to_key_content_type_and_file(tmp_path: Path, kind: str) -> None:
    upload = MultipartUpload("docs/report.bin", sources(tmp_path)[kind], chunk_size=4096)
    body = await body_of(upload)
    parts = parse_multipart(upload.headers["Content-Type"], body)
    assert bytes(parts["key"].data) == b"docs/report.bin"
    assert bytes(parts["contentType"].data) == b"application/octet-stream"
    assert bytes(parts["file"].data) == DATA
    assert parts["file"].disposition["filename"] == "report.bin"
    assert parts["file"].headers["content-type"] == "application/octet-stream"


@pytest.mark.parametrize("kind", ["bytes", "str-path", "pathlib", "file-object"])
async def test_content_length_is_exact_when_size_is_known(tmp_path: Path, kind: str) -> None:
    upload = MultipartUpload("k", sources(tmp_path)[kind])
    body = await body_of(upload)
    assert upload.content_length == len(body)
    assert upload.headers["Content-Length"] == str(len(body))


@pytest.mark.parametrize("kind", ["async-iterable", "callable"])
async def test_stream_without_size_has_no_content_length(tmp_path: Path, kind: str) -> None:
    upload = MultipartUpload("k", sources(tmp_path)[kind])
    await upload.prepare()
    assert upload.content_length is None
    assert "Content-Length" not in upload.headers


async def test_stream_with_declared_size_has_exact_content_length() -> None:
    upload = MultipartUpload("k", agen(b"abc", b"de"), size=5)
    body = await body_of(upload)
    assert upload.content_length == len(body)


async def test_file_object_is_sent_from_its_current_position() -> None:
    file = io.BytesIO(b"skip:" + DATA)
    file.seek(5)
    upload = MultipartUpload("k", file)
    body = await body_of(upload)
    assert bytes(parse_multipart(upload.headers["Content-Type"], body)["file"].data) == DATA
    assert upload.content_length == len(body)


async def test_path_is_read_in_chunk_size_pieces(tmp_path: Path) -> None:
    upload = MultipartUpload("k", sources(tmp_path)["pathlib"], chunk_size=4096)
    await upload.prepare()
    pieces = await collect(upload)
    # The part headers ride with the first chunk and the closing boundary is its own piece.
    file_piece_sizes = [len(pieces[0]) - len(upload._head), *map(len, pieces[1:-1])]
    assert file_piece_sizes == [4096, 4096, len(DATA) - 8192]


@pytest.mark.parametrize("kind", ["bytes", "str-path", "file-object", "callable"])
async def test_reopening_a_replayable_source_gives_identical_body(
    tmp_path: Path, kind: str
) -> None:
    upload = MultipartUpload("k", sources(tmp_path)[kind], chunk_size=4096)
    first = await body_of(upload)
    assert upload.replayable
    assert b"".join(await collect(upload)) == first


async def test_one_shot_iterable_cannot_be_reopened_once_bytes_were_taken() -> None:
    upload = MultipartUpload("k", agen(b"abc"))
    await body_of(upload)
    assert not upload.replayable
    with pytest.raises(InvalidRequestError, match="one-shot"):
        upload.open()


async def test_sync_generator_is_one_shot_and_closed_when_left_early() -> None:
    closed = []

    def lines() -> Iterator[bytes]:
        try:
            yield b"one\n"
            yield b"two\n"
        finally:
            closed.append(True)

    upload = MultipartUpload("k", lines(), chunk_size=4)
    await upload.prepare()
    body = upload.open()
    await body.__anext__()
    await body.__anext__()
    await body.aclose()
    assert closed == [True]
    assert not upload.replayable


async def test_sync_iterable_yielding_text_is_a_type_error() -> None:
    upload = MultipartUpload("k", iter(["text, not bytes"]))
    await upload.prepare()
    with pytest.raises(InvalidArgumentTypeError, match="must yield bytes"):
        await collect(upload)


async def test_one_shot_iterable_can_be_reopened_before_any_byte_was_taken() -> None:
    upload = MultipartUpload("k", agen(b"abc"))
    await upload.prepare()
    await upload.open().aclose()
    assert upload.replayable
    parts = parse_multipart(upload.headers["Content-Type"], b"".join(await collect(upload)))
    assert bytes(parts["file"].data) == b"abc"


async def test_aclose_closes_an_unfinished_path_body(tmp_path: Path) -> None:
    upload = MultipartUpload("k", sources(tmp_path)["pathlib"], chunk_size=1024)
    await upload.prepare()
    body = upload.open()
    await body.__anext__()
    await upload.aclose()  # ResourceWarning is an error in this suite: a leaked file would fail
    with pytest.raises(StopAsyncIteration):
        await body.__anext__()


@pytest.mark.parametrize("style", ["sync", "async"])
async def test_progress_reports_each_chunk_up_to_total(style: str) -> None:
    seen: list[tuple[int, int | None]] = []

    def record(sent: int, total: int | None) -> None:
        seen.append((sent, total))

    async def arecord(sent: int, total: int | None) -> None:
        seen.append((sent, total))

    upload = MultipartUpload(
        "k", DATA, chunk_size=4096, on_progress=record if style == "sync" else arecord
    )
    await body_of(upload)
    total = len(DATA)
    assert seen == [(0, total), (4096, total), (8192, total), (total, total)]


async def test_progress_total_is_none_for_a_stream_of_unknown_size() -> None:
    seen: list[tuple[int, int | None]] = []
    upload = MultipartUpload("k", agen(b"ab", b"cde"), on_progress=lambda s, t: seen.append((s, t)))
    await body_of(upload)
    assert seen == [(0, None), (2, None), (5, None)]


@pytest.mark.parametrize(
    ("key", "expected"),
    [
        ("a/photo.JPG", "image/jpeg"),
        ("notes.txt", "text/plain"),
        ("blob", "application/octet-stream"),
    ],
)
def test_content_type_is_guessed_from_key(key: str, expected: str) -> None:
    assert guess_content_type(key) == expected
    assert MultipartUpload(key, b"").content_type == expected


async def test_explicit_content_type_is_sent_in_both_places() -> None:
    upload = MultipartUpload("a.txt", b"x", content_type="application/x-custom")
    parts = parse_multipart(upload.headers["Content-Type"], await body_of(upload))
    assert bytes(parts["contentType"].data) == b"application/x-custom"
    assert parts["file"].headers["content-type"] == "application/x-custom"


async def test_empty_source_gives_an_empty_file_part() -> None:
    upload = MultipartUpload("empty", b"")
    body = await body_of(upload)
    assert bytes(parse_multipart(upload.headers["Content-Type"], body)["file"].data) == b""
    assert upload.content_length == len(body)


async def test_names_with_quotes_and_newlines_cannot_break_the_part_headers() -> None:
    key = 'dir/we"ird\r\nContent-Type: evil\r\n.txt'
    upload = MultipartUpload(key, b"payload")
    parts = parse_multipart(upload.headers["Content-Type"], await body_of(upload))
    assert bytes(parts["key"].data) == key.encode()
    assert parts["file"].disposition["filename"] == "we%22ird%0D%0AContent-Type: evil%0D%0A.txt"
    assert parts["file"].headers["content-type"] == "text/plain"


def test_each_upload_gets_a_fresh_random_boundary() -> None:
    assert MultipartUpload("k", b"").boundary != MultipartUpload("k", b"").boundary


@pytest.mark.parametrize(
    "source",
    [42, None, {b"a": b"dict"}, {b"a set"}, io.StringIO("text")],
    ids=["int", "none", "dict", "set", "text-io"],
)
def test_unsupported_source_type_is_rejected_before_sending(source: object) -> None:
    with pytest.raises(InvalidArgumentTypeError):
        MultipartUpload("k", source)  # type: ignore[arg-type]


def test_text_mode_file_is_rejected(tmp_path: Path) -> None:
    path = tmp_path / "t.txt"
    path.write_text("x")
    with path.open() as file, pytest.raises(InvalidArgumentTypeError, match="binary"):
        MultipartUpload("k", file)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("kwargs", "error"),
    [
        ({"chunk_size": 0}, InvalidRequestError),
        ({"chunk_size": 1.5}, InvalidArgumentTypeError),
        ({"size": -1}, InvalidRequestError),
        ({"content_type": "text/plain\r\nX-Evil: 1"}, InvalidRequestError),
        ({"content_type": ""}, InvalidRequestError),
        ({"on_progress": "not callable"}, InvalidArgumentTypeError),
    ],
)
def test_bad_arguments_are_rejected_before_sending(
    kwargs: dict[str, object], error: type[Exception]
) -> None:
    with pytest.raises(error):
        MultipartUpload("k", b"x", **kwargs)  # type: ignore[arg-type]


@pytest.mark.parametrize("key", ["", 5])
def test_bad_key_is_rejected(key: object) -> None:
    with pytest.raises(InvalidRequestError):
        MultipartUpload(key, b"x")  # type: ignore[arg-type]


def test_declared_size_must_match_bytes() -> None:
    with pytest.raises(SourceSizeMismatchError):
        MultipartUpload("k", b"abc", size=4)


async def test_missing_path_is_a_clear_error(tmp_path: Path) -> None:
    upload = MultipartUpload("k", tmp_path / "missing.bin")
    with pytest.raises(InvalidRequestError, match="no such file"):
        await upload.prepare()


async def test_directory_path_is_rejected(tmp_path: Path) -> None:
    with pytest.raises(InvalidRequestError, match="regular file"):
        await MultipartUpload("k", tmp_path).prepare()


async def test_stream_longer_than_declared_size_fails_before_sending_the_excess() -> None:
    upload = MultipartUpload("k", agen(b"abc", b"def"), size=4)
    await upload.prepare()
    body = upload.open()
    await body.__anext__()  # the first chunk, with the part headers
    with pytest.raises(SourceSizeMismatchError):
        await body.__anext__()  # the excess is refused, not sent


async def test_stream_shorter_than_declared_size_fails_before_the_closing_boundary() -> None:
    upload = MultipartUpload("k", agen(b"abc"), size=4)
    await upload.prepare()
    with pytest.raises(SourceSizeMismatchError):
        await collect(upload)


async def test_stream_yielding_non_bytes_is_a_type_error() -> None:
    async def bad() -> AsyncIterator[object]:
        yield "text"

    upload = MultipartUpload("k", bad())  # type: ignore[arg-type]
    await upload.prepare()
    with pytest.raises(InvalidArgumentTypeError):
        await collect(upload)


async def test_callable_returning_non_iterable_is_a_type_error() -> None:
    upload = MultipartUpload("k", lambda: b"bytes")  # type: ignore[arg-type, return-value]
    await upload.prepare()
    with pytest.raises(InvalidArgumentTypeError):
        await collect(upload)


@pytest.mark.parametrize("anyio_backend", ["asyncio"])
@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    key=st.text(min_size=1, max_size=40).filter(lambda k: "\x00" not in k),
    data=st.binary(max_size=3000),
    chunk_size=st.integers(1, 700),
)
async def test_any_key_and_data_round_trip_through_a_multipart_parser(
    key: str, data: bytes, chunk_size: int
) -> None:
    upload = MultipartUpload(key, data, chunk_size=chunk_size, content_type="application/x-t")
    body = await body_of(upload)
    parts = parse_multipart(upload.headers["Content-Type"], body)
    assert bytes(parts["key"].data) == key.encode()
    assert bytes(parts["file"].data) == data
    assert upload.content_length == len(body)
