"""The asyncio-native stream: taken on asyncio (uvloop too), never on trio (which gets its own,
see test_trio_stream.py); its own behaviour.

The whole conformance suite also runs over it (the ``pool_stream`` parameter in conftest.py);
these tests prove which stream a connection actually got, and check what only this stream does:
read flow control, a reuse check from the protocol's own flags, TLS by asyncio's transport, and
the shared default SSL context.
"""

from __future__ import annotations

import gc
import ssl
import sys

import anyio
import anyio.abc
import httpx
import pytest

from aerostack_async._pool import AsyncPoolTransport, _asyncio_stream
from aerostack_async._pool import _transport as pool_transport
from aerostack_async._pool._asyncio_stream import READ_HIGH_WATER, AsyncioStream, connect
from aerostack_async._pool._socket import PoolTLSStream, SocketStream

from .._loopback import Certificate, Peer, serve, serve_forever

pytestmark = pytest.mark.anyio


def _streams(transport: AsyncPoolTransport) -> list[object]:
    return [conn.stream for conn in transport._connections]


async def test_each_backend_gets_its_native_stream_unless_told_socket(
    anyio_backend: tuple[str, dict[str, object]], pool_stream: str
) -> None:
    before = _asyncio_stream.opened, _trio_opened()
    transport = AsyncPoolTransport()
    async with (
        serve(serve_forever) as server,
        httpx.AsyncClient(transport=transport) as client,
    ):
        assert (await client.get(server.url)).text == "ok"
        (stream,) = _streams(transport)
        if pool_stream == "socket":
            assert type(stream) is SocketStream
            assert (_asyncio_stream.opened, _trio_opened()) == before
        elif anyio_backend[0] == "asyncio":
            assert type(stream) is AsyncioStream
            assert (_asyncio_stream.opened, _trio_opened()) == (before[0] + 1, before[1])
        else:
            from aerostack_async._pool._trio_stream import TrioStream

            assert type(stream) is TrioStream
            assert (_asyncio_stream.opened, _trio_opened()) == (before[0], before[1] + 1)


def _trio_opened() -> int:
    """Streams opened by the trio module (0 if it was never imported: it is trio's only)."""
    module = sys.modules.get("aerostack_async._pool._trio_stream")
    return 0 if module is None else int(module.opened)


async def test_tls_on_asyncio_is_asyncio_s_ssl_transport(
    anyio_backend: tuple[str, dict[str, object]], pool_stream: str, certificate: Certificate
) -> None:
    transport = AsyncPoolTransport(verify=certificate.client_context())
    async with (
        serve(serve_forever, ssl_context=certificate.server_context()) as server,
        httpx.AsyncClient(transport=transport) as client,
    ):
        assert (await client.get(server.url)).text == "ok"
        (stream,) = _streams(transport)
        if anyio_backend[0] == "asyncio" and pool_stream == "native":
            assert isinstance(stream, AsyncioStream)
            assert stream._transport is not None
            assert stream._transport.get_extra_info("ssl_object") is not None
        elif pool_stream == "native":
            from aerostack_async._pool._trio_stream import TrioTLSStream

            # trio: an SSLObject of our own on the socket, answering the reuse check itself.
            assert isinstance(stream, TrioTLSStream)
            assert transport._connections.copy().pop().tcp is stream
        else:
            # anyio's TLSStream over the socket stream, answering the reuse check itself.
            assert isinstance(stream, PoolTLSStream)
            assert transport._connections.copy().pop().tcp is stream
            assert not stream.has_unread()


