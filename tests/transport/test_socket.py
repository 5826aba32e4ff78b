"""The pool's plain TCP stream: connecting (happy eyeballs), waiting, closing under a waiter."""

from __future__ import annotations

import socket

import anyio
import anyio.abc
import anyio.lowlevel
import pytest

from aerostack_async._pool._socket import (
    YIELD_EVERY,
    SocketStream,
    _connect_first,
    _interleave,
    connect_tcp,
)

pytestmark = pytest.mark.anyio


async def _echo_server() -> tuple[anyio.abc.SocketListener, int]:
    listener = await anyio.create_tcp_listener(local_host="127.0.0.1")
    return listener, listener.extra(anyio.abc.SocketAttribute.local_port)


async def test_bytes_go_both_ways_and_end_of_stream_is_seen() -> None:
    listener, port = await _echo_server()

    async def echo_once(stream: anyio.abc.SocketStream) -> None:
        async with stream:
            await stream.send(await stream.receive())

    async with listener, anyio.create_task_group() as tg:
        tg.start_soon(listener.serve, echo_once)
        stream = await connect_tcp("127.0.0.1", port)
        await stream.send(b"ping")
        assert await stream.receive() == b"ping"
        with pytest.raises(anyio.EndOfStream):
            await stream.receive()
        await stream.aclose()
        tg.cancel_scope.cancel()


async def _until_waiting(stream: SocketStream) -> None:
    """Until a task is parked waiting on ``stream``'s socket (so closing tests the wake-up)."""
    with anyio.fail_after(5):
        while not stream._waiting:  # noqa: ASYNC110 (a private counter: nothing to wait on)
            await anyio.sleep(0.01)


@pytest.mark.parametrize("side", ["reader", "writer"])
async def test_closing_wakes_a_task_waiting_on_the_socket(side: str) -> None:
    listener, port = await _echo_server()

    async def silent(stream: anyio.abc.SocketStream) -> None:  # reads nothing, sends nothing
        async with stream:
            await anyio.sleep_forever()

    async with listener, anyio.create_task_group() as tg:
        tg.start_soon(listener.serve, silent)
        stream = await connect_tcp("127.0.0.1", port)
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

        async with anyio.create_task_group() as users:
            users.start_soon(use)
            await _until_waiting(stream)
            with anyio.fail_after(5):  # from another task, as the pool's aclose() does
                await stream.aclose()
        assert woke == [anyio.ClosedResourceError]
        with pytest.raises(anyio.ClosedResourceError):
            await stream.send(b"late")
        tg.cancel_scope.cancel()


async def test_a_refused_connection_raises_oserror() -> None:
    probe = socket.socket()
    probe.bind(("127.0.0.1", 0))
    port = probe.getsockname()[1]
    probe.close()  # nothing listens there now
    with pytest.raises(OSError, match="refused"):
        await connect_tcp("127.0.0.1", port)


async def test_the_first_address_that_accepts_wins() -> None:
    # A name resolving to several addresses, the first dead (what "localhost" -> ::1 can be).
    probe = socket.socket()
    probe.bind(("127.0.0.1", 0))
    dead = probe.getsockname()[1]
    probe.close()
    listener, port = await _echo_server()
    targets = [(socket.AF_INET, ("127.0.0.1", dead)), (socket.AF_INET, ("127.0.0.1", port))]
    async with listener, anyio.create_task_group() as tg:
        tg.start_soon(listener.serve, lambda stream: stream.aclose())
        with anyio.fail_after(5):
            stream = SocketStream(await _connect_first(targets, "example"))
        assert stream.extra(anyio.abc.SocketAttribute.remote_address)[1] == port
        await stream.aclose()
        tg.cancel_scope.cancel()
    with pytest.raises(OSError, match="refused"):
        await _connect_first([targets[0], targets[0]], "example")


def test_addresses_alternate_between_families() -> None:
    v6, v4 = socket.AF_INET6, socket.AF_INET
    targets = [(v6, ("::1", 1)), (v6, ("::2", 1)), (v4, ("127.0.0.1", 1))]
    assert _interleave(targets) == [targets[0], targets[2], targets[1]]


async def test_a_peer_that_always_has_data_does_not_starve_other_tasks() -> None:
    listener, port = await _echo_server()
    blob = b"x" * (1 << 20)

    async def flood(stream: anyio.abc.SocketStream) -> None:
        async with stream:
            for _ in range(64):
                await stream.send(blob)

    ticks = 0

    async def ticker() -> None:
        nonlocal ticks
        while True:
            ticks += 1
            await anyio.lowlevel.checkpoint()

    async with listener, anyio.create_task_group() as tg:
        tg.start_soon(listener.serve, flood)
        stream = await connect_tcp("127.0.0.1", port)
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
    # One yield per YIELD_EVERY reads that did not wait (without it: about one per MiB sent).
    assert ticks >= reads // (YIELD_EVERY * 2) > 1000
