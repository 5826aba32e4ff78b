"""The suite's one async loopback HTTP/1.1 test-server toolkit (127.0.0.1), for what the
emulator cannot stage.

Two levels:

- :func:`serve`: a test gives a handler that plays the server's side of every accepted
  connection (a :class:`Peer`): ``await peer.read_request()`` (parsed with h11, so no test
  hand-parses; None once the client has closed), then ``await peer.send(raw bytes)``, which is
  how chunked, close-delimited, ``Connection: close``, reset and idle-closed responses are
  produced; ``stall()`` holds the connection open, silent, until the client goes away;
  ``reset()`` aborts it. With ``ssl_context`` it speaks TLS. The :class:`Server` counts
  connections (and those the client closed) and records every request it read.
- :func:`scripted_server`: canned :class:`Reply` objects answered in turn on keep-alive
  connections (``drop`` closes instead, ``hang`` never answers), built on :func:`serve`.
- :func:`dropping_proxy`: forwards to a real server (the emulator), counting what clients send,
  and swallows the responses of its first connections; :func:`free_port` is a port nobody
  listens on.

Byte builders: :func:`response`, :func:`chunk` and :func:`chunked`; :func:`serve_forever`
answers every request; :func:`stalling_server` reads once and never again;
:func:`make_certificate` makes a self-signed :class:`Certificate`.

One thread-based server, for calls made from another process or thread (the emulator's queue
consumers and services, the seed-compatibility header recorder): :func:`run_receiver` records
JSON POSTs and answers them as a function says.
"""

from __future__ import annotations

import json
import shutil
import socket
import ssl
import struct
import subprocess
import threading
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager, suppress
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import anyio
import anyio.abc
import anyio.to_thread
import h11
import pytest
from anyio.streams.tls import TLSListener


@dataclass
class Request:
    """A request as the server read it (``complete`` is False if it stopped at a body limit)."""

    method: str
    target: str
    headers: dict[str, str]
    body: bytes
    complete: bool = True

    @property
    def chunked(self) -> bool:
        """Whether the body came chunked."""
        return self.headers.get("transfer-encoding") == "chunked"


class Peer:
    """The server's side of one accepted connection."""

    def __init__(self, stream: anyio.abc.ByteStream, server: Server) -> None:
        self.stream = stream
        self.server = server
        self._buffer = b""
        self.client_closed = anyio.Event()

    @property
    def closed_by_client(self) -> bool:
        """Whether the server has seen the client close this connection."""
        return self.client_closed.is_set()

    async def read_request(self, *, body_limit: int | None = None) -> Request | None:
        """The next request on this connection, or None once the client has closed it; with
        ``body_limit``, stop after that many body bytes (the request is then not ``complete``)."""
        h = h11.Connection(h11.SERVER)
        if self._buffer:  # (an empty feed would mean EOF to h11)
            h.receive_data(self._buffer)
        head: h11.Request | None = None
        body = bytearray()
        while True:
            event = h.next_event()
            if event is h11.NEED_DATA:
                try:
                    data = await self.stream.receive()
                except (anyio.EndOfStream, anyio.BrokenResourceError):
                    data = b""
                if not data and head is None and not h.trailing_data[0]:
                    # A pool closes its idle keep-alive connections when the client shuts down.
                    self.client_closed.set()
                    return None
                h.receive_data(data)
            elif isinstance(event, h11.Request):
                head = event
            elif isinstance(event, h11.Data):
                body += event.data
                if body_limit is not None and len(body) >= body_limit:
                    return self._record(head, body, complete=False)
            elif isinstance(event, h11.EndOfMessage):
                self._buffer = bytes(h.trailing_data[0])
                return self._record(head, body, complete=True)
            elif isinstance(event, h11.ConnectionClosed):
                self.client_closed.set()
                return None

    def _record(self, head: h11.Request | None, body: bytearray, *, complete: bool) -> Request:
        assert head is not None
        request = Request(
            head.method.decode(),
            head.target.decode(),
            {k.decode(): v.decode() for k, v in head.headers},
            bytes(body),
            complete,
        )
        self.server.requests.append(request)
        return request

    async def read_some(self) -> None:
        """Receive once. (On asyncio the socket may go on being read ahead into memory: a test
        that needs a server which stops reading uses :func:`stalling_server`.)"""
        self._buffer += await self.stream.receive()

    async def stall(self) -> None:
        """Send nothing; read (and ignore) until the client closes the connection."""
        while True:
            try:
                if not await self.stream.receive():
                    break
            except (anyio.EndOfStream, anyio.BrokenResourceError, anyio.ClosedResourceError):
                break
        self.client_closed.set()

    async def send(self, data: bytes) -> None:
        """Write exact bytes."""
        await self.stream.send(data)

    async def reset(self) -> None:
        """Abort the connection with a TCP RST (SO_LINGER 0)."""
        sock = self.stream.extra(anyio.abc.SocketAttribute.raw_socket)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        await anyio.aclose_forcefully(self.stream)


