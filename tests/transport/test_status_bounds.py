"""Both parsers refuse a status outside 100-599 and bound the informational (1xx) responses.

A status of 600 or 999 is no HTTP status; llhttp and h11 read any three digits. And a server
may send any number of ``100 Continue`` heads before the real one: without a bound on their
total size, a hostile server could keep a request reading forever. Every case runs with
httptools and with h11 (the ``parser`` fixture).
"""

from __future__ import annotations

import anyio
import httpx
import pytest

from aerostack_async._pool import AsyncPoolTransport
from aerostack_async._pool._codec import MAX_HEAD_SIZE

from .._loopback import Peer, response, serve

pytestmark = pytest.mark.anyio


@pytest.mark.parametrize("status", ["000", "099", "600", "601", "999"])
async def test_a_status_outside_100_to_599_is_refused(status: str) -> None:
    async def handler(peer: Peer) -> None:
        await peer.read_request()
        await peer.send(f"HTTP/1.1 {status} Odd\r\nContent-Length: 2\r\n\r\nok".encode())
        await peer.stall()

    async with (
        serve(handler) as server,
        httpx.AsyncClient(transport=AsyncPoolTransport(), timeout=10) as client,
    ):
        with anyio.fail_after(10), pytest.raises(httpx.RemoteProtocolError):
            await client.get(server.url)


@pytest.mark.parametrize("status", [100, 200, 404, 599])
async def test_statuses_at_the_edges_of_the_range_are_read(status: int) -> None:
    async def handler(peer: Peer) -> None:
        await peer.read_request()
        if status == 100:
            await peer.send(b"HTTP/1.1 100 Continue\r\n\r\n" + response(b"after"))
        else:
            await peer.send(response(b"ok", status=status, reason="X"))

    async with (
        serve(handler) as server,
        httpx.AsyncClient(transport=AsyncPoolTransport(), timeout=10) as client,
    ):
        got = await client.get(server.url)
    assert got.status_code == (200 if status == 100 else status)


async def test_endless_informational_responses_are_refused() -> None:
    continue_head = b"HTTP/1.1 100 Continue\r\nX-Pad: " + b"p" * 200 + b"\r\n\r\n"
    count = 3 * MAX_HEAD_SIZE // len(continue_head)

    async def handler(peer: Peer) -> None:
        await peer.read_request()
        for _ in range(count):
            await peer.send(continue_head)
        await peer.send(response(b"too late"))

    async with (
        serve(handler) as server,
        httpx.AsyncClient(transport=AsyncPoolTransport(), timeout=10) as client,
    ):
        with anyio.fail_after(20), pytest.raises(httpx.RemoteProtocolError, match="larger"):
            await client.get(server.url)


async def test_a_few_informational_responses_then_the_answer_are_read() -> None:
    early_hints = b"HTTP/1.1 103 Early Hints\r\nLink: </style.css>; rel=preload\r\n\r\n"

    async def handler(peer: Peer) -> None:
        while await peer.read_request() is not None:
            await peer.send(b"HTTP/1.1 100 Continue\r\n\r\n" + early_hints * 3)
            await peer.send(response(b"answer"))

    async with (
        serve(handler) as server,
        httpx.AsyncClient(transport=AsyncPoolTransport(), timeout=10) as client,
    ):
        first = await client.get(server.url)
        second = await client.get(server.url)  # the bound is per response, not per connection
    assert (first.text, second.text) == ("answer", "answer")
    assert server.connections == 1