async def test_the_default_ssl_context_is_shared_and_keyed_by_the_environment(
    certificate: Certificate, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("SSL_CERT_FILE", raising=False)
    monkeypatch.delenv("SSL_CERT_DIR", raising=False)
    first = AsyncPoolTransport()._tls_context()
    hits = pool_transport._cached_ssl_context.cache_info().hits
    second = AsyncPoolTransport()._tls_context()
    assert second is first
    assert pool_transport._cached_ssl_context.cache_info().hits == hits + 1
    assert AsyncPoolTransport(verify=False)._tls_context() is not first
    monkeypatch.setenv("SSL_CERT_FILE", str(certificate.cert))
    trusting_ours = AsyncPoolTransport()._tls_context()
    assert trusting_ours is not first
    assert AsyncPoolTransport(trust_env=False)._tls_context() is not trusting_ours
    own = certificate.client_context()
    assert AsyncPoolTransport(verify=own)._tls_context() is own


async def test_a_cached_context_still_verifies(
    certificate: Certificate, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The same settings share one context; a context that trusts our certificate (by
    # SSL_CERT_FILE) and one that does not (the default CA bundle) are never mixed up.
    monkeypatch.setenv("SSL_CERT_FILE", str(certificate.cert))
    async with serve(serve_forever, ssl_context=certificate.server_context()) as server:
        for _ in range(2):
            async with httpx.AsyncClient(transport=AsyncPoolTransport()) as client:
                assert (await client.get(server.url)).text == "ok"
        monkeypatch.delenv("SSL_CERT_FILE")
        async with httpx.AsyncClient(transport=AsyncPoolTransport()) as client:
            with pytest.raises(httpx.ConnectError):
                await client.get(server.url)


# ----------------------------------------------------------------------------------------------
# The stream itself: asyncio only (and uvloop)


@pytest.fixture(
    params=[
        pytest.param(("asyncio", {"use_uvloop": False}), id="asyncio"),
        pytest.param(("asyncio", {"use_uvloop": True}), id="uvloop"),
    ]
)
def asyncio_backend(request: pytest.FixtureRequest) -> tuple[str, dict[str, object]]:
    """The native stream's own tests run on asyncio's loop and on uvloop's."""
    return request.param  # type: ignore[no-any-return]


native_only = pytest.mark.parametrize(
    "anyio_backend",
    [
        pytest.param(("asyncio", {"use_uvloop": False}), id="asyncio"),
        pytest.param(("asyncio", {"use_uvloop": True}), id="uvloop"),
    ],
)


@native_only
@pytest.mark.parametrize("pool_stream", ["native"], indirect=True)
async def test_uvloop_gets_the_native_stream_too(pool_stream: str) -> None:
    transport = AsyncPoolTransport()
    async with (
        serve(serve_forever) as server,
        httpx.AsyncClient(transport=transport) as client,
    ):
        for _ in range(3):
            assert (await client.get(server.url)).text == "ok"
        (stream,) = _streams(transport)
        assert type(stream) is AsyncioStream


@native_only
async def test_reading_stops_past_the_high_water_mark_and_resumes() -> None:
    size = 4 * READ_HIGH_WATER
    payload = bytes(range(256)) * (size // 256)

    async def flood(peer: Peer) -> None:
        await peer.send(payload)
        await anyio.sleep_forever()

    async with serve(flood) as server:
        stream = await connect("127.0.0.1", server.port)
        with anyio.fail_after(5):
            while not stream._reading_paused:  # noqa: ASYNC110 (a flag the loop sets)
                await anyio.sleep(0.01)
        # Paused: what is buffered stays near the mark, the rest waits in the kernel.
        assert stream._buffered < READ_HIGH_WATER + 256 * 1024
        received = bytearray()
        with anyio.fail_after(5):
            while len(received) < size:
                received += await stream.receive(64 * 1024)
        assert received == payload
        assert not stream._reading_paused
        await stream.aclose()


@native_only
async def test_the_reuse_check_sees_bytes_and_a_close_from_the_protocol() -> None:
    got_request = anyio.Event()
    go = anyio.Event()

    async def talk_then_close(peer: Peer) -> None:
        await peer.read_some()
        got_request.set()
        await go.wait()
        await peer.send(b"unasked")

    async with serve(talk_then_close) as server:
        stream = await connect("127.0.0.1", server.port)
        assert not stream.has_unread()
        await stream.send(b"hello")
        await got_request.wait()
        assert not stream.has_unread()
        go.set()
        with anyio.fail_after(5):
            while not stream.has_unread():  # noqa: ASYNC110 (set by data_received)
                await anyio.sleep(0.01)
        assert await stream.receive() == b"unasked"
        # The server's handler returned: it closes; the protocol is told (eof_received).
        with anyio.fail_after(5):
            while not stream.has_unread():  # noqa: ASYNC110
                await anyio.sleep(0.01)
        with pytest.raises(anyio.EndOfStream):
            await stream.receive()
        await stream.aclose()


@native_only
async def test_closing_wakes_a_waiting_reader() -> None:
    async def silent(peer: Peer) -> None:
        await anyio.sleep_forever()

    async with serve(silent) as server:
        stream = await connect("127.0.0.1", server.port)
        woke: list[type[BaseException]] = []

        async def read() -> None:
            try:
                await stream.receive()
            except anyio.ClosedResourceError as exc:
                woke.append(type(exc))

        async with anyio.create_task_group() as tg:
            tg.start_soon(read)
            with anyio.fail_after(5):
                while stream._waiter is None:  # noqa: ASYNC110
                    await anyio.sleep(0.01)
            await stream.aclose()
        assert woke == [anyio.ClosedResourceError]
        with pytest.raises(anyio.ClosedResourceError):
            await stream.send(b"x")


@native_only
async def test_a_reset_is_a_broken_resource() -> None:
    async def reset(peer: Peer) -> None:
        await peer.read_some()
        await peer.reset()

    async with serve(reset) as server:
        stream = await connect("127.0.0.1", server.port)
        await stream.send(b"hello")
        with anyio.fail_after(5), pytest.raises(anyio.BrokenResourceError):
            await stream.receive()
        await stream.aclose()


@native_only
async def test_forget_closes_only_this_process_s_descriptor(
    anyio_backend: tuple[str, dict[str, object]],
) -> None:
    # What a forked child does with an inherited connection: the peer must not see it end.
    peers: list[Peer] = []

    async def hold(peer: Peer) -> None:
        peers.append(peer)
        await anyio.sleep_forever()

    async with serve(hold) as server:
        stream = await connect("127.0.0.1", server.port)
        sock = stream._sock
        twin = sock.dup()  # the other process's descriptor
        try:
            stream.forget()
            if not anyio_backend[1]["use_uvloop"]:
                # (uvloop holds a reference that defers the close to its transport's end.)
                assert sock.fileno() == -1
            twin.setblocking(False)
            twin.send(b"still here")
            with anyio.fail_after(5):
                while not peers:  # noqa: ASYNC110
                    await anyio.sleep(0.01)
            assert await peers[0].stream.receive() == b"still here"
        finally:
            twin.close()
            assert stream._transport is not None
            stream._transport.abort()  # (in a real child the inherited loop is never run again)


@native_only
async def test_a_failed_handshake_is_an_ssl_error_and_leaves_no_socket(
    certificate: Certificate,
) -> None:
    async with serve(serve_forever, ssl_context=certificate.server_context()) as server:
        with pytest.raises(ssl.SSLError):
            await connect("127.0.0.1", server.port, ssl.create_default_context())
        stream = await connect("127.0.0.1", server.port, certificate.client_context())
        await stream.send(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        assert (await stream.receive()).startswith(b"HTTP/1.1 200")
        await stream.aclose()


# The first loop's transports cannot be released once it is closed: asyncio warns on collection.
@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
@pytest.mark.filterwarnings("ignore::ResourceWarning")
def test_a_pool_used_from_a_second_event_loop_opens_new_connections(pool_stream: str) -> None:
    # One client, two ``anyio.run`` calls (as a script that runs one at a time does): the first
    # loop's connections cannot serve the second, so they are dropped, not reused.
    import threading

    from .._loopback import response

    served = []
    listener = __import__("socket").create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]

    def serve() -> None:
        while True:
            try:
                conn, _ = listener.accept()
            except OSError:
                return
            served.append(conn)

            def answer(conn=conn) -> None:  # type: ignore[no-untyped-def]
                with conn:
                    while conn.recv(65536):
                        conn.sendall(response(b"ok"))

            threading.Thread(target=answer, daemon=True).start()

    threading.Thread(target=serve, daemon=True).start()
    transport = AsyncPoolTransport()

    async def get() -> str:
        client = httpx.AsyncClient(transport=transport)
        return (await client.get(f"http://127.0.0.1:{port}")).text

    try:
        assert anyio.run(get) == "ok"
        assert anyio.run(get) == "ok"
        assert anyio.run(get, backend="trio") == "ok"
        assert len(served) == (3 if pool_stream == "native" else 1)
    finally:
        listener.close()
        anyio.run(transport.aclose)
        gc.collect()  # here, under this test's warning filters, not in some later test


@native_only
@pytest.mark.parametrize("pool_stream", ["native"], indirect=True)
@pytest.mark.parametrize("tls", [False, True], ids=["plain", "tls"])
async def test_the_loop_reads_into_the_shared_buffer(
    monkeypatch: pytest.MonkeyPatch, certificate: Certificate, tls: bool, pool_stream: str
) -> None:
    # A buffered protocol: the loop reads into one preallocated buffer per thread (no new
    # 256 KiB bytes object, and so no mmap, per read). Prove the path is the one taken.
    filled: list[int] = []
    original = AsyncioStream.buffer_updated

    def counting(self: AsyncioStream, nbytes: int) -> None:
        filled.append(nbytes)
        original(self, nbytes)

    monkeypatch.setattr(AsyncioStream, "buffer_updated", counting)
    payload = bytes(range(256)) * 4096  # 1 MiB: many reads, all through the buffer

    async def big(peer: Peer) -> None:
        while await peer.read_request() is not None:
            await peer.send(
                b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % len(payload) + payload
            )

    options = {"ssl_context": certificate.server_context()} if tls else {}
    verify = certificate.client_context() if tls else True
    async with (
        serve(big, **options) as server,
        httpx.AsyncClient(transport=AsyncPoolTransport(verify=verify)) as client,
    ):
        for _ in range(2):
            assert (await client.get(server.url)).content == payload
    assert sum(filled) >= 2 * len(payload)
    assert len(filled) >= 2
