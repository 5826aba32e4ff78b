"""Where the two protocol libraries need help from us: each case runs with httptools and h11.

The rest of the conformance suite runs on both as well (the ``parser`` fixture); these cases
cover what the httptools dialect does itself (request validation and framing, HEAD, bodies
delimited by close, oversized heads, bytes after a response) and ``AsyncPoolTransport.fetch``,
which the library's own calls use.
"""

from __future__ import annotations

import gzip
from collections.abc import AsyncIterator

import httpx
import pytest

from aerostack_async._pool import AsyncPoolTransport
from aerostack_async._pool._codec import PARSER_ENV

from .._loopback import Peer, chunked, response, serve, serve_forever
from ._kinds import fetch, make_transport

pytestmark = pytest.mark.anyio


async def test_bytes_after_a_complete_response_are_not_read_as_the_next_one() -> None:
    async def handler(peer: Peer) -> None:
        if peer.server.connections > 1:
            await serve_forever(peer, b"two")
            return
        await peer.read_request()
        unasked = b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nstale"
        await peer.send(response(b"one") + unasked)
        await serve_forever(peer, b"stale too")

    async with (
        serve(handler) as server,
        httpx.AsyncClient(transport=AsyncPoolTransport()) as client,
    ):
        first = await client.get(server.url)
        second = await client.get(server.url)
    assert (first.text, second.text) == ("one", "two")
    assert server.connections == 2


async def test_garbage_after_a_complete_response_keeps_the_response() -> None:
    async def handler(peer: Peer) -> None:
        while await peer.read_request() is not None:
            await peer.send(response(b"fine") + b"\x00\x01 not http")

    async with (
        serve(handler) as server,
        httpx.AsyncClient(transport=AsyncPoolTransport()) as client,
    ):
        assert (await client.get(server.url)).text == "fine"
        assert (await client.get(server.url)).text == "fine"
    assert server.connections == 2


@pytest.mark.parametrize(
    "reply",
    [
        pytest.param(response(b"x", headers=[("X-Big", "a" * 200_000)]), id="oversized-head"),
        pytest.param(b"HTTP/1.1 200 OK\r\nContent-Len", id="closed-mid-head"),
        pytest.param(
            response(headers=[("Transfer-Encoding", "chunked")], length=False)
            + b"5\r\nhello\r\n3\r\nab",
            id="truncated-chunks",
        ),
    ],
)
async def test_a_broken_response_raises_remote_protocol_error(kind: str, reply: bytes) -> None:
    async def handler(peer: Peer) -> None:
        await peer.read_request()
        await peer.send(reply)  # and close

    async with (
        serve(handler) as server,
        httpx.AsyncClient(transport=make_transport(kind)) as client,
    ):
        with pytest.raises(httpx.RemoteProtocolError):
            await client.get(server.url)


