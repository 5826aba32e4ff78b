"""Header injection: a name or value that could split a request is refused before it is sent."""

from __future__ import annotations

import httpx
import pytest

from aerostack_async._pool import AsyncPoolTransport

from .._loopback import Peer, serve, serve_forever
from ._kinds import make_transport

pytestmark = pytest.mark.anyio

SECRET = "sk_live_do_not_print"


async def handler(peer: Peer) -> None:
    await serve_forever(peer)


@pytest.mark.parametrize(
    "headers",
    [
        pytest.param({"X-Token": f"{SECRET}\r\nX-Injected: yes"}, id="crlf-in-value"),
        pytest.param({"X-Token": f"{SECRET}\n"}, id="trailing-lf-in-value"),
        pytest.param({"X-Token": f"{SECRET}\rX"}, id="cr-in-value"),
        pytest.param({"X-Token": f"{SECRET}\x00"}, id="nul-in-value"),
        pytest.param({"X-Bad\r\nX-Injected": "yes"}, id="crlf-in-name"),
        pytest.param({"X Bad": "yes"}, id="space-in-name"),
        pytest.param({"X-Bad:": "yes"}, id="colon-in-name"),
    ],
)
async def test_injection_attempt_raises_before_anything_is_sent(
    kind: str, headers: dict[str, str]
) -> None:
    async with (
        serve(handler) as server,
        httpx.AsyncClient(transport=make_transport(kind)) as client,
    ):
        with pytest.raises(httpx.LocalProtocolError):
            await client.get(server.url, headers=headers)
        assert (await client.get(server.url)).text == "ok"
    assert len(server.requests) == 1


async def test_injection_attempt_is_refused_before_a_connection_is_taken() -> None:
    async with (
        serve(handler) as server,
        httpx.AsyncClient(transport=AsyncPoolTransport()) as client,
    ):
        with pytest.raises(httpx.LocalProtocolError):
            await client.get(server.url, headers={"X-A": "b\r\nc: d"})
    assert server.connections == 0


async def test_injection_error_names_the_header_but_not_its_value() -> None:
    async with (
        serve(handler) as server,
        httpx.AsyncClient(transport=AsyncPoolTransport()) as client,
    ):
        with pytest.raises(httpx.LocalProtocolError) as caught:
            await client.get(server.url, headers={"Authorization": f"Bearer {SECRET}\n"})
    assert "authorization" in str(caught.value).lower()
    assert SECRET not in str(caught.value)
    assert SECRET not in repr(caught.value.__cause__) if caught.value.__cause__ else True


async def test_injection_attempt_on_a_pooled_connection_leaves_it_reusable() -> None:
    transport = AsyncPoolTransport()
    async with (
        serve(handler) as server,
        httpx.AsyncClient(transport=transport) as client,
    ):
        await client.get(server.url)
        with pytest.raises(httpx.LocalProtocolError):
            await client.get(server.url, headers={"X-A": "b\r\nc: d"})
        await client.get(server.url)
        assert transport.slots.in_use == 0
    assert server.connections == 1
    assert len(server.requests) == 2


async def test_invalid_method_raises_before_anything_is_sent(kind: str) -> None:
    async with (
        serve(handler) as server,
        httpx.AsyncClient(transport=make_transport(kind)) as client,
    ):
        with pytest.raises(httpx.LocalProtocolError):
            await client.request("GET /evil HTTP/1.1\r\nX:", server.url)
    assert server.requests == []
