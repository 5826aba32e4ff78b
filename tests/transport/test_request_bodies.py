"""Request bodies: sized and chunked framing, and back-pressure on streamed uploads."""

from __future__ import annotations

import socket
import time
from collections.abc import AsyncIterator

import anyio
import anyio.to_thread
import h11
import httpx
import pytest

from aerostack_async._pool import AsyncPoolTransport

from .._loopback import Peer, response, serve
from ._kinds import make_transport

pytestmark = pytest.mark.anyio


async def echo_length(peer: Peer) -> None:
    """Answer each request with the size of the body the server received."""
    while (request := await peer.read_request()) is not None:
        await peer.send(response(str(len(request.body)).encode()))


async def test_sized_body_is_sent_with_content_length(kind: str) -> None:
    async with (
        serve(echo_length) as server,
        httpx.AsyncClient(transport=make_transport(kind)) as client,
    ):
        got = await client.post(server.url, content=b"x" * 1000)
    assert got.text == "1000"
    assert server.requests[0].headers["content-length"] == "1000"
    assert not server.requests[0].chunked


async def test_large_sized_body_arrives_intact() -> None:
    payload = bytes(range(256)) * 4096  # 1 MiB: more than one write

    async def handler(peer: Peer) -> None:
        request = await peer.read_request()
        assert request is not None
        await peer.send(response(b"same" if request.body == payload else b"different"))

    async with (
        serve(handler) as server,
        httpx.AsyncClient(transport=AsyncPoolTransport()) as client,
    ):
        got = await client.put(server.url, content=payload)
    assert got.text == "same"


async def test_streamed_body_of_unknown_length_is_sent_chunked(kind: str) -> None:
    async def parts() -> AsyncIterator[bytes]:
        for part in (b"one,", b"", b"two,", b"three"):
            yield part

    async def handler(peer: Peer) -> None:
        request = await peer.read_request()
        assert request is not None
        await peer.send(response(request.body))

    async with (
        serve(handler) as server,
        httpx.AsyncClient(transport=make_transport(kind)) as client,
    ):
        got = await client.post(server.url, content=parts())
    assert got.text == "one,two,three"
    assert server.requests[0].chunked


async def test_streamed_body_with_declared_length_is_sent_sized(kind: str) -> None:
    async def parts() -> AsyncIterator[bytes]:
        yield b"abc"
        yield b"def"

    async with (
        serve(echo_length) as server,
        httpx.AsyncClient(transport=make_transport(kind)) as client,
    ):
        got = await client.post(server.url, content=parts(), headers={"Content-Length": "6"})
    assert got.text == "6"
    assert not server.requests[0].chunked


async def test_streamed_body_shorter_than_declared_length_raises_local_protocol_error() -> None:
    async def parts() -> AsyncIterator[bytes]:
        yield b"abc"

    async with (
        serve(echo_length) as server,
        httpx.AsyncClient(transport=AsyncPoolTransport()) as client,
    ):
        with pytest.raises(httpx.LocalProtocolError):
            await client.post(server.url, content=parts(), headers={"Content-Length": "6"})
        assert client._transport.slots.in_use == 0  # type: ignore[attr-defined]


@pytest.mark.parametrize("error", [ValueError, FileNotFoundError])
async def test_error_raised_by_body_iterator_propagates_and_releases_the_slot(
    error: type[Exception],
) -> None:
    async def parts() -> AsyncIterator[bytes]:
        yield b"abc"
        raise error("source failed")

    transport = AsyncPoolTransport()
    async with (
        serve(echo_length) as server,
        httpx.AsyncClient(transport=transport) as client,
    ):
        with pytest.raises(error, match="source failed"):
            await client.post(server.url, content=parts())
        assert transport.slots.in_use == 0
        assert (await client.post(server.url, content=b"ok")).text == "2"


async def test_streamed_upload_waits_for_a_slow_server_instead_of_buffering() -> None:
    chunk = b"u" * 65536
    total_chunks = 1536  # 96 MiB on offer
    produced = 0

    async def parts() -> AsyncIterator[bytes]:
        nonlocal produced
        for _ in range(total_chunks):
            produced += len(chunk)
            yield chunk

    # A plain blocking socket in a thread: it reads nothing it was not asked to (an asyncio
    # server transport reads ahead into memory until its first receive() returns).
    listener = socket.create_server(("127.0.0.1", 0))

    def serve() -> None:
        conn, _ = listener.accept()
        with conn:
            first = conn.recv(65536)
            last = -1
            while produced != last or not produced:  # until the producer stops moving
                last = produced
                time.sleep(0.2)
            stalled_at = produced
            h = h11.Connection(h11.SERVER)
            h.receive_data(first)
            received = 0
            while True:
                event = h.next_event()
                if event is h11.NEED_DATA:
                    h.receive_data(conn.recv(1 << 20))
                elif isinstance(event, h11.Data):
                    received += len(event.data)
                elif isinstance(event, h11.EndOfMessage):
                    break
            conn.sendall(response(f"{stalled_at} {received}".encode()))

    url = f"http://127.0.0.1:{listener.getsockname()[1]}"
    async with (
        anyio.create_task_group() as tg,
        httpx.AsyncClient(transport=AsyncPoolTransport(), timeout=60) as client,
    ):
        tg.start_soon(anyio.to_thread.run_sync, serve)
        got = await client.post(url, content=parts())
    listener.close()
    stalled_at, received = map(int, got.text.split())
    assert received == len(chunk) * total_chunks
    # Only the socket buffers (a few MiB on loopback) may run ahead of the server.
    assert stalled_at < 48 * 1024 * 1024


async def test_early_response_to_an_upload_is_returned() -> None:
    async def parts() -> AsyncIterator[bytes]:
        for _ in range(256):
            yield b"u" * 65536

    async def refuse(peer: Peer) -> None:
        # Answer as soon as the head is in, then drain (a lingering close) so the answer survives.
        await peer.read_some()
        await peer.send(
            response(
                b"too large",
                status=413,
                reason="Payload Too Large",
                headers=[("Connection", "close")],
            )
        )
        await peer.stall()

    transport = AsyncPoolTransport()
    async with (
        serve(refuse) as server,
        httpx.AsyncClient(transport=transport) as client,
    ):
        got = await client.post(server.url, content=parts())
        assert (got.status_code, got.text) == (413, "too large")
        assert (transport.slots.in_use, transport.open_connections) == (0, 0)