async def test_head_response_without_length_ends_with_its_head(kind: str) -> None:
    async def handler(peer: Peer) -> None:
        while (request := await peer.read_request()) is not None:
            if request.method == "HEAD":
                await peer.send(b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\n")
            else:
                await peer.send(response(b"body"))

    async with (
        serve(handler) as server,
        httpx.AsyncClient(transport=make_transport(kind), timeout=5) as client,
    ):
        head = await client.head(server.url)
        after = await client.get(server.url)
    assert (head.status_code, head.content, after.text) == (200, b"", "body")


class _Body:
    """An async iterable body of known pieces (no generator left for the GC to finalise)."""

    def __init__(self, *pieces: bytes) -> None:
        self._pieces = list(pieces)

    def __aiter__(self) -> AsyncIterator[bytes]:
        return self

    async def __anext__(self) -> bytes:
        if not self._pieces:
            raise StopAsyncIteration
        return self._pieces.pop(0)


@pytest.mark.parametrize("sent", [b"short", b"much too long"], ids=["shorter", "longer"])
async def test_body_not_matching_its_content_length_is_refused(sent: bytes) -> None:
    # (httpcore lets h11's own exception escape here, so this runs on our transport only.)
    async def handler(peer: Peer) -> None:
        await serve_forever(peer)

    async with (
        serve(handler) as server,
        httpx.AsyncClient(transport=AsyncPoolTransport()) as client,
    ):
        request = client.build_request(
            "POST", server.url, content=_Body(sent), headers={"Content-Length": "8"}
        )
        with pytest.raises(httpx.LocalProtocolError):
            await client.send(request)
        assert (await client.get(server.url)).text == "ok"


@pytest.mark.parametrize(
    "headers",
    [
        pytest.param([("Host", "a"), ("Host", "b")], id="two-hosts"),
        pytest.param([("Content-Length", "1"), ("Content-Length", "2")], id="two-lengths"),
        pytest.param([("Content-Length", "1, 2")], id="listed-lengths"),
        pytest.param([("Content-Length", "x")], id="bad-length"),
        pytest.param([("Transfer-Encoding", "gzip")], id="unsupported-coding"),
        pytest.param(
            [("Content-Length", "1"), ("Transfer-Encoding", "chunked")], id="length-and-chunked"
        ),
    ],
)
async def test_ambiguous_framing_headers_are_refused_before_sending(
    headers: list[tuple[str, str]],
) -> None:
    async def handler(peer: Peer) -> None:
        await serve_forever(peer)

    async with (
        serve(handler) as server,
        httpx.AsyncClient(transport=AsyncPoolTransport()) as client,
    ):
        request = httpx.Request("POST", server.url, headers=headers, content=b"x")
        assert [(n, v) for n, v in request.headers.multi_items() if n in ("host", "content-length")]
        with pytest.raises(httpx.LocalProtocolError):
            await client.send(request)
    assert server.connections == 0


async def test_request_asking_to_close_closes(parser: str) -> None:
    async def handler(peer: Peer) -> None:
        await serve_forever(peer)

    async with (
        serve(handler) as server,
        httpx.AsyncClient(transport=AsyncPoolTransport()) as client,
    ):
        await client.get(server.url, headers={"Connection": "keep-alive, close"})
        await client.get(server.url)
    assert server.connections == 2


async def test_fetch_reads_a_body_spanning_many_reads_and_pools_the_connection() -> None:
    payload = bytes(range(256)) * 4096  # 1 MiB, chunked

    async def handler(peer: Peer) -> None:
        while await peer.read_request() is not None:
            head = response(headers=[("Transfer-Encoding", "chunked")], length=False)
            await peer.send(head + chunked(payload[: 1 << 19], payload[1 << 19 :]))

    transport = AsyncPoolTransport()
    async with serve(handler) as server:
        for _ in range(2):
            got = await fetch(transport, httpx.Request("GET", server.url))
            assert got.plain
            assert got.body == payload
            assert got.response(httpx.Request("GET", server.url)).content == payload
            assert got.response(httpx.Request("GET", server.url)).request.url == server.url
        await transport.aclose()
    assert server.connections == 1


async def test_fetch_decodes_content_encoding_as_httpx_does() -> None:
    async def handler(peer: Peer) -> None:
        await peer.read_request()
        squeezed = gzip.compress(b"squeezed")
        await peer.send(response(squeezed, headers=[("Content-Encoding", "gzip")]))

    transport = AsyncPoolTransport()
    async with serve(handler) as server:
        got = await fetch(transport, httpx.Request("GET", server.url))
        await transport.aclose()
    assert not got.plain
    assert got.response(httpx.Request("GET", server.url)).content == b"squeezed"


async def test_fetch_maps_a_body_cut_short_to_remote_protocol_error() -> None:
    async def handler(peer: Peer) -> None:
        await peer.read_request()
        await peer.send(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\npartial")

    transport = AsyncPoolTransport()
    async with serve(handler) as server:
        with pytest.raises(httpx.RemoteProtocolError):
            await fetch(transport, httpx.Request("GET", server.url))
        assert transport.slots.total == 0
        await transport.aclose()


def test_the_parser_is_chosen_by_argument_then_environment(
    parser: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert AsyncPoolTransport().parser == parser
    assert AsyncPoolTransport(parser="h11").parser == "h11"
    monkeypatch.setenv(PARSER_ENV, "")
    assert AsyncPoolTransport().parser == "httptools"
    with pytest.raises(ValueError, match="httptools"):
        AsyncPoolTransport(parser="picohttp")


async def test_trailers_do_not_change_the_response_headers(kind: str) -> None:
    async def handler(peer: Peer) -> None:
        while await peer.read_request() is not None:
            head = response(headers=[("Transfer-Encoding", "chunked")], length=False)
            trailers = b"0\r\nContent-Encoding: gzip\r\nX-Trailer: t\r\n\r\n"
            await peer.send(head + b"2\r\nhi\r\n" + trailers)

    async with (
        serve(handler) as server,
        httpx.AsyncClient(transport=make_transport(kind)) as client,
    ):
        got = await client.get(server.url)
        again = await client.get(server.url)
    assert (got.text, again.text) == ("hi", "hi")
    assert "content-encoding" not in got.headers
    assert "x-trailer" not in got.headers


async def test_fetch_ignores_trailers_too() -> None:
    async def handler(peer: Peer) -> None:
        await peer.read_request()
        head = response(headers=[("Transfer-Encoding", "chunked")], length=False)
        await peer.send(head + b"2\r\nhi\r\n0\r\nContent-Encoding: gzip\r\n\r\n")

    transport = AsyncPoolTransport()
    async with serve(handler) as server:
        got = await fetch(transport, httpx.Request("GET", server.url))
        await transport.aclose()
    assert (got.plain, got.body) == (True, b"hi")
