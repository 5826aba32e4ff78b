"""A request that may have reached the server is never sent again by the pool, unless safe.

The server here reads a second request on a kept-alive connection and closes the connection
without answering: exactly what a server does that drops idle connections just as one is reused,
except that this one has received, and may have acted on, the request. httpx's own transport
never sends such a request again; ours sends it again on a new connection only if its method is
safe (GET, HEAD, OPTIONS, TRACE: RFC 9110 section 9.2.2) and its body can be replayed.
"""

from __future__ import annotations

import httpx
import pytest

from .._loopback import Peer, response, serve, serve_forever
from ._kinds import make_transport

pytestmark = pytest.mark.anyio


async def reads_then_closes(peer: Peer) -> None:
    """First connection: answer one request, read the next, close unanswered. Later: serve."""
    if peer.server.connections > 1:
        await serve_forever(peer, b"again")
        return
    await peer.read_request()
    await peer.send(response(b"first"))
    await peer.read_request()  # then the connection closes: no answer


async def reads_then_resets(peer: Peer) -> None:
    """As :func:`reads_then_closes`, but the connection ends with a TCP reset."""
    if peer.server.connections > 1:
        await serve_forever(peer, b"again")
        return
    await peer.read_request()
    await peer.send(response(b"first"))
    await peer.read_request()
    await peer.reset()


@pytest.mark.parametrize("handler", [reads_then_closes, reads_then_resets])
@pytest.mark.parametrize("method", ["POST", "PUT", "PATCH", "DELETE"])
async def test_a_request_the_server_read_is_not_sent_again(
    kind: str, method: str, handler: object
) -> None:
    async with (
        serve(handler) as server,  # type: ignore[arg-type]
        httpx.AsyncClient(transport=make_transport(kind), timeout=10) as client,
    ):
        first = await client.request(method, server.url, content=b"{}")
        assert first.text == "first"
        with pytest.raises((httpx.RemoteProtocolError, httpx.ReadError)):
            await client.request(method, server.url, content=b'{"n": 2}')
    assert [r.body for r in server.requests] == [b"{}", b'{"n": 2}']  # once each
    assert server.connections == 1


@pytest.mark.parametrize("method", ["GET", "OPTIONS"])
async def test_a_safe_request_is_sent_again_on_a_new_connection(method: str) -> None:
    async with (
        serve(reads_then_closes) as server,
        httpx.AsyncClient(transport=make_transport("ours"), timeout=10) as client,
    ):
        await client.request(method, server.url)
        again = await client.request(method, server.url)
    assert again.status_code == 200
    assert [r.method for r in server.requests] == [method] * 3
    assert server.connections == 2
