"""Servers for the client tests: the suite's loopback toolkit, plus a response-dropping proxy.

``scripted_server`` (from ``tests/_loopback.py``, re-exported here) answers each request with
the next scripted :class:`Reply` (the last one repeats); ``dropping_proxy`` forwards to a real
server but swallows the first responses.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress
from dataclasses import dataclass, field

import anyio
from anyio.abc import SocketAttribute, SocketStream

from .._loopback import Received, Reply, ScriptedServer, scripted_server

_GONE = (anyio.EndOfStream, anyio.BrokenResourceError, anyio.ClosedResourceError)


@dataclass
class DroppingProxy:
    """A TCP proxy to a real server that swallows the responses of its first connections."""

    port: int
    drop_first: int
    connections: int = 0
    dropped: int = 0
    forwarded: bytearray = field(default_factory=bytearray)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"


@asynccontextmanager
async def dropping_proxy(
    upstream_port: int, *, drop_first: int = 1
) -> AsyncIterator[DroppingProxy]:
    """Forward to ``127.0.0.1:upstream_port``; on the first ``drop_first`` connections, wait for
    the upstream's response (so the server has handled the request), then close the client's
    connection without passing it on."""
    listener = await anyio.create_tcp_listener(local_host="127.0.0.1")
    proxy = DroppingProxy(listener.extra(SocketAttribute.local_port), drop_first)

    async def handle(client: SocketStream) -> None:
        drop = proxy.connections < proxy.drop_first
        proxy.connections += 1
        upstream = await anyio.connect_tcp("127.0.0.1", upstream_port)
        async with client, upstream, anyio.create_task_group() as tg:

            async def pump_up() -> None:
                with suppress(
                    anyio.EndOfStream, anyio.BrokenResourceError, anyio.ClosedResourceError
                ):
                    async for chunk in client:
                        proxy.forwarded += chunk
                        await upstream.send(chunk)
                tg.cancel_scope.cancel()

            async def pump_down() -> None:
                with suppress(
                    anyio.EndOfStream, anyio.BrokenResourceError, anyio.ClosedResourceError
                ):
                    async for chunk in upstream:
                        if drop:
                            proxy.dropped += 1
                            break
                        await client.send(chunk)
                tg.cancel_scope.cancel()

            tg.start_soon(pump_up)
            tg.start_soon(pump_down)

    async with listener, anyio.create_task_group() as tg:
        tg.start_soon(listener.serve, handle)
        try:
            yield proxy
        finally:
            tg.cancel_scope.cancel()


def free_port() -> int:
    """A port nothing listens on (bound, then released)."""
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


__all__ = [
    "DroppingProxy",
    "Received",
    "Reply",
    "ScriptedServer",
    "dropping_proxy",
    "free_port",
    "scripted_server",
]
