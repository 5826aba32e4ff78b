"""Per-request timeouts and connection failures, raised as httpx's own exception types."""

from __future__ import annotations

import anyio
import httpx
import pytest

from aerostack_async._pool import AsyncPoolTransport

from .._loopback import Peer, response, serve, stalling_server
from ._kinds import fetch, ignore_httpx_asyncgen_warning, make_transport

pytestmark = pytest.mark.anyio


async def test_server_silent_after_request_raises_read_timeout(kind: str) -> None:
    async def handler(peer: Peer) -> None:
        await peer.read_request()
        await anyio.sleep_forever()

    async with (
        serve(handler) as server,
        httpx.AsyncClient(transport=make_transport(kind)) as client,
    ):
        with pytest.raises(httpx.ReadTimeout):
            await client.get(server.url, timeout=httpx.Timeout(5, read=0.1))


async def test_body_stalling_mid_way_raises_read_timeout(kind: str) -> None:
    async def handler(peer: Peer) -> None:
        await peer.read_request()
        await peer.send(b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc")
        await anyio.sleep_forever()

    async with (
        serve(handler) as server,
        httpx.AsyncClient(transport=make_transport(kind)) as client,
    ):
        with pytest.raises(httpx.ReadTimeout):
            await client.get(server.url, timeout=httpx.Timeout(5, read=0.1))


async def test_timeouts_come_from_each_request() -> None:
    async def handler(peer: Peer) -> None:
        while await peer.read_request() is not None:
            await anyio.sleep(0.3)
            await peer.send(response(b"slow"))

    async with (
        serve(handler) as server,
        httpx.AsyncClient(transport=AsyncPoolTransport(), timeout=0.05) as client,
    ):
        with pytest.raises(httpx.ReadTimeout):
            await client.get(server.url)
        assert (await client.get(server.url, timeout=30)).text == "slow"


@ignore_httpx_asyncgen_warning
async def test_server_not_reading_a_large_body_raises_write_timeout(kind: str) -> None:
    async with (
        stalling_server() as url,
        httpx.AsyncClient(transport=make_transport(kind)) as client,
    ):
        with pytest.raises(httpx.WriteTimeout):
            await client.post(
                url, content=b"w" * (64 * 1024 * 1024), timeout=httpx.Timeout(5, write=0.2)
            )


async def test_streamed_body_write_timeout_ignores_time_spent_by_the_producer() -> None:
    async def slow_source():  # type: ignore[no-untyped-def]
        for _ in range(3):
            await anyio.sleep(0.1)  # longer than the write timeout, between writes
            yield b"part"

    async def handler(peer: Peer) -> None:
        request = await peer.read_request()
        assert request is not None
        await peer.send(response(request.body))

    async with (
        serve(handler) as server,
        httpx.AsyncClient(transport=AsyncPoolTransport()) as client,
    ):
        got = await client.post(
            server.url, content=slow_source(), timeout=httpx.Timeout(5, write=0.05)
        )
    assert got.text == "partpartpart"


async def test_refused_connection_raises_connect_error(kind: str) -> None:
    listener = await anyio.create_tcp_listener(local_host="127.0.0.1")
    port = listener.extra(anyio.abc.SocketAttribute.local_port)
    await listener.aclose()  # nothing listens there now
    async with httpx.AsyncClient(transport=make_transport(kind)) as client:
        with pytest.raises(httpx.ConnectError):
            await client.get(f"http://127.0.0.1:{port}/")
        if kind == "ours":
            slots = client._transport.slots  # type: ignore[attr-defined]
            assert (slots.in_use, slots.total) == (0, 0)


async def test_unknown_host_raises_connect_error(kind: str) -> None:
    async with httpx.AsyncClient(transport=make_transport(kind)) as client:
        with pytest.raises(httpx.ConnectError):
            await client.get("http://name-that-does-not-resolve.invalid/")


async def test_unsupported_scheme_raises_unsupported_protocol() -> None:
    transport = AsyncPoolTransport()
    with pytest.raises(httpx.UnsupportedProtocol):
        await transport.handle_async_request(httpx.Request("GET", "ftp://127.0.0.1/"))


async def test_errors_carry_the_request(kind: str) -> None:
    async def handler(peer: Peer) -> None:
        await peer.read_request()
        await anyio.sleep_forever()

    async with (
        serve(handler) as server,
        httpx.AsyncClient(transport=make_transport(kind)) as client,
    ):
        with pytest.raises(httpx.ReadTimeout) as caught:
            await client.get(server.url + "/x", timeout=httpx.Timeout(5, read=0.05))
    assert caught.value.request.url.path == "/x"


async def _drip(peer: Peer) -> None:
    """A 10-byte body, one byte every 0.15 s: slow overall, but never silent for long."""
    await peer.read_request()
    await peer.send(b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n")
    for _ in range(10):
        await anyio.sleep(0.15)
        await peer.send(b"x")


async def test_the_read_timeout_bounds_each_read_not_the_whole_body(kind: str) -> None:
    async with (
        serve(_drip) as server,
        httpx.AsyncClient(transport=make_transport(kind)) as client,
    ):
        got = await client.get(server.url, timeout=httpx.Timeout(5, read=0.6))
    assert got.content == b"x" * 10


async def test_fetch_times_each_read_too() -> None:
    transport = AsyncPoolTransport()
    async with serve(_drip) as server:
        request = httpx.Request(
            "GET", server.url, extensions={"timeout": {"read": 0.6, "connect": 5}}
        )
        got = await fetch(transport, request)
        await transport.aclose()
    assert got.body == b"x" * 10
