"""Small misbehaving servers on 127.0.0.1 for retry and redirect tests (real sockets, no mocks).

``scripted_server`` answers each request with the next scripted :class:`Reply` (the last one
repeats); ``dropping_proxy`` forwards to a real server but swallows the first responses.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress
from dataclasses import dataclass, field

import anyio
import h11
from anyio.abc import SocketAttribute, SocketStream


@dataclass
class Reply:
    """One scripted answer; ``drop`` closes the connection instead, ``hang`` never answers."""

    status: int = 200
    body: bytes = b"{}"
    headers: list[tuple[str, str]] = field(default_factory=list)
    drop: bool = False
    hang: bool = False


@dataclass
class Received:
    """A request as the server saw it."""

    method: str
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class ScriptedServer:
    """The running server: where it listens and what it received."""

    port: int
    replies: list[Reply]
    received: list[Received] = field(default_factory=list)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def _next(self) -> Reply:
        return self.replies.pop(0) if len(self.replies) > 1 else self.replies[0]

    async def handle(self, stream: SocketStream) -> None:
        async with stream:
            conn = h11.Connection(h11.SERVER)
            with suppress(anyio.EndOfStream, anyio.BrokenResourceError, h11.ProtocolError):
                while True:
                    request = await _read_request(conn, stream)
                    if request is None:
                        return
                    self.received.append(request)
                    reply = self._next()
                    if reply.drop:
                        return
                    if reply.hang:
                        await anyio.sleep_forever()
                    headers = [("content-length", str(len(reply.body))), *reply.headers]
                    headers.append(("content-type", "application/json"))
                    data = conn.send(h11.Response(status_code=reply.status, headers=headers))
                    data += conn.send(h11.Data(data=reply.body)) + conn.send(h11.EndOfMessage())
                    await stream.send(data)
                    if conn.our_state is not h11.DONE or conn.their_state is not h11.DONE:
                        return
                    conn.start_next_cycle()


async def _read_request(conn: h11.Connection, stream: SocketStream) -> Received | None:
    request: h11.Request | None = None
    body = b""
    while True:
        event = conn.next_event()
        if event is h11.NEED_DATA:
            try:
                conn.receive_data(await stream.receive())
            except anyio.EndOfStream:
                return None
            continue
        if isinstance(event, h11.Request):
            request = event
        elif isinstance(event, h11.Data):
            body += bytes(event.data)
        elif isinstance(event, h11.EndOfMessage):
            assert request is not None
            headers = {k.decode().lower(): v.decode() for k, v in request.headers}
            return Received(request.method.decode(), request.target.decode(), headers, body)
        elif isinstance(event, h11.ConnectionClosed):
            return None


@asynccontextmanager
async def scripted_server(*replies: Reply, port: int = 0) -> AsyncIterator[ScriptedServer]:
    """Serve ``replies`` on 127.0.0.1 (a free port unless ``port`` is given)."""
    listener = await anyio.create_tcp_listener(local_host="127.0.0.1", local_port=port)
    bound = listener.extra(SocketAttribute.local_port)
    server = ScriptedServer(bound, list(replies) or [Reply()])
    async with listener, anyio.create_task_group() as tg:
        tg.start_soon(listener.serve, server.handle)
        try:
            yield server
        finally:
            tg.cancel_scope.cancel()


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
