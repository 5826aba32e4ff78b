"""Purpose-built HTTP/1.1 servers for the transport conformance suite.

Each test passes a handler that plays the server's side of every accepted connection: it reads
requests (parsed with h11, so the tests do not hand-parse either) and writes exact bytes, which is
how chunked, close-delimited, ``Connection: close``, reset and idle-closed responses are produced.
"""

from __future__ import annotations

import shutil
import socket
import ssl
import struct
import subprocess
import threading
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import anyio
import anyio.abc
import anyio.to_thread
import h11
import httpx
import pytest
from anyio.streams.tls import TLSListener

from aerostack_async._pool import AsyncPoolTransport
from aerostack_async._pool._codec import PARSER_ENV
from aerostack_async._pool._transport import STREAM_ENV


@dataclass
class Received:
    """One request as the server read it."""

    method: str
    target: str
    headers: dict[str, str]
    body: bytes
    chunked: bool


class Peer:
    """The server's side of one accepted connection."""

    def __init__(self, stream: anyio.abc.ByteStream, server: RawServer) -> None:
        self.stream = stream
        self.server = server
        self._buffer = b""
        self.client_closed = anyio.Event()

    @property
    def closed_by_client(self) -> bool:
        """Whether the server has seen the client close this connection."""
        return self.client_closed.is_set()

    async def read_request(self) -> Received | None:
        """The next request on this connection, or None once the client has closed it."""
        h = h11.Connection(h11.SERVER)
        if self._buffer:  # (an empty feed would mean EOF to h11)
            h.receive_data(self._buffer)
        request: h11.Request | None = None
        body = bytearray()
        while True:
            event = h.next_event()
            if event is h11.NEED_DATA:
                try:
                    data = await self.stream.receive()
                except (anyio.EndOfStream, anyio.BrokenResourceError):
                    data = b""
                if not data and request is None and not h.trailing_data[0]:
                    self.client_closed.set()
                    return None
                h.receive_data(data)
            elif isinstance(event, h11.Request):
                request = event
            elif isinstance(event, h11.Data):
                body += event.data
            elif isinstance(event, h11.EndOfMessage):
                assert request is not None
                self._buffer = bytes(h.trailing_data[0])
                headers = {k.decode(): v.decode() for k, v in request.headers}
                received = Received(
                    method=request.method.decode(),
                    target=request.target.decode(),
                    headers=headers,
                    body=bytes(body),
                    chunked=headers.get("transfer-encoding") == "chunked",
                )
                self.server.requests.append(received)
                return received
            elif isinstance(event, h11.ConnectionClosed):
                self.client_closed.set()
                return None

    async def read_some(self) -> None:
        """Receive once. (On asyncio the socket may go on being read ahead into memory: a test
        that needs a server which stops reading uses :func:`stalling_server`.)"""
        self._buffer += await self.stream.receive()

    async def wait_closed_by_client(self) -> None:
        """Read (and ignore) until the client closes the connection."""
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
class RawServer:
    """A server on 127.0.0.1 and what it saw."""

    port: int
    tls: bool
    connections: int = 0
    requests: list[Received] = field(default_factory=list)
    peers: list[Peer] = field(default_factory=list)
    client_closed: int = 0

    @property
    def url(self) -> str:
        """The server's base URL."""
        return f"{'https' if self.tls else 'http'}://127.0.0.1:{self.port}"


_CLIENT_GONE = (
    anyio.BrokenResourceError,
    anyio.ClosedResourceError,
    anyio.EndOfStream,
    ConnectionError,
    h11.RemoteProtocolError,  # the client gave up mid-request
)


@asynccontextmanager
async def raw_server(
    handler: Handler, *, ssl_context: ssl.SSLContext | None = None
) -> AsyncIterator[RawServer]:
    """Serve ``handler`` on a free port until the block exits."""
    tcp = await anyio.create_tcp_listener(local_host="127.0.0.1")
    server = RawServer(port=tcp.extra(anyio.abc.SocketAttribute.local_port), tls=bool(ssl_context))
    listener: anyio.abc.Listener[Any] = (
        TLSListener(tcp, ssl_context, standard_compatible=False) if ssl_context else tcp
    )

    async def serve_one(stream: anyio.abc.ByteStream) -> None:
        server.connections += 1
        peer = Peer(stream, server)
        server.peers.append(peer)
        try:
            async with stream:
                await handler(peer)
        except _CLIENT_GONE:
            pass
        finally:
            if peer.closed_by_client:
                server.client_closed += 1

    async with listener, anyio.create_task_group() as tg:
        tg.start_soon(listener.serve, serve_one)
        try:
            yield server
        finally:
            tg.cancel_scope.cancel()


