"""Every way a streamed body can break surfaces as the package's own error, never httpx's.

A real misbehaving server on 127.0.0.1 plays each fault after a good start; downloads
(``aiter_bytes``, ``read``, ``save``), ``storage.get``, chat streams and uploads must all raise
:class:`APIConnectionError` (:class:`APITimeoutError` for a timeout), as a plain call does.
"""

from __future__ import annotations

import json
import os
import zlib
from collections.abc import Awaitable, Callable
from pathlib import Path

import anyio
import httpx
import pytest

from aerostack_async import AsyncAerostack, Limits, Timeout
from aerostack_async.errors import APIConnectionError, APITimeoutError

from .._loopback import Peer, chunk, serve

pytestmark = [
    pytest.mark.anyio,
    # A body its Content-Encoding cannot undo fails inside httpx's aiter_bytes(), which does not
    # close the aiter_raw() generator it was reading (the response itself is closed); trio
    # reports that generator when it is collected. httpx's, and harmless: no connection is held.
    pytest.mark.filterwarnings(
        "ignore:Exception ignored in. <async_generator object Response.aiter_raw"
        ":pytest.PytestUnraisableExceptionWarning",
        "ignore:Exception ignored in. <async_generator object BoundAsyncStream.__aiter__"
        ":pytest.PytestUnraisableExceptionWarning",
    ),
]

PROMPT = [{"role": "user", "content": "hi"}]


def head(content_type: str, *extra: str) -> bytes:
    lines = ["HTTP/1.1 200 OK", f"Content-Type: {content_type}", *extra]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def sse_frame(content: str) -> bytes:
    data = {
        "id": "c1",
        "object": "chat.completion.chunk",
        "created": 1,
        "model": "m",
        "choices": [{"index": 0, "delta": {"content": content}, "finish_reason": None}],
    }
    return b"data: " + json.dumps(data).encode() + b"\n\n"


# Each fault: what the server sends after reading the request (given the body's media type and
# a good first piece of it), and the error it must surface as.
Fault = Callable[[Peer, str, bytes], Awaitable[None]]


async def corrupt_gzip(conn: Peer, content_type: str, good: bytes) -> None:
    body = b"\x1f\x8b\x08\x00 this is not gzip " * 50
    await conn.send(
        head(content_type, "Content-Encoding: gzip", f"Content-Length: {len(body)}") + body
    )
    await conn.stall()


async def corrupt_gzip_after_a_good_start(conn: Peer, content_type: str, good: bytes) -> None:
    compressor = zlib.compressobj(wbits=31)  # gzip
    start = compressor.compress(good * 20) + compressor.flush(zlib.Z_SYNC_FLUSH)
    body = start + b"\xff" * 100  # then a block of the reserved type: invalid from here on
    await conn.send(
        head(content_type, "Content-Encoding: gzip", f"Content-Length: {len(body)}") + body
    )
    await conn.stall()


async def unknown_encoding_bytes(conn: Peer, content_type: str, good: bytes) -> None:
    body = b"definitely not deflate data" * 10
    await conn.send(
        head(content_type, "Content-Encoding: deflate", f"Content-Length: {len(body)}") + body
    )
    await conn.stall()


async def chunked_body_cut_short(conn: Peer, content_type: str, good: bytes) -> None:
    await conn.send(head(content_type, "Transfer-Encoding: chunked") + chunk(good) + b"5\r\nab")
    # and close: the body ends mid-chunk


async def length_body_cut_short(conn: Peer, content_type: str, good: bytes) -> None:
    await conn.send(head(content_type, "Content-Length: 100000") + good)


async def reset_mid_body(conn: Peer, content_type: str, good: bytes) -> None:
    await conn.send(head(content_type, "Transfer-Encoding: chunked") + chunk(good))
    await anyio.sleep(0.05)
    await conn.reset()


async def bad_chunk_framing(conn: Peer, content_type: str, good: bytes) -> None:
    await conn.send(head(content_type, "Transfer-Encoding: chunked") + chunk(good) + b"zz\r\n")
    await conn.stall()


