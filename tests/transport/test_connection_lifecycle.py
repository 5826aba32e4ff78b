"""Connection lifecycle: idle closes and the retry-once, resets, keep-alive expiry, closing."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import anyio
import httpx
import pytest

from aerostack_async._pool import AsyncPoolTransport

from .._loopback import Peer, response, serve, serve_forever
from ._kinds import make_transport

pytestmark = pytest.mark.anyio


def gathered(n: int, body: bytes = b"ok") -> object:
    """A handler that answers the first ``n`` requests only once all ``n`` are in flight.

    So ``n`` concurrent requests need ``n`` connections; the pool then holds ``n`` idle ones.
    """
    everyone_here = anyio.Event()

    async def handler(peer: Peer) -> None:
        while await peer.read_request() is not None:
            if len(peer.server.requests) >= n:
                everyone_here.set()
            await everyone_here.wait()
            await peer.send(response(body))

    return handler


async def concurrently(client: httpx.AsyncClient, url: str, n: int) -> None:
    """Send ``n`` GETs at once."""
    async with anyio.create_task_group() as tg:
        for _ in range(n):
            tg.start_soon(client.get, url)


async def wait_until_closed_by_client(peer: Peer) -> None:
    """Wait (bounded) until the server has seen the client close ``peer``'s connection."""
    with anyio.fail_after(10):
        await peer.client_closed.wait()


async def test_request_on_connection_closed_while_idle_succeeds_via_retry(kind: str) -> None:
    dropped = anyio.Event()
    first_connection = True

    async def handler(peer: Peer) -> None:
        nonlocal first_connection
        if first_connection:
            first_connection = False
            await peer.read_request()
            await peer.send(response(b"first"))
            await peer.stream.aclose()  # keep-alive promised, then dropped while idle
            dropped.set()
            return
        await serve_forever(peer, b"second")

    async with (
        serve(handler) as server,
        httpx.AsyncClient(transport=make_transport(kind)) as client,
    ):
        assert (await client.get(server.url)).text == "first"
        await dropped.wait()
        assert (await client.get(server.url)).text == "second"
    assert server.connections == 2


async def test_retry_once_closes_every_idle_connection_to_the_origin() -> None:
    transport = AsyncPoolTransport()
    serve_three = gathered(3, b"old")
    drop = anyio.Event()
    dropped = 0
    all_dropped = anyio.Event()

    async def handler(peer: Peer) -> None:
        nonlocal dropped
        if peer.server.connections > 3:
            await serve_forever(peer, b"fresh")
            return
        peer_done = anyio.Event()

        async def serve_then_drop() -> None:
            await serve_three(peer)  # type: ignore[operator]
            peer_done.set()

        async with anyio.create_task_group() as tg:
            tg.start_soon(serve_then_drop)
            await drop.wait()
            tg.cancel_scope.cancel()
        await peer.stream.aclose()
        dropped += 1
        if dropped == 3:
            all_dropped.set()

    async with (
        serve(handler) as server,
        httpx.AsyncClient(transport=transport) as client,
    ):
        await concurrently(client, server.url, 3)
        assert transport.slots.idle == 3
        drop.set()
        await all_dropped.wait()
        assert (await client.get(server.url)).text == "fresh"
        assert transport.slots.idle == 1
    assert server.connections == 4


async def test_a_connection_closed_while_idle_is_noticed_before_a_streamed_body_goes() -> None:
    dropped = anyio.Event()

    async def handler(peer: Peer) -> None:
        if peer.server.connections == 1:
            await peer.read_request()
            await peer.send(response(b"first"))
            await peer.stream.aclose()
            dropped.set()
        else:
            await serve_forever(peer, b"on a new connection")

    async def body() -> AsyncIterator[bytes]:
        yield b"cannot be sent twice"

    transport = AsyncPoolTransport()
    async with (
        serve(handler) as server,
        httpx.AsyncClient(transport=transport) as client,
    ):
        await client.get(server.url)
        await dropped.wait()
        await anyio.sleep(0.05)  # let the FIN reach the client's socket
        got = await client.post(server.url, content=body())
        assert got.text == "on a new connection"
    assert server.connections == 2
    assert server.requests[-1].body == b"cannot be sent twice"


