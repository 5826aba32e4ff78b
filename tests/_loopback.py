"""The suite's loopback HTTP/1.1 test servers (127.0.0.1), for what the emulator cannot stage.

Two levels, one toolkit:

- :func:`serve`: a test gives a handler that plays one connection: ``await
  conn.read_request()`` (parsed with h11), then ``await conn.send(raw bytes)``; ``stall()``
  holds the connection open, silent, until the client goes away; ``reset()`` aborts it. The
  server counts connections and records every request it read.
- :func:`scripted_server`: canned :class:`Reply` objects answered in turn on keep-alive
  connections (``drop`` closes instead, ``hang`` never answers), built on :func:`serve`.

(Thread-based servers for synchronous tests: ``tests/_receiver.py``. The transport
conformance suite's byte-exact peers: ``tests/transport/conftest.py``.)
"""

from __future__ import annotations

import contextlib
import socket
import struct
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

import anyio
import anyio.abc
import h11


@dataclass
class Request:
    """A request as the server read it (``complete`` is False if the client stopped mid-body)."""

    method: str
    target: str
    headers: dict[str, str]
    body: bytes
    complete: bool


class ClientClosed(Exception):
    """The client closed the connection before sending (another) request: the handler is done."""


class Connection:
    """The server's end of one connection."""

    def __init__(self, stream: anyio.abc.SocketStream, server: Server) -> None:
        self.stream = stream
        self.server = server

    async def read_request(self, *, body_limit: int | None = None) -> Request:
        """Read one request; with ``body_limit``, stop after that many body bytes."""
        h = h11.Connection(h11.SERVER)
        head: h11.Request | None = None
        body = bytearray()
        while True:
            event = h.next_event()
            if event is h11.NEED_DATA:
                try:
                    h.receive_data(await self.stream.receive())
                except (anyio.EndOfStream, anyio.BrokenResourceError):
                    h.receive_data(b"")
            elif isinstance(event, h11.Request):
                head = event
            elif isinstance(event, h11.Data):
                body += event.data
                if body_limit is not None and len(body) >= body_limit:
                    return self._record(head, body, complete=False)
            elif isinstance(event, h11.EndOfMessage):
                return self._record(head, body, complete=True)
            elif isinstance(event, h11.ConnectionClosed):
                return self._record(head, body, complete=False)

    def _record(self, head: h11.Request | None, body: bytearray, *, complete: bool) -> Request:
        if head is None:
            # A pool closes its idle keep-alive connections when the client shuts down.
            raise ClientClosed
        request = Request(
            head.method.decode(),
            head.target.decode(),
            {k.decode(): v.decode() for k, v in head.headers},
            bytes(body),
            complete,
        )
        self.server.requests.append(request)
        return request

    async def send(self, data: bytes) -> None:
        """Write exact bytes."""
        await self.stream.send(data)

    async def stall(self) -> None:
        """Send nothing, and return once the client has closed the connection."""
        while True:
            try:
                if not await self.stream.receive():
                    return
            except (anyio.EndOfStream, anyio.BrokenResourceError, anyio.ClosedResourceError):
                return

    async def reset(self) -> None:
        """Abort with a TCP RST."""
        sock = self.stream.extra(anyio.abc.SocketAttribute.raw_socket)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        await anyio.aclose_forcefully(self.stream)


@dataclass
class Server:
    """A running server and what it saw."""

    port: int
    requests: list[Request] = field(default_factory=list)
    connections: int = 0

    @property
    def base_url(self) -> str:
        """A base URL for AsyncAerostack."""
        return f"http://127.0.0.1:{self.port}/v1"


Handler = Callable[[Connection], Awaitable[None]]


@asynccontextmanager
async def serve(handler: Handler, *, port: int = 0) -> AsyncIterator[Server]:
    """Run ``handler`` for every connection to ``port`` (0: a free one) until the block exits."""
    listener = await anyio.create_tcp_listener(local_host="127.0.0.1", local_port=port)
    server = Server(listener.extra(anyio.abc.SocketAttribute.local_port))

    async def one(stream: anyio.abc.SocketStream) -> None:
        server.connections += 1
        # The client going away is what many of these tests do.
        with contextlib.suppress(
            anyio.BrokenResourceError, anyio.ClosedResourceError, ConnectionError, ClientClosed
        ):
            async with stream:
                await handler(Connection(stream, server))

    async with listener, anyio.create_task_group() as tg:
        tg.start_soon(listener.serve, one)
        try:
            yield server
        finally:
            tg.cancel_scope.cancel()


def http_response(
    body: bytes = b"",
    *,
    status: int = 200,
    content_type: str = "application/json",
    length: int | None = None,
    chunked: bool = False,
) -> bytes:
    """Exact response head (and body unless ``chunked``): Content-Length is ``length`` or the
    body's size."""
    lines = [f"HTTP/1.1 {status} X", f"Content-Type: {content_type}"]
    if chunked:
        lines.append("Transfer-Encoding: chunked")
    else:
        lines.append(f"Content-Length: {len(body) if length is None else length}")
    head = ("\r\n".join(lines) + "\r\n\r\n").encode()
    return head if chunked else head + body


def chunk(data: bytes) -> bytes:
    """One chunk of a chunked body (``b""`` gives the last chunk)."""
    return b"%x\r\n%s\r\n" % (len(data), data)


# --- scripted replies ---------------------------------------------------------------------


@dataclass
class Reply:
    """One scripted answer; ``drop`` closes the connection instead, ``hang`` never answers."""

    status: int = 200
    body: bytes = b"{}"
    headers: list[tuple[str, str]] = field(default_factory=list)
    drop: bool = False
    hang: bool = False

    def encode(self) -> bytes:
        """The response's bytes (no reason phrase, as the tests expect; JSON content type)."""
        lines = [f"HTTP/1.1 {self.status} ", f"content-length: {len(self.body)}"]
        lines += [f"{name}: {value}" for name, value in self.headers]
        lines.append("content-type: application/json")
        return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + self.body


@dataclass
class Received:
    """A request as the scripted server saw it (header names lowercased)."""

    method: str
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class ScriptedServer:
    """The running scripted server: where it listens and what it received."""

    server: Server
    replies: list[Reply]
    received: list[Received] = field(default_factory=list)

    @property
    def port(self) -> int:
        return self.server.port

    @property
    def base_url(self) -> str:
        return self.server.base_url

    def _next(self) -> Reply:
        return self.replies.pop(0) if len(self.replies) > 1 else self.replies[0]

    async def handle(self, conn: Connection) -> None:
        """Answer requests on one keep-alive connection until either side closes it."""
        while True:
            request = await conn.read_request()
            if not request.complete:
                return
            headers = {name.lower(): value for name, value in request.headers.items()}
            self.received.append(Received(request.method, request.target, headers, request.body))
            reply = self._next()
            if reply.drop:
                return
            if reply.hang:
                await anyio.sleep_forever()
            await conn.send(reply.encode())
            closing = [v for k, v in reply.headers if k.lower() == "connection"]
            if headers.get("connection", "").lower() == "close" or "close" in closing:
                return


@asynccontextmanager
async def scripted_server(*replies: Reply, port: int = 0) -> AsyncIterator[ScriptedServer]:
    """Serve ``replies`` on 127.0.0.1 (a free port unless ``port`` is given)."""
    scripted: ScriptedServer | None = None

    async def handle(conn: Connection) -> None:
        assert scripted is not None
        await scripted.handle(conn)

    async with serve(handle, port=port) as server:
        scripted = ScriptedServer(server, list(replies) or [Reply()])
        yield scripted