FAULTS = {
    "corrupt-gzip": (corrupt_gzip, APIConnectionError),
    "gzip-turns-to-junk": (corrupt_gzip_after_a_good_start, APIConnectionError),
    "corrupt-deflate": (unknown_encoding_bytes, APIConnectionError),
    "chunked-cut-short": (chunked_body_cut_short, APIConnectionError),
    "length-cut-short": (length_body_cut_short, APIConnectionError),
    "reset": (reset_mid_body, APIConnectionError),
    "bad-chunk-framing": (bad_chunk_framing, APIConnectionError),
}


def client_for(base_url: str, **kwargs: object) -> AsyncAerostack:
    kwargs.setdefault("limits", Limits(max_connections=1, max_keepalive_connections=1))
    kwargs.setdefault("timeout", Timeout(connect=5, read=10, write=10, pool=3, total=30))
    return AsyncAerostack(api_key="sk_x", base_url=base_url, retry=None, **kwargs)  # type: ignore[arg-type]


def serving(fault: Fault, content_type: str, good: bytes) -> Callable[[Peer], Awaitable[None]]:
    async def handler(conn: Peer) -> None:
        await conn.read_request()
        await fault(conn, content_type, good)

    return handler


def assert_ours(error: BaseException) -> None:
    assert not isinstance(error, httpx.HTTPError)
    assert isinstance(error.__cause__, httpx.HTTPError)  # what broke is kept as the cause


@pytest.mark.parametrize("read", ["aiter_bytes", "read", "save", "get"])
@pytest.mark.parametrize("name", list(FAULTS))
async def test_a_broken_download_raises_our_error(name: str, read: str, tmp_path: Path) -> None:
    fault, expected = FAULTS[name]
    handler = serving(fault, "application/octet-stream", b"x" * 1000)
    async with serve(handler) as server, client_for(server.base_url) as client:
        with anyio.fail_after(20), pytest.raises(expected) as caught:  # noqa: PT012
            if read == "get":
                await client.storage.get("some/key")
            else:
                async with client.storage.download("some/key") as download:
                    if read == "aiter_bytes":
                        async for _ in download.aiter_bytes(100):
                            pass
                    elif read == "read":
                        await download.read()
                    else:
                        await download.save(tmp_path / "out.bin")
    assert_ours(caught.value)
    assert os.listdir(tmp_path) == []  # save left nothing behind


@pytest.mark.parametrize("name", list(FAULTS))
async def test_a_broken_chat_stream_raises_our_error(name: str) -> None:
    fault, expected = FAULTS[name]
    handler = serving(fault, "text/event-stream", sse_frame("Hel"))
    async with serve(handler) as server, client_for(server.base_url) as client:
        with anyio.fail_after(20), pytest.raises(expected) as caught:  # noqa: PT012
            async with client.ai.chat_stream(PROMPT) as stream:
                async for _ in stream:
                    pass
    assert_ours(caught.value)


async def test_a_download_that_stalls_mid_body_raises_api_timeout_error() -> None:
    async def handler(conn: Peer) -> None:
        await conn.read_request()
        await conn.send(head("application/octet-stream", "Content-Length: 5000") + b"x" * 100)
        await conn.stall()

    timeout = Timeout(connect=5, read=0.3, write=5, pool=3, total=None)
    async with serve(handler) as server, client_for(server.base_url, timeout=timeout) as client:
        with anyio.fail_after(20), pytest.raises(APITimeoutError) as caught:
            await client.storage.get("some/key")
    assert_ours(caught.value)


@pytest.mark.parametrize("name", ["corrupt-gzip", "corrupt-deflate", "length-cut-short", "reset"])
async def test_a_broken_upload_answer_raises_our_error(name: str) -> None:
    fault, expected = FAULTS[name]
    handler = serving(fault, "application/json", b'{"url": "http://x/y"')
    async with serve(handler) as server, client_for(server.base_url) as client:
        with anyio.fail_after(20), pytest.raises(expected) as caught:
            await client.storage.upload("k/data.bin", b"payload")
    assert_ours(caught.value)


async def test_an_upload_the_server_cuts_off_raises_our_error() -> None:
    async def handler(conn: Peer) -> None:
        await conn.read_request(body_limit=1000)
        await conn.reset()

    async def source() -> object:
        for _ in range(200):
            yield b"z" * 65536

    async with serve(handler) as server, client_for(server.base_url) as client:
        with anyio.fail_after(20), pytest.raises(APIConnectionError) as caught:
            await client.storage.upload("k/data.bin", source())  # type: ignore[arg-type]
    assert_ours(caught.value)