def _drop_the_second_request(answer: bytes) -> Any:
    """A handler: the first connection answers once, then reads the next request and hangs up."""

    async def handler(peer: Peer) -> None:
        if peer.server.connections == 1:
            await peer.read_request()
            await peer.send(response(b"first"))
            await peer.read_request()
            await peer.stream.aclose()
        else:
            await serve_forever(peer, answer)

    return handler


async def test_streamed_request_body_is_not_replayed_when_a_reused_connection_drops_it() -> None:
    async def body() -> AsyncIterator[bytes]:
        yield b"cannot be sent twice"

    transport = AsyncPoolTransport()
    async with (
        serve(_drop_the_second_request(b"replayed")) as server,
        httpx.AsyncClient(transport=transport) as client,
    ):
        await client.get(server.url)
        with pytest.raises((httpx.RemoteProtocolError, httpx.ReadError, httpx.WriteError)):
            # A safe method (else it is never replayed, test_replay.py), but a one-shot body.
            await client.request("OPTIONS", server.url, content=body())
        assert transport.slots.in_use == 0
    assert server.connections == 1


async def test_a_byte_body_is_sent_once_more_when_a_reused_connection_drops_it() -> None:
    # Only for a safe method: a POST is never sent twice by the pool (test_replay.py).
    transport = AsyncPoolTransport()
    async with (
        serve(_drop_the_second_request(b"replayed")) as server,
        httpx.AsyncClient(transport=transport) as client,
    ):
        await client.get(server.url)
        again = await client.request("OPTIONS", server.url, content=b"replayable")
        assert again.text == "replayed"
    assert server.connections == 2
    assert [r.body for r in server.requests] == [b"", b"replayable", b"replayable"]


async def test_an_unasked_response_sent_while_idle_is_not_taken_for_the_next_answer(
    kind: str,
) -> None:
    # A server may send a 408 before closing an idle keep-alive connection.
    async def handler(peer: Peer) -> None:
        if peer.server.connections == 1:
            await peer.read_request()
            await peer.send(response(b"first"))
            await anyio.sleep(0.05)
            await peer.send(response(b"stray", status=408, reason="Request Timeout"))
            await peer.stall()
        else:
            await serve_forever(peer, b"second")

    async with (
        serve(handler) as server,
        httpx.AsyncClient(transport=make_transport(kind)) as client,
    ):
        assert (await client.get(server.url)).text == "first"
        await anyio.sleep(0.3)
        got = await client.get(server.url)
    assert (got.status_code, got.text) == (200, "second")


async def test_new_connection_closed_without_response_is_not_retried(kind: str) -> None:
    async def handler(peer: Peer) -> None:
        await peer.read_request()  # read it, then hang up without answering

    async with (
        serve(handler) as server,
        httpx.AsyncClient(transport=make_transport(kind)) as client,
    ):
        with pytest.raises(httpx.RemoteProtocolError):
            await client.post(server.url, content=b"once")
    assert len(server.requests) == 1


async def test_reset_mid_response_raises_and_the_pool_recovers(kind: str) -> None:
    head_read = anyio.Event()

    async def handler(peer: Peer) -> None:
        if peer.server.connections == 1:
            await peer.read_request()
            await peer.send(b"HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\npartial")
            await head_read.wait()
            await peer.reset()
        else:
            await serve_forever(peer, b"recovered")

    async with (
        serve(handler) as server,
        httpx.AsyncClient(transport=make_transport(kind)) as client,
    ):

        async def read_streamed() -> None:
            async with client.stream("GET", server.url) as streamed:
                head_read.set()
                await streamed.aread()

        with pytest.raises((httpx.ReadError, httpx.RemoteProtocolError)):
            await read_streamed()
        assert (await client.get(server.url)).text == "recovered"
        if kind == "ours":
            slots = client._transport.slots  # type: ignore[attr-defined]
            assert (slots.in_use, slots.total) == (0, 1)