@asynccontextmanager
async def stalling_server() -> AsyncIterator[str]:
    """A server that reads once and then never again, until the block exits; yields its URL.

    A plain blocking socket in a thread: an asyncio server transport reads ahead into memory
    until its first ``receive()`` returns, so it cannot be trusted to stop reading.
    """
    listener = socket.create_server(("127.0.0.1", 0))
    done = threading.Event()

    def serve() -> None:
        listener.settimeout(10)
        try:
            conn, _ = listener.accept()
        except OSError:
            return
        with conn:
            conn.recv(65536)
            done.wait(30)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{listener.getsockname()[1]}"
    finally:
        done.set()
        listener.close()
        await anyio.to_thread.run_sync(thread.join)


def response(
    body: bytes = b"",
    *,
    status: int = 200,
    reason: str = "OK",
    headers: list[tuple[str, str]] | None = None,
    length: bool = True,
    version: str = "1.1",
) -> bytes:
    """Exact response bytes: a status line, headers, and (with Content-Length) the body."""
    lines = [f"HTTP/{version} {status} {reason}"]
    lines += [f"{name}: {value}" for name, value in headers or []]
    if length:
        lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


def chunked(*pieces: bytes) -> bytes:
    """A chunked body: each piece as one chunk, then the last chunk."""
    return b"".join(b"%x\r\n%s\r\n" % (len(piece), piece) for piece in pieces) + b"0\r\n\r\n"


async def serve_forever(peer: Peer, body: bytes = b"ok") -> None:
    """Answer every request on the connection with ``body``, keeping it alive."""
    while await peer.read_request() is not None:
        await peer.send(response(body))


TRANSPORTS = ["ours", "httpx"]
PARSERS = ["httptools", "h11"]


@pytest.fixture(params=PARSERS, autouse=True)
def parser(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Every test runs with each protocol library under our pool: the two must agree."""
    monkeypatch.setenv(PARSER_ENV, request.param)
    return request.param  # type: ignore[no-any-return]


STREAMS = ["native", "socket"]


@pytest.fixture(params=STREAMS, autouse=True)
def pool_stream(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """On asyncio every test runs on the asyncio-native stream and on the portable socket one."""
    monkeypatch.setenv(STREAM_ENV, "auto" if request.param == "native" else "socket")
    return request.param  # type: ignore[no-any-return]


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """httpx's own transport does not use our parser or stream, and trio has one stream: run
    those once, not once per parser or stream."""
    keep, drop = [], []
    for item in items:
        params = getattr(getattr(item, "callspec", None), "params", {})
        backend = params.get("anyio_backend", (None,))[0]
        if (params.get("kind") == "httpx" and params.get("parser") != PARSERS[0]) or (
            params.get("pool_stream", STREAMS[0]) != STREAMS[0]
            and (params.get("kind") == "httpx" or backend != "asyncio")
        ):
            drop.append(item)
        else:
            keep.append(item)
    if drop:
        config.hook.pytest_deselected(items=drop)
        items[:] = keep


ignore_httpx_asyncgen_warning = pytest.mark.filterwarnings(
    # Leaving a stream early leaves httpx's own async generators (and on the stock transport
    # httpcore's) to be finalised by trio's GC hook, which warns; not a leak of ours.
    "ignore:Exception ignored in. <async_generator object:pytest.PytestUnraisableExceptionWarning"
)


def make_transport(kind: str = "ours", **options: Any) -> httpx.AsyncBaseTransport:
    """Our transport, or httpx's stock one with the same options, to show they agree."""
    if kind == "ours":
        return AsyncPoolTransport(**options)
    return httpx.AsyncHTTPTransport(**options)


@pytest.fixture(params=TRANSPORTS)
def kind(request: pytest.FixtureRequest) -> str:
    """Which transport a test that checks equivalence runs on."""
    return request.param  # type: ignore[no-any-return]


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


@pytest.fixture(scope="session")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> Certificate:
    """A certificate for 127.0.0.1 and localhost."""
    return make_certificate(tmp_path_factory.mktemp("tls"), "local", "IP:127.0.0.1,DNS:localhost")


@pytest.fixture(scope="session")
def other_certificate(tmp_path_factory: pytest.TempPathFactory) -> Certificate:
    """A certificate for some other name only."""
    return make_certificate(tmp_path_factory.mktemp("tls"), "other", "DNS:other.example")
