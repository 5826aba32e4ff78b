"""The trio stream (``_pool/_trio_stream.py``) on its own, against real loopback servers.

It runs on trio only (it waits with trio's own primitives). These tests check what the pool
relies on: bytes both ways, the end of stream, the reuse check on an idle connection (bytes or
a close arrived), closing waking a task that waits, timeouts on a receive, TLS (the handshake,
a certificate for another name, a close without close_notify) and ``forget`` after a fork.
"""

from __future__ import annotations

import socket
import ssl
import threading
from collections.abc import Callable

import anyio
import anyio.abc
import anyio.lowlevel
import pytest

from aerostack_async._pool._socket import YIELD_EVERY

from .._loopback import Certificate, Peer, serve

trio = pytest.importorskip("trio")

from aerostack_async._pool import _trio_stream  # noqa: E402 (only with trio installed)
from aerostack_async._pool._trio_stream import (  # noqa: E402
    RECEIVE_SIZE,
    TrioStream,
    TrioTLSStream,
    connect,
)

pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend() -> tuple[str, dict[str, object]]:
    """Trio only: this stream waits with trio's own primitives."""
    return ("trio", {})


async def _until(predicate: Callable[[], object]) -> None:
    """Until ``predicate()`` holds (a flag or a socket state: nothing to wait on)."""
    with anyio.fail_after(5):
        while not predicate():  # noqa: ASYNC110 (nothing to wait on)
            await anyio.sleep(0.01)


def _parked(*, writing: bool = False) -> int:
    """Tasks parked in trio's I/O manager, waiting for a socket to be readable (writable)."""
    io = trio.lowlevel.current_statistics().io_statistics
    return int(io.tasks_waiting_write if writing else io.tasks_waiting_read)


async def test_bytes_go_both_ways_and_end_of_stream_is_seen() -> None:
    async def echo_once(peer: Peer) -> None:
        await peer.send(await peer.stream.receive())

    before = _trio_stream.opened
    async with serve(echo_once) as server:
        stream = await connect("127.0.0.1", server.port)
        assert type(stream) is TrioStream
        assert _trio_stream.opened == before + 1
        await stream.send(b"ping")
        assert await stream.receive() == b"ping"
        with anyio.fail_after(5), pytest.raises(anyio.EndOfStream):
            await stream.receive()
        assert stream.extra(anyio.abc.SocketAttribute.remote_address)[1] == server.port
        await stream.aclose()
        with pytest.raises(anyio.ClosedResourceError):
            await stream.receive()