async def test_reset_before_response_raises_read_error(kind: str) -> None:
    async def handler(peer: Peer) -> None:
        await peer.read_request()
        await peer.reset()

    async with (
        serve(handler) as server,
        httpx.AsyncClient(transport=make_transport(kind)) as client,
    ):
        with pytest.raises((httpx.ReadError, httpx.RemoteProtocolError)):
            await client.get(server.url)


async def test_idle_connection_past_keepalive_expiry_is_closed_not_reused(kind: str) -> None:
    async def handler(peer: Peer) -> None:
        await serve_forever(peer)

    limits = httpx.Limits(keepalive_expiry=0.05)
    async with (
        serve(handler) as server,
        httpx.AsyncClient(transport=make_transport(kind, limits=limits)) as client,
    ):
        await client.get(server.url)
        await anyio.sleep(0.3)  # longer than the expiry: waiting longer only makes it surer
        await client.get(server.url)
        assert server.connections == 2
        await wait_until_closed_by_client(server.peers[0])


async def test_idle_connection_within_keepalive_expiry_is_reused(kind: str) -> None:
    async def handler(peer: Peer) -> None:
        await serve_forever(peer)

    limits = httpx.Limits(keepalive_expiry=60)
    async with (
        serve(handler) as server,
        httpx.AsyncClient(transport=make_transport(kind, limits=limits)) as client,
    ):
        await client.get(server.url)
        await client.get(server.url)
    assert server.connections == 1


async def test_expired_connections_under_a_busy_one_are_closed_too() -> None:
    transport = AsyncPoolTransport(limits=httpx.Limits(keepalive_expiry=0.2))
    async with (
        serve(gathered(2)) as server,  # type: ignore[arg-type]
        httpx.AsyncClient(transport=transport) as client,
    ):
        await concurrently(client, server.url, 2)
        assert server.connections == 2
        await anyio.sleep(0.5)  # longer than the expiry
        await client.get(server.url)  # both idle ones expired: a new one is opened
        assert (transport.slots.idle, transport.open_connections) == (1, 1)


async def test_an_expired_connection_does_not_linger_under_a_busy_one() -> None:
    transport = AsyncPoolTransport(limits=httpx.Limits(keepalive_expiry=0.5))
    async with (
        serve(gathered(2)) as server,  # type: ignore[arg-type]
        httpx.AsyncClient(transport=transport) as client,
    ):
        await concurrently(client, server.url, 2)
        assert server.connections == 2
        # Keep reusing the top connection for well over the expiry: the bottom one expires.
        for _ in range(20):
            await client.get(server.url)
            await anyio.sleep(0.05)
        assert (transport.slots.idle, transport.open_connections) == (1, 1)


async def test_more_idle_connections_than_the_keepalive_limit_are_closed() -> None:
    limits = httpx.Limits(max_connections=10, max_keepalive_connections=2)
    transport = AsyncPoolTransport(limits=limits)
    async with (
        serve(gathered(4)) as server,  # type: ignore[arg-type]
        httpx.AsyncClient(transport=transport) as client,
    ):
        await concurrently(client, server.url, 4)
        assert (transport.slots.idle, transport.open_connections) == (2, 2)
    assert server.connections == 4


async def test_aclose_closes_idle_and_busy_connections() -> None:
    transport = AsyncPoolTransport()
    gate = anyio.Event()

    async def handler(peer: Peer) -> None:
        while (request := await peer.read_request()) is not None:
            if request.target == "/slow":
                await peer.send(b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc")
                await gate.wait()
            await peer.send(response(b"ok"))

    async with serve(handler) as server:
        client = httpx.AsyncClient(transport=transport)
        busy = await client.send(client.build_request("GET", server.url + "/slow"), stream=True)
        await client.get(server.url)
        assert transport.open_connections == 2
        await client.aclose()
        assert transport.open_connections == 0
        with pytest.raises(httpx.ReadError):
            await busy.aread()
        with pytest.raises(RuntimeError):
            await transport.handle_async_request(httpx.Request("GET", server.url))
        gate.set()
        await wait_until_closed_by_client(server.peers[1])
