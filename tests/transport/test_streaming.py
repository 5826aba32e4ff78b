"""Streamed responses: bytes as they arrive, and the connection released on every way out."""

from __future__ import annotations

from contextlib import aclosing

import anyio
import httpx
import pytest

from aerostack_async._pool import AsyncPoolTransport

from .._loopback import Peer, response, serve
from ._kinds import ignore_httpx_asyncgen_warning, make_transport

pytestmark = [pytest.mark.anyio, ignore_httpx_asyncgen_warning]

EVENT = b"data: tick\n\n"


def event_stream(count: int, next_wanted: anyio.Event | None = None) -> object:
    """A chunked SSE-like handler: ``/events`` sends ``count`` events, others a small body."""

    async def handler(peer: Peer) -> None:
        while (request := await peer.read_request()) is not None:
            if request.target != "/events":
                await peer.send(response(b"plain"))
                continue
            await peer.send(
                b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n"
                b"Transfer-Encoding: chunked\r\n\r\n"
            )
            for _ in range(count):
                await peer.send(b"%x\r\n%s\r\n" % (len(EVENT), EVENT))
                if next_wanted is not None:
                    await next_wanted.wait()
            await peer.send(b"0\r\n\r\n")

    return handler


async def test_each_chunk_is_delivered_as_it_arrives(kind: str) -> None:
    # The server sends the second event only after the client saw the first.
    wanted = anyio.Event()
    async with (
        serve(event_stream(2, wanted)) as server,  # type: ignore[arg-type]
        httpx.AsyncClient(transport=make_transport(kind)) as client,
        client.stream("GET", server.url + "/events") as got,
    ):
        chunks = got.aiter_raw()
        assert await chunks.__anext__() == EVENT
        wanted.set()
        rest = b"".join([chunk async for chunk in chunks])
    assert rest == EVENT


async def test_stream_read_to_the_end_returns_its_connection_to_the_pool() -> None:
    transport = AsyncPoolTransport()
    async with (
        serve(event_stream(50)) as server,  # type: ignore[arg-type]
        httpx.AsyncClient(transport=transport) as client,
    ):
        async with client.stream("GET", server.url + "/events") as got:
            body = await got.aread()
        assert body == EVENT * 50
        assert (transport.slots.in_use, transport.slots.idle) == (0, 1)
        await client.get(server.url)
    assert server.connections == 1


async def test_stream_left_early_closes_its_connection(kind: str) -> None:
    wanted = anyio.Event()
    async with (
        serve(event_stream(1000, wanted)) as server,  # type: ignore[arg-type]
        httpx.AsyncClient(transport=make_transport(kind)) as client,
    ):
        async with (
            client.stream("GET", server.url + "/events") as got,
            aclosing(got.aiter_raw()) as chunks,
        ):
            async for _ in chunks:
                break
        if kind == "ours":
            slots = client._transport.slots  # type: ignore[attr-defined]
            assert (slots.in_use, slots.total) == (0, 0)
        assert (await client.get(server.url + "/plain")).text == "plain"
    assert server.connections == 2


async def test_stream_cancelled_mid_body_closes_its_connection() -> None:
    transport = AsyncPoolTransport()
    wanted = anyio.Event()  # never set: the body stalls after one event
    async with (
        serve(event_stream(2, wanted)) as server,  # type: ignore[arg-type]
        httpx.AsyncClient(transport=transport) as client,
    ):
        with anyio.move_on_after(0.2) as scope:
            async with (
                client.stream("GET", server.url + "/events") as got,
                aclosing(got.aiter_raw()) as chunks,
            ):
                async for _ in chunks:
                    pass
        assert scope.cancelled_caught
        assert (transport.slots.in_use, transport.slots.total) == (0, 0)
        assert transport.open_connections == 0
        assert (await client.get(server.url + "/plain")).text == "plain"


async def test_stream_error_in_consumer_closes_its_connection() -> None:
    transport = AsyncPoolTransport()
    async with (
        serve(event_stream(1000)) as server,  # type: ignore[arg-type]
        httpx.AsyncClient(transport=transport) as client,
    ):

        async def fail_while_reading() -> None:
            async with (
                client.stream("GET", server.url + "/events") as got,
                aclosing(got.aiter_raw()) as chunks,
            ):
                async for _ in chunks:
                    raise LookupError

        with pytest.raises(LookupError):
            await fail_while_reading()
        assert (transport.slots.in_use, transport.open_connections) == (0, 0)


async def test_unread_complete_small_response_keeps_its_connection() -> None:
    transport = AsyncPoolTransport()
    async with (
        serve(event_stream(0)) as server,  # type: ignore[arg-type]
        httpx.AsyncClient(transport=transport) as client,
    ):
        async with client.stream("GET", server.url + "/plain"):
            pass  # the whole body came with the head, so nothing is left on the wire
        await client.get(server.url + "/plain")
    assert server.connections == 1


async def test_close_delimited_download_streams_to_eof() -> None:
    payload = b"z" * (3 * 1024 * 1024)

    async def handler(peer: Peer) -> None:
        await peer.read_request()
        await peer.send(response(length=False))
        for start in range(0, len(payload), 100_000):
            await peer.send(payload[start : start + 100_000])

    async with (
        serve(handler) as server,
        httpx.AsyncClient(transport=AsyncPoolTransport()) as client,
        client.stream("GET", server.url) as got,
    ):
        size = 0
        async for chunk in got.aiter_raw():
            size += len(chunk)
    assert size == len(payload)
