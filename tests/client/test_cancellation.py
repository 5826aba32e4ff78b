"""Cancelling callers mid-flight leaves the pool clean and usable."""

from __future__ import annotations

import os

import anyio
import httpx
import psutil
import pytest

from aerostack_async import AsyncAerostack, Limits
from aerostack_async.testing import Emulator

from .conftest import ClientFactory

pytestmark = pytest.mark.anyio


def _open_connections_to(port: int) -> int:
    """Our process's TCP connections to ``port`` that are still established."""
    me = psutil.Process()
    return sum(
        1
        for conn in me.net_connections(kind="tcp")
        if conn.raddr and conn.raddr.port == port and conn.status == psutil.CONN_ESTABLISHED
    )


async def _hundred_requests(client: AsyncAerostack, unique: str) -> None:
    async with anyio.create_task_group() as tg:
        for i in range(100):
            if i % 10 == 0:
                tg.start_soon(client.ai.chat, "a slower request")
            else:
                tg.start_soon(client.cache.get, f"{unique}:{i}")


async def test_cancelled_requests_leave_no_leaked_connection(
    emulator: Emulator,
    make_client: ClientFactory,
    unique: str,
    anyio_backend: tuple[str, object],
    request: pytest.FixtureRequest,
) -> None:
    port = int(emulator.origin.rsplit(":", 1)[1])
    client = make_client(limits=Limits(max_connections=2, max_keepalive_connections=2))
    # The client-facing suites' second pass (AEROSTACK_HTTP_TRANSPORT=httpx) runs on httpcore.
    on_httpcore = os.environ.get("AEROSTACK_HTTP_TRANSPORT") == "httpx"
    if on_httpcore and anyio_backend[0] == "trio":
        # Seen once in CI-like runs: httpcore's pool can keep a cancelled connection on trio too.
        request.applymarker(
            pytest.mark.xfail(strict=False, reason="httpcore's pool under cancellation (#1093)")
        )
    if on_httpcore and anyio_backend[0] == "asyncio":
        pytest.xfail(
            "httpcore 1.0.9 on asyncio: a request cancelled while its new connection is being "
            "made leaves that connection in the pool forever (encode/httpcore#1093); our own "
            "pool (aerostack_async._pool, the default) does not"
        )
    # Cancel at several moments, so that some requests wait for the pool, some are being
    # written and some are waiting for their response when the scope is cancelled.
    for seconds in (0.0, 0.002, 0.01, 0.03, 0.1):
        with anyio.move_on_after(seconds):
            await _hundred_requests(client, unique)

    results = []
    async with anyio.create_task_group() as tg:

        async def one(i: int) -> None:
            results.append(await client.cache.get(f"{unique}:after:{i}"))

        for i in range(20):
            tg.start_soon(one, i)
    assert len(results) == 20
    assert not any(r.exists for r in results)
    assert _open_connections_to(port) <= 2


async def test_cancelled_requests_leave_our_pool_transport_clean(
    emulator: Emulator, make_client: ClientFactory, unique: str
) -> None:
    from aerostack_async._pool import AsyncPoolTransport

    port = int(emulator.origin.rsplit(":", 1)[1])
    limits = httpx.Limits(max_connections=2, max_keepalive_connections=2)
    async with httpx.AsyncClient(transport=AsyncPoolTransport(limits=limits)) as http:
        client = make_client(http_client=http)
        for seconds in (0.0, 0.002, 0.01, 0.03, 0.1):
            with anyio.move_on_after(seconds):
                await _hundred_requests(client, unique)
        async with anyio.create_task_group() as tg:
            for i in range(20):
                tg.start_soon(client.cache.get, f"{unique}:after:{i}")
        assert not (await client.cache.get(f"{unique}:last")).exists
        assert _open_connections_to(port) <= 2