@pytest.mark.parametrize("tls", [False, True], ids=["plain", "tls"])
async def test_large_transfers_both_ways(tls: bool, certificate: Certificate) -> None:
    # More than the socket buffers hold: sends wait for the socket to drain, receives are cut
    # at RECEIVE_SIZE however much the caller asks for, and TLS spans many records.
    size = 8 * 1024 * 1024
    payload = bytes(range(256)) * (size // 256)
    got = bytearray()

    async def sink_then_source(peer: Peer) -> None:
        while len(got) < size:
            got.extend(await peer.stream.receive(1 << 20))
        await peer.send(payload)

    options = {"ssl_context": certificate.server_context()} if tls else {}
    async with serve(sink_then_source, **options) as server:  # type: ignore[arg-type]
        stream = await connect(
            "127.0.0.1", server.port, certificate.client_context() if tls else None
        )
        with anyio.fail_after(20):
            await stream.send(payload)
            received = bytearray()
            while len(received) < size:
                data = await stream.receive(1 << 20)
                assert len(data) <= RECEIVE_SIZE
                received += data
        assert got == payload
        assert received == payload
        await stream.aclose()


@pytest.mark.parametrize("tls", [False, True], ids=["plain", "tls"])
async def test_the_reuse_check_sees_unasked_bytes_and_a_close(
    tls: bool, certificate: Certificate
) -> None:
    got_request = anyio.Event()
    go = anyio.Event()

    async def answer_then_talk_then_close(peer: Peer) -> None:
        await peer.read_some()
        await peer.send(b"answer")
        got_request.set()
        await go.wait()
        await peer.send(b"unasked")

    options = {"ssl_context": certificate.server_context()} if tls else {}
    async with serve(answer_then_talk_then_close, **options) as server:  # type: ignore[arg-type]
        stream = await connect(
            "127.0.0.1", server.port, certificate.client_context() if tls else None
        )
        assert type(stream) is (TrioTLSStream if tls else TrioStream)
        # (Not checked before the first exchange: TLS 1.3 session tickets may still be coming.)
        await stream.send(b"hello")
        await got_request.wait()
        assert await stream.receive() == b"answer"
        assert not stream.has_unread()  # idle, nothing more sent: fit for reuse
        go.set()
        await _until(stream.has_unread)
        assert await stream.receive() == b"unasked"
        # The handler returned: the server closes (under TLS without close_notify).
        await _until(stream.has_unread)
        with anyio.fail_after(5), pytest.raises(anyio.EndOfStream):
            await stream.receive()
        assert stream.has_unread()
        await stream.aclose()
        assert stream.has_unread()


@pytest.mark.parametrize("side", ["reader", "writer"])
async def test_closing_wakes_a_task_waiting_on_the_socket(side: str) -> None:
    async def silent(peer: Peer) -> None:
        await anyio.sleep_forever()

    async with serve(silent) as server:
        stream = await connect("127.0.0.1", server.port)
        woke: list[type[BaseException]] = []

        async def use() -> None:
            try:
                if side == "reader":
                    await stream.receive()
                else:
                    while True:  # until the socket buffers are full and the send must wait
                        await stream.send(b"w" * 65536)
            except anyio.ClosedResourceError as exc:
                woke.append(type(exc))

        writing = side == "writer"
        before = _parked(writing=writing)
        async with anyio.create_task_group() as users:
            users.start_soon(use)
            await _until(lambda: _parked(writing=writing) > before)
            with anyio.fail_after(5):  # from another task, as the pool's aclose() does
                await stream.aclose()
        assert woke == [anyio.ClosedResourceError]
        assert stream._sock.fileno() == -1
        with pytest.raises(anyio.ClosedResourceError):
            await stream.send(b"late")


async def test_closing_wakes_a_tls_reader(certificate: Certificate) -> None:
    handshaken = anyio.Event()

    async def silent(peer: Peer) -> None:
        handshaken.set()  # (the server's side of the handshake waits on sockets too)
        await anyio.sleep_forever()

    async with serve(silent, ssl_context=certificate.server_context()) as server:
        stream = await connect("127.0.0.1", server.port, certificate.client_context())
        await handshaken.wait()
        woke: list[type[BaseException]] = []

        async def read() -> None:
            try:
                await stream.receive()
            except anyio.ClosedResourceError as exc:
                woke.append(type(exc))

        before = _parked()
        async with anyio.create_task_group() as tg:
            tg.start_soon(read)
            await _until(lambda: _parked() > before)
            stream.close()
        assert woke == [anyio.ClosedResourceError]


async def test_a_reset_is_a_broken_resource() -> None:
    async def reset(peer: Peer) -> None:
        await peer.read_some()
        await peer.reset()

    async with serve(reset) as server:
        stream = await connect("127.0.0.1", server.port)
        await stream.send(b"hello")
        with anyio.fail_after(5), pytest.raises(anyio.BrokenResourceError):
            await stream.receive()
        assert stream.has_unread()
        await stream.aclose()


@pytest.mark.parametrize("tls", [False, True], ids=["plain", "tls"])
async def test_a_receive_within_times_out_only_when_it_waits(
    tls: bool, certificate: Certificate
) -> None:
    go = anyio.Event()

    async def late(peer: Peer) -> None:
        await go.wait()
        await peer.send(b"late")
        await anyio.sleep_forever()

    options = {"ssl_context": certificate.server_context()} if tls else {}
    async with serve(late, **options) as server:  # type: ignore[arg-type]
        stream = await connect(
            "127.0.0.1", server.port, certificate.client_context() if tls else None
        )
        with anyio.fail_after(5):
            with pytest.raises(TimeoutError):
                await stream.receive_within(100, 0.05, None)
            with pytest.raises(TimeoutError):
                await stream.receive_within(100, None, anyio.current_time() + 0.05)
            with pytest.raises(TimeoutError):  # the earlier of the two
                await stream.receive_within(100, 60, anyio.current_time() + 0.05)
            go.set()
            # Nothing was lost to the timeouts; bytes come well within the limit.
            assert await stream.receive_within(100, 5, None) == b"late"
        await stream.aclose()


async def test_a_peer_that_always_has_data_does_not_starve_other_tasks() -> None:
    blob = b"x" * (1 << 20)

    async def flood(peer: Peer) -> None:
        for _ in range(16):
            await peer.send(blob)

    ticks = 0

    async def ticker() -> None:
        nonlocal ticks
        while True:
            ticks += 1
            await anyio.lowlevel.checkpoint()

    async with serve(flood) as server, anyio.create_task_group() as tg:
        stream = await connect("127.0.0.1", server.port)
        await anyio.sleep(0.2)  # let the socket buffer fill: reads will not have to wait
        tg.start_soon(ticker)
        reads = 0
        try:
            while True:
                await stream.receive(1024)
                reads += 1
        except anyio.EndOfStream:
            pass
        await stream.aclose()
        tg.cancel_scope.cancel()
    assert ticks >= reads // (YIELD_EVERY + 1) // 2


async def test_send_eof_ends_the_peer_s_stream_and_is_refused_over_tls(
    certificate: Certificate,
) -> None:
    async def echo_to_eof(peer: Peer) -> None:
        got = b""
        try:
            while True:
                got += await peer.stream.receive()
        except anyio.EndOfStream:
            await peer.send(b"saw eof after " + got)

    async with serve(echo_to_eof) as server:
        stream = await connect("127.0.0.1", server.port)
        await stream.send(b"all")
        await stream.send_eof()
        with anyio.fail_after(5):
            assert await stream.receive() == b"saw eof after all"
        await stream.aclose()
    async with serve(echo_to_eof, ssl_context=certificate.server_context()) as server:
        secure = await connect("127.0.0.1", server.port, certificate.client_context())
        with pytest.raises(NotImplementedError):
            await secure.send_eof()
        await secure.aclose()


async def test_tls_verifies_the_certificate_and_its_name(
    certificate: Certificate, other_certificate: Certificate
) -> None:
    async def answer(peer: Peer) -> None:
        await peer.read_some()
        await peer.send(b"secure")

    async with serve(answer, ssl_context=certificate.server_context()) as server:
        before = _trio_stream.opened
        # Not trusted: the handshake fails, and no socket is left open.
        with pytest.raises(ssl.SSLCertVerificationError):
            await connect("127.0.0.1", server.port, ssl.create_default_context())
        # Trusted, and issued for 127.0.0.1 and localhost: both names pass.
        for host in ("127.0.0.1", "localhost"):
            stream = await connect(host, server.port, certificate.client_context())
            assert isinstance(stream, TrioTLSStream)
            assert stream.extra(anyio.streams.tls.TLSAttribute.tls_version)  # type: ignore[attr-defined]
            await stream.send(b"hi")
            assert await stream.receive() == b"secure"
            await stream.aclose()
        assert _trio_stream.opened == before + 2
    async with serve(answer, ssl_context=other_certificate.server_context()) as server:
        # Trusted, but for another name than the one connected to.
        with pytest.raises(ssl.SSLCertVerificationError, match="mismatch"):
            await connect("127.0.0.1", server.port, other_certificate.client_context())


async def test_a_peer_closing_during_the_handshake_is_an_end_of_stream() -> None:
    async def hang_up(peer: Peer) -> None:
        await peer.stream.receive()  # the ClientHello, then close without a word

    context = ssl.create_default_context()
    async with serve(hang_up) as server:
        with anyio.fail_after(5), pytest.raises(anyio.EndOfStream):
            await connect("127.0.0.1", server.port, context)


@pytest.mark.parametrize("tls", [False, True], ids=["plain", "tls"])
async def test_forget_closes_only_this_process_s_descriptor(
    tls: bool, certificate: Certificate
) -> None:
    # What a forked child does with an inherited connection: the peer must not see it end.
    peers: list[Peer] = []

    async def hold(peer: Peer) -> None:
        peers.append(peer)
        await anyio.sleep_forever()

    async with serve(hold) as server:
        stream = await connect("127.0.0.1", server.port)
        if tls:  # (the handshake is not the point: the descriptor is)
            stream = TrioTLSStream(stream._sock, certificate.client_context(), "127.0.0.1")
        sock = stream._sock
        twin = sock.dup()  # the other process's descriptor
        try:
            stream.forget()
            assert sock.fileno() == -1
            assert stream.has_unread()
            twin.setblocking(False)
            twin.send(b"still here")
            await _until(lambda: peers)
            with anyio.fail_after(5):
                assert await peers[0].stream.receive() == b"still here"
        finally:
            twin.close()


def test_outside_trio_it_is_unfit_for_reuse_and_closes() -> None:
    # A pool used again under another backend (a later anyio.run on asyncio) must not reuse a
    # connection that can only be waited on by trio; closing it there must not fail.
    listener = socket.create_server(("127.0.0.1", 0))
    accepted: list[socket.socket] = []
    thread = threading.Thread(target=lambda: accepted.append(listener.accept()[0]), daemon=True)
    thread.start()
    try:
        stream = trio.run(connect, "127.0.0.1", listener.getsockname()[1])
        assert stream.has_unread()
        anyio.run(_still_unfit, stream)  # on asyncio
        stream.close()
        assert stream._sock.fileno() == -1
    finally:
        thread.join(5)
        for sock in accepted:
            sock.close()
        listener.close()


async def _still_unfit(stream: TrioStream) -> None:
    assert stream.has_unread()