Handler = Callable[[Peer], Awaitable[None]]


@dataclass
class Server:
    """A running server on 127.0.0.1 and what it saw."""

    port: int
    tls: bool = False
    connections: int = 0
    requests: list[Request] = field(default_factory=list)
    peers: list[Peer] = field(default_factory=list)
    client_closed: int = 0

    @property
    def url(self) -> str:
        """The server's origin."""
        return f"{'https' if self.tls else 'http'}://127.0.0.1:{self.port}"

    @property
    def base_url(self) -> str:
        """A base URL for AsyncAerostack."""
        return f"{self.url}/v1"


_CLIENT_GONE = (
    anyio.BrokenResourceError,
    anyio.ClosedResourceError,
    anyio.EndOfStream,
    ConnectionError,
    h11.RemoteProtocolError,  # the client gave up mid-request
)


@asynccontextmanager
async def serve(
    handler: Handler, *, port: int = 0, ssl_context: ssl.SSLContext | None = None
) -> AsyncIterator[Server]:
    """Run ``handler`` for every connection to ``port`` (0: a free one) until the block exits."""
    tcp = await anyio.create_tcp_listener(local_host="127.0.0.1", local_port=port)
    server = Server(tcp.extra(anyio.abc.SocketAttribute.local_port), tls=bool(ssl_context))
    listener: anyio.abc.Listener[Any] = (
        TLSListener(tcp, ssl_context, standard_compatible=False) if ssl_context else tcp
    )

    async def one(stream: anyio.abc.ByteStream) -> None:
        server.connections += 1
        peer = Peer(stream, server)
        server.peers.append(peer)
        try:
            async with stream:
                await handler(peer)
        except _CLIENT_GONE:
            pass  # the client going away is what many of these tests do
        finally:
            if peer.closed_by_client:
                server.client_closed += 1

    async with listener, anyio.create_task_group() as tg:
        tg.start_soon(listener.serve, one)
        try:
            yield server
        finally:
            tg.cancel_scope.cancel()


async def serve_forever(peer: Peer, body: bytes = b"ok") -> None:
    """Answer every request on the connection with ``body``, keeping it alive."""
    while await peer.read_request() is not None:
        await peer.send(response(body))


@asynccontextmanager
async def stalling_server() -> AsyncIterator[str]:
    """A server that reads once and then never again, until the block exits; yields its URL.

    A plain blocking socket in a thread: an asyncio server transport reads ahead into memory
    until its first ``receive()`` returns, so it cannot be trusted to stop reading.
    """
    listener = socket.create_server(("127.0.0.1", 0))
    done = threading.Event()

    def run() -> None:
        listener.settimeout(10)
        try:
            conn, _ = listener.accept()
        except OSError:
            return
        with conn:
            conn.recv(65536)
            done.wait(30)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{listener.getsockname()[1]}"
    finally:
        done.set()
        listener.close()
        await anyio.to_thread.run_sync(thread.join)


# --- exact bytes --------------------------------------------------------------------------


def response(
    body: bytes = b"",
    *,
    status: int = 200,
    reason: str = "OK",
    headers: list[tuple[str, str]] | None = None,
    content_type: str | None = None,
    length: bool | int = True,
    chunked: bool = False,
    version: str = "1.1",
) -> bytes:
    """Exact response bytes: a status line, headers, and the body (unless ``chunked``, when
    only the head is built and the test sends :func:`chunk` pieces). ``length``: True sends the
    body's Content-Length, a number sends that one, False none (a close-delimited body)."""
    lines = [f"HTTP/{version} {status} {reason}"]
    lines += [f"{name}: {value}" for name, value in headers or []]
    if content_type is not None:
        lines.append(f"Content-Type: {content_type}")
    if chunked:
        lines.append("Transfer-Encoding: chunked")
    elif length is not False:
        lines.append(f"Content-Length: {len(body) if length is True else length}")
    head = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
    return head if chunked else head + body


def chunk(data: bytes) -> bytes:
    """One chunk of a chunked body (``b""`` gives the last chunk)."""
    return b"%x\r\n%s\r\n" % (len(data), data)


def chunked(*pieces: bytes) -> bytes:
    """A whole chunked body: each piece as one chunk, then the last chunk."""
    return b"".join(chunk(piece) for piece in pieces) + chunk(b"")


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
        return response(
            self.body,
            status=self.status,
            reason="",
            headers=self.headers,
            content_type="application/json",
        )


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

    async def handle(self, peer: Peer) -> None:
        """Answer requests on one keep-alive connection until either side closes it."""
        while (request := await peer.read_request()) is not None:
            headers = {name.lower(): value for name, value in request.headers.items()}
            self.received.append(Received(request.method, request.target, headers, request.body))
            reply = self._next()
            if reply.drop:
                return
            if reply.hang:
                await anyio.sleep_forever()
            await peer.send(reply.encode())
            closing = [v for k, v in reply.headers if k.lower() == "connection"]
            if headers.get("connection", "").lower() == "close" or "close" in closing:
                return


