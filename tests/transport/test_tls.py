"""TLS: verified connections to a local server with a throw-away self-signed certificate."""

from __future__ import annotations

import anyio
import httpx
import pytest

from aerostack_async._pool import AsyncPoolTransport

from .._loopback import Certificate, Peer, serve, serve_forever
from ._kinds import make_transport

pytestmark = pytest.mark.anyio


async def handler(peer: Peer) -> None:
    await serve_forever(peer, b"secure")


async def test_https_request_verifies_the_certificate_and_reuses_the_connection(
    kind: str, certificate: Certificate
) -> None:
    transport = make_transport(kind, verify=certificate.client_context())
    async with (
        serve(handler, ssl_context=certificate.server_context()) as server,
        httpx.AsyncClient(transport=transport) as client,
    ):
        first = await client.get(server.url)
        second = await client.get(server.url)
    assert first.text == second.text == "secure"
    assert server.connections == 1


async def test_untrusted_certificate_raises_connect_error(
    kind: str, certificate: Certificate
) -> None:
    async with (
        serve(handler, ssl_context=certificate.server_context()) as server,
        httpx.AsyncClient(transport=make_transport(kind)) as client,
    ):
        with pytest.raises(httpx.ConnectError):
            await client.get(server.url)
        if kind == "ours":
            slots = client._transport.slots  # type: ignore[attr-defined]
            assert (slots.in_use, slots.total) == (0, 0)


async def test_verify_false_accepts_the_untrusted_certificate(
    kind: str, certificate: Certificate
) -> None:
    async with (
        serve(handler, ssl_context=certificate.server_context()) as server,
        httpx.AsyncClient(transport=make_transport(kind, verify=False)) as client,
    ):
        assert (await client.get(server.url)).text == "secure"


async def test_certificate_for_another_name_raises_connect_error(
    kind: str, other_certificate: Certificate
) -> None:
    transport = make_transport(kind, verify=other_certificate.client_context())
    async with (
        serve(handler, ssl_context=other_certificate.server_context()) as server,
        httpx.AsyncClient(transport=transport) as client,
    ):
        with pytest.raises(httpx.ConnectError):
            await client.get(server.url)


async def test_certificate_is_matched_by_dns_name(certificate: Certificate) -> None:
    transport = AsyncPoolTransport(verify=certificate.client_context())
    async with (
        serve(handler, ssl_context=certificate.server_context()) as server,
        httpx.AsyncClient(transport=transport) as client,
    ):
        assert (await client.get(f"https://localhost:{server.port}")).text == "secure"


async def test_tls_connection_dropped_while_idle_is_replaced_via_retry(
    certificate: Certificate,
) -> None:
    dropped = anyio.Event()

    async def drop_first(peer: Peer) -> None:
        if peer.server.connections == 1:
            await peer.read_request()
            await peer.send(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nfirst")
            await peer.stream.aclose()
            dropped.set()
        else:
            await serve_forever(peer, b"second")

    transport = AsyncPoolTransport(verify=certificate.client_context())
    async with (
        serve(drop_first, ssl_context=certificate.server_context()) as server,
        httpx.AsyncClient(transport=transport) as client,
    ):
        assert (await client.get(server.url)).text == "first"
        await dropped.wait()
        assert (await client.get(server.url)).text == "second"
        assert (transport.slots.in_use, transport.open_connections) == (0, 1)
