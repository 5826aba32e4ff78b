"""Response framing: every way an HTTP/1.1 response can delimit (or omit) its body."""

from __future__ import annotations

import httpx
import pytest

from aerostack_async._pool import AsyncPoolTransport

from .._loopback import Peer, chunked, response, serve, serve_forever
from ._kinds import make_transport

pytestmark = pytest.mark.anyio


async def test_content_length_body_is_read_and_connection_reused(kind: str) -> None:
    async def handler(peer: Peer) -> None:
        await serve_forever(peer, b'{"ok":true}')

    async with (
        serve(handler) as server,
        httpx.AsyncClient(transport=make_transport(kind)) as client,
    ):
        first = await client.get(server.url + "/a")
        second = await client.get(server.url + "/b")
    assert first.json() == second.json() == {"ok": True}
    assert server.connections == 1


async def test_chunked_body_is_reassembled_and_connection_reused(kind: str) -> None:
    async def handler(peer: Peer) -> None:
        while await peer.read_request() is not None:
            head = response(headers=[("Transfer-Encoding", "chunked")], length=False)
            await peer.send(head + chunked(b"hello, ", b"chunked ", b"world"))

    async with (
        serve(handler) as server,
        httpx.AsyncClient(transport=make_transport(kind)) as client,
    ):
        first = await client.get(server.url)
        second = await client.get(server.url)
    assert first.text == second.text == "hello, chunked world"
    assert server.connections == 1


async def test_body_delimited_by_close_is_read_to_eof_and_connection_not_reused(
    kind: str,
) -> None:
    async def handler(peer: Peer) -> None:
        await peer.read_request()
        await peer.send(response(length=False) + b"until ")
        await peer.send(b"the end")

    async with (
        serve(handler) as server,
        httpx.AsyncClient(transport=make_transport(kind)) as client,
    ):
        first = await client.get(server.url)
        second = await client.get(server.url)
    assert first.text == second.text == "until the end"
    assert server.connections == 2


async def test_head_response_has_no_body_despite_content_length(kind: str) -> None:
    async def handler(peer: Peer) -> None:
        while (request := await peer.read_request()) is not None:
            if request.method == "HEAD":
                await peer.send(b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n")
            else:
                await peer.send(response(b"after head"))

    async with (
        serve(handler) as server,
        httpx.AsyncClient(transport=make_transport(kind)) as client,
    ):
        head = await client.head(server.url)
        after = await client.get(server.url)
    assert head.headers["content-length"] == "1000"
    assert head.content == b""
    assert after.text == "after head"
    assert server.connections == 1


@pytest.mark.parametrize(("status", "reason"), [(204, "No Content"), (304, "Not Modified")])
async def test_bodiless_status_has_no_body_and_keeps_connection(
    kind: str, status: int, reason: str
) -> None:
    async def handler(peer: Peer) -> None:
        while await peer.read_request() is not None:
            await peer.send(f"HTTP/1.1 {status} {reason}\r\n\r\n".encode())

    async with (
        serve(handler) as server,
        httpx.AsyncClient(transport=make_transport(kind)) as client,
    ):
        first = await client.get(server.url)
        second = await client.get(server.url)
    assert (first.status_code, first.content) == (status, b"")
    assert second.status_code == status
    assert server.connections == 1


async def test_server_connection_close_is_honoured(kind: str) -> None:
    async def handler(peer: Peer) -> None:
        await peer.read_request()
        await peer.send(response(b"bye", headers=[("Connection", "close")]))
        await peer.stall()

    async with (
        serve(handler) as server,
        httpx.AsyncClient(transport=make_transport(kind)) as client,
    ):
        first = await client.get(server.url)
        second = await client.get(server.url)
    assert first.text == second.text == "bye"
    assert server.connections == 2


async def test_client_connection_close_is_honoured(kind: str) -> None:
    async def handler(peer: Peer) -> None:
        await serve_forever(peer)

    async with (
        serve(handler) as server,
        httpx.AsyncClient(transport=make_transport(kind)) as client,
    ):
        await client.get(server.url, headers={"Connection": "close"})
        await client.get(server.url, headers={"Connection": "close"})
    assert server.connections == 2
    assert server.requests[0].headers["connection"] == "close"


async def test_http_1_0_response_closes_the_connection(kind: str) -> None:
    async def handler(peer: Peer) -> None:
        await peer.read_request()
        await peer.send(response(b"old", version="1.0"))

    async with (
        serve(handler) as server,
        httpx.AsyncClient(transport=make_transport(kind)) as client,
    ):
        first = await client.get(server.url)
        await client.get(server.url)
    assert (first.http_version, first.text) == ("HTTP/1.0", "old")
    assert server.connections == 2


async def test_informational_response_is_skipped(kind: str) -> None:
    async def handler(peer: Peer) -> None:
        await peer.read_request()
        await peer.send(b"HTTP/1.1 103 Early Hints\r\nLink: </a.css>\r\n\r\n" + response(b"real"))

    async with (
        serve(handler) as server,
        httpx.AsyncClient(transport=make_transport(kind)) as client,
    ):
        got = await client.get(server.url)
    assert (got.status_code, got.text) == (200, "real")


async def test_response_carries_http_version_reason_and_raw_header_case(kind: str) -> None:
    async def handler(peer: Peer) -> None:
        await peer.read_request()
        await peer.send(response(b"x", status=201, reason="Made It", headers=[("X-Thing", "1")]))

    async with (
        serve(handler) as server,
        httpx.AsyncClient(transport=make_transport(kind)) as client,
    ):
        got = await client.get(server.url)
    assert got.http_version == "HTTP/1.1"
    assert got.reason_phrase == "Made It"
    assert ("X-Thing", "1") in got.headers.multi_items() or got.headers.raw[0][0] == b"X-Thing"


async def test_truncated_content_length_body_raises_remote_protocol_error(kind: str) -> None:
    async def handler(peer: Peer) -> None:
        await peer.read_request()
        await peer.send(b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nshort")

    async with (
        serve(handler) as server,
        httpx.AsyncClient(transport=make_transport(kind)) as client,
    ):
        with pytest.raises(httpx.RemoteProtocolError):
            await client.get(server.url)


async def test_malformed_status_line_raises_remote_protocol_error(kind: str) -> None:
    async def handler(peer: Peer) -> None:
        await peer.read_request()
        await peer.send(b"NOT HTTP AT ALL\r\n\r\n")

    async with (
        serve(handler) as server,
        httpx.AsyncClient(transport=make_transport(kind)) as client,
    ):
        with pytest.raises(httpx.RemoteProtocolError):
            await client.get(server.url)


async def test_large_body_spanning_many_reads_is_intact() -> None:
    payload = bytes(range(256)) * 16 * 1024  # 4 MiB

    async def handler(peer: Peer) -> None:
        await peer.read_request()
        await peer.send(response(payload))

    async with (
        serve(handler) as server,
        httpx.AsyncClient(transport=AsyncPoolTransport()) as client,
    ):
        got = await client.get(server.url)
    assert got.content == payload