@asynccontextmanager
async def scripted_server(*replies: Reply, port: int = 0) -> AsyncIterator[ScriptedServer]:
    """Serve ``replies`` on 127.0.0.1 (a free port unless ``port`` is given)."""
    scripted: ScriptedServer | None = None

    async def handle(peer: Peer) -> None:
        assert scripted is not None
        await scripted.handle(peer)

    async with serve(handle, port=port) as server:
        scripted = ScriptedServer(server, list(replies) or [Reply()])
        yield scripted


# --- certificates -------------------------------------------------------------------------


@dataclass
class Certificate:
    """A self-signed certificate for 127.0.0.1 and localhost."""

    cert: Path
    key: Path

    def server_context(self) -> ssl.SSLContext:
        """A server-side context presenting the certificate."""
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(self.cert, self.key)
        return context

    def client_context(self) -> ssl.SSLContext:
        """A client-side context trusting only the certificate."""
        return ssl.create_default_context(cafile=str(self.cert))


def make_certificate(folder: Path, name: str, alt_names: str) -> Certificate:
    """A self-signed certificate made with the openssl command (``trustme`` is not installed)."""
    openssl = shutil.which("openssl")
    if openssl is None:
        pytest.skip("the openssl command is needed to make a test certificate")
    cert, key = folder / f"{name}.pem", folder / f"{name}.key"
    subprocess.run(
        [
            openssl,
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
            "-days",
            "2",
            "-subj",
            f"/CN={name}",
            "-addext",
            f"subjectAltName={alt_names}",
            "-keyout",
            str(key),
            "-out",
            str(cert),
        ],
        check=True,
        capture_output=True,
    )
    return Certificate(cert=cert, key=key)


# -- a thread-based recording server --------------------------------------------------------

# Given the request path and JSON body, return (status, reply body).
Answer = Callable[[str, Any], tuple[int, Any]]


@dataclass
class Recorded:
    """One request the receiver got, with the wall-clock time it arrived."""

    path: str
    body: Any
    headers: dict[str, str]
    at: float


@dataclass
class Receiver:
    """A running receiver: its URL and what it received."""

    url: str
    received: list[Recorded] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def wait_for(self, predicate: Callable[[Recorded], bool], timeout: float = 20.0) -> Recorded:
        """The first received request matching ``predicate`` (polling up to ``timeout``)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.lock:
                for item in self.received:
                    if predicate(item):
                        return item
            time.sleep(0.02)
        raise AssertionError("the receiver did not get the expected request in time")


@contextmanager
def run_receiver(reply: Answer) -> Iterator[Receiver]:
    """Serve on a free loopback port until the block ends."""
    receiver_ref: list[Receiver] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length", "0"))
            raw = self.rfile.read(length)
            body = json.loads(raw) if raw else None
            receiver = receiver_ref[0]
            with receiver.lock:
                receiver.received.append(
                    Recorded(self.path, body, dict(self.headers.items()), time.time())
                )
            status, answer = reply(self.path, body)
            payload = answer if isinstance(answer, bytes) else json.dumps(answer).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    receiver_ref.append(Receiver(f"http://127.0.0.1:{server.server_address[1]}"))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield receiver_ref[0]
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


# -- a proxy that drops responses -----------------------------------------------------------


@dataclass
class DroppingProxy:
    """A TCP proxy to a real server that swallows the responses of its first connections.

    ``forwarded`` holds what clients sent (unless ``record=False``); ``sent`` counts it.
    """

    port: int
    drop_first: int
    connections: int = 0
    dropped: int = 0
    record: bool = True
    sent: int = 0
    forwarded: bytearray = field(default_factory=bytearray)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"


@asynccontextmanager
async def dropping_proxy(
    upstream_port: int, *, drop_first: int = 1, record: bool = True
) -> AsyncIterator[DroppingProxy]:
    """Forward to ``127.0.0.1:upstream_port``; on the first ``drop_first`` connections, wait for
    the upstream's response (so the server has handled the request), then close the client's
    connection without passing it on."""
    listener = await anyio.create_tcp_listener(local_host="127.0.0.1")
    proxy = DroppingProxy(
        listener.extra(anyio.abc.SocketAttribute.local_port), drop_first, record=record
    )

    async def handle(client: anyio.abc.SocketStream) -> None:
        drop = proxy.connections < proxy.drop_first
        proxy.connections += 1
        upstream = await anyio.connect_tcp("127.0.0.1", upstream_port)
        async with client, upstream, anyio.create_task_group() as tg:

            async def pump_up() -> None:
                with suppress(
                    anyio.EndOfStream, anyio.BrokenResourceError, anyio.ClosedResourceError
                ):
                    async for chunk in client:
                        proxy.sent += len(chunk)
                        if proxy.record:
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
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])
