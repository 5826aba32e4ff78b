"""The pool's byte stream on asyncio (uvloop too): an asyncio protocol, TLS by asyncio's transport.

This module is dedicated to the asyncio backend, so it may import asyncio; the pool picks it when
the running event loop is asyncio's (and imports this module only then) and keeps `._socket` (a
non-blocking socket waited on with anyio) on trio. Both sit behind the same interface
(``receive``/``send``/``send_eof``/``aclose``/``close``/``has_unread``/``forget``) and the
transport conformance suite runs on both.

Why a protocol rather than a socket waited on: the event loop reads the socket when it has data
(into one preallocated buffer: a buffered protocol) and hands the bytes over, so a receive that
finds bytes buffered costs no syscall and no reader registration (``add_reader``/
``remove_reader``) at all, and one that must wait parks on a bare future, not on anyio's
``wait_readable``. Writes go
straight to the socket (asyncio's transport sends at once when its buffer is empty) and wait
only when the transport says its buffer is over the high-water mark. Reading is flow-controlled
the other way: past `READ_HIGH_WATER` bytes buffered and unread, the transport stops
reading until a receive takes the buffer under a quarter of that.

Because the protocol is told when the peer closes (``eof_received``/``connection_lost``), the
pool's reuse check (`AsyncioStream.has_unread()`) is a look at flags, not a ``recv(MSG_PEEK)``.
TLS uses asyncio's own SSL transport (``loop.create_connection(ssl=...)`` on a socket connected
the happy-eyeballs way), measured cheaper than anyio's ``TLSStream`` memory BIO on top of this
stream (see docs/transport.md).
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import ssl
import threading
from collections import deque
from collections.abc import Callable, Coroutine
from typing import Any, cast

import anyio
import anyio.abc
import anyio.lowlevel

from ._socket import YIELD_EVERY, connect_socket

__all__ = ["READ_HIGH_WATER", "AsyncioStream", "connect", "loop_hooks"]

READ_HIGH_WATER = 1024 * 1024
"""Unread bytes buffered before the transport stops reading the socket (read flow control)."""

_READ_LOW_WATER = READ_HIGH_WATER // 4

opened = 0
"""Streams this process has connected (a counter: tests check the asyncio path is taken)."""


def loop_hooks() -> tuple[Callable[..., object], Callable[[Coroutine[Any, Any, Any]], object]]:
    """The running loop's ``call_soon_threadsafe`` and ``create_task`` (for the sync facade's
    cross-thread hop, which must not import asyncio itself)."""
    loop = asyncio.get_running_loop()
    return loop.call_soon_threadsafe, loop.create_task


READ_BUFFER = 256 * 1024
"""The buffer the event loop reads a connection into (``recv_into``; under TLS, ``SSLObject.read``
into it). One per thread, shared by the streams of that thread's loop: a loop fills it and hands
it back (`AsyncioStream.buffer_updated`) before it does anything else."""

_buffers = threading.local()


def _read_buffer() -> memoryview:
    """This thread's read buffer (every stream of a loop lives on the loop's thread)."""
    view: memoryview | None = getattr(_buffers, "view", None)
    if view is None:
        view = _buffers.view = memoryview(bytearray(READ_BUFFER))
    return view


class AsyncioStream(anyio.abc.ByteStream, asyncio.BufferedProtocol):
    """A TCP (or TLS) connection as an anyio byte stream, fed by the event loop as a protocol.

    Closing it while another task waits on it wakes that task with ClosedResourceError.
    """

    def __init__(self, sock: socket.socket, loop: asyncio.AbstractEventLoop) -> None:
        self._sock = sock  # kept to close just this process's descriptor after a fork
        self._loop = loop  # its transport lives on this loop, and only this one
        self._transport: asyncio.Transport | None = None
        self._chunks: deque[bytes] = deque()
        self._buffered = 0
        self._reading_paused = False
        self._writing_paused = False
        self._eof = False  # the peer closed its side (or the connection ended cleanly)
        self._error: BaseException | None = None  # the connection ended with this error
        self._closed = False  # we closed it
        self._waiter: asyncio.Future[None] | None = None
        self._drain_waiter: asyncio.Future[None] | None = None
        self._streak = 0
        self._buffer = _read_buffer()

    # -- asyncio.Protocol: called by the event loop ---------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # (uvloop's transports are not asyncio.Transport subclasses, but have its methods.)
        self._transport = cast("asyncio.Transport", transport)

    def get_buffer(self, sizehint: int) -> memoryview:
        # A buffered protocol: asyncio's socket transport would otherwise ask the socket for a
        # new 256 KiB bytes object per read, which glibc serves with mmap and then shrinks
        # (mremap) and unmaps: three system calls per read (strace: 3 a request, gone here).
        return self._buffer

    def buffer_updated(self, nbytes: int) -> None:
        self.data_received(self._buffer[:nbytes].tobytes())

    def data_received(self, data: bytes) -> None:
        self._chunks.append(data)
        self._buffered += len(data)
        if self._buffered > READ_HIGH_WATER and not self._reading_paused:
            self._reading_paused = True
            transport = self._transport
            if transport is not None:
                transport.pause_reading()
        self._wake_reader()

    def eof_received(self) -> bool:
        self._eof = True
        self._wake_reader()
        return True  # keep the sending side open (half-close), as a plain socket does

    def connection_lost(self, exc: Exception | None) -> None:
        if exc is None:
            self._eof = True
        elif self._error is None:
            self._error = exc
        self._writing_paused = False
        self._wake_reader()
        self._wake_writer()

    def pause_writing(self) -> None:
        self._writing_paused = True

    def resume_writing(self) -> None:
        self._writing_paused = False
        self._wake_writer()

    def _wake_reader(self) -> None:
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    def _wake_writer(self) -> None:
        waiter = self._drain_waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    # -- the byte stream -----------------------------------------------------------------------

    async def receive(self, max_bytes: int = 65536) -> bytes:
        """Bytes received (at most ``max_bytes``); EndOfStream once the peer closed."""
        return await self.receive_within(max_bytes, None, None)

    async def receive_within(
        self, max_bytes: int, seconds: float | None, deadline: float | None
    ) -> bytes:
        """`receive()`, raising TimeoutError if it waits ``seconds`` or until the loop's clock
        reaches ``deadline`` (either may be None). Bytes already buffered are returned at once,
        with no timer and no clock read; a wait is one bare future and one loop timer."""
        if self._streak >= YIELD_EVERY:
            self._streak = 0
            await anyio.lowlevel.checkpoint()  # before taking bytes: a cancellation loses nothing
        limit: float | None = None
        while True:
            if self._closed:
                raise anyio.ClosedResourceError
            chunks = self._chunks
            if chunks:
                if len(chunks) > 1 and self._buffered <= max_bytes:
                    data = b"".join(chunks)  # small pieces: all of them in one go
                    chunks.clear()
                else:
                    # One piece at a time, so a full buffer is never joined only to be cut up.
                    data = chunks.popleft()
                    if len(data) > max_bytes:
                        chunks.appendleft(data[max_bytes:])
                        data = data[:max_bytes]
                self._buffered -= len(data)
                if self._reading_paused and self._buffered <= _READ_LOW_WATER:
                    self._reading_paused = False
                    transport = self._transport
                    if transport is not None and not transport.is_closing():
                        transport.resume_reading()
                self._streak += 1
                return data
            if self._error is not None:
                raise anyio.BrokenResourceError from self._error
            if self._eof:
                raise anyio.EndOfStream
            self._streak = 0
            loop = self._loop
            waiter = self._waiter = loop.create_future()
            timer = None
            if limit is None:
                limit = _limit(loop, seconds, deadline)
            if limit is not None:
                timer = loop.call_at(limit, _expire, waiter)
            try:
                await waiter
            finally:
                self._waiter = None
                if timer is not None:
                    timer.cancel()

    async def send(self, item: bytes) -> None:
        """Send all of ``item``, waiting while the transport's buffer is full (back-pressure)."""
        await self.send_within(item, None, None)

    async def send_within(self, item: bytes, seconds: float | None, deadline: float | None) -> None:
        """`send()`, raising TimeoutError if the transport's full buffer makes it wait
        ``seconds`` or until the loop's clock reaches ``deadline``; a timer only then."""
        if self._streak >= YIELD_EVERY:
            self._streak = 0
            await anyio.lowlevel.checkpoint()
        self._check_writable()
        transport = self._transport
        assert transport is not None
        transport.write(item)
        limit: float | None = None
        while self._writing_paused:
            self._streak = 0
            loop = self._loop
            waiter = self._drain_waiter = loop.create_future()
            timer = None
            if limit is None:
                limit = _limit(loop, seconds, deadline)
            if limit is not None:
                timer = loop.call_at(limit, _expire, waiter)
            try:
                await waiter
            finally:
                self._drain_waiter = None
                if timer is not None:
                    timer.cancel()
            self._check_writable()
        self._streak += 1

    def _check_writable(self) -> None:
        if self._closed:
            raise anyio.ClosedResourceError
        if self._error is not None:
            raise anyio.BrokenResourceError from self._error
        transport = self._transport
        if transport is None or transport.is_closing():
            raise anyio.BrokenResourceError

    def has_unread(self) -> bool:
        """Whether bytes, an end of file or an error wait to be read (no syscall: the event loop
        has already told the protocol).

        An idle keep-alive connection should have nothing to read: if it has, the server sent
        something unasked (a 408 before closing, say) or closed it, and it must not be reused.
        """
        return (
            bool(self._chunks)
            or self._eof
            or self._error is not None
            or self._closed
            # Pooled by a client that has since moved to another event loop (a second
            # ``anyio.run``): its transport belongs to the old one, so it cannot be used.
            or asyncio._get_running_loop() is not self._loop
        )

    async def send_eof(self) -> None:
        """Close the sending side; the peer sees end of file."""
        transport = self._transport
        if transport is not None and transport.can_write_eof():
            with contextlib.suppress(OSError, RuntimeError):
                transport.write_eof()

    async def aclose(self) -> None:
        """Close at once; a task waiting on the stream wakes with ClosedResourceError."""
        self.close()

    def close(self) -> None:
        """Close without awaiting: no flush, no TLS close_notify, no waiting for the peer."""
        if self._closed:
            return
        self._closed = True
        self._chunks.clear()
        transport = self._transport
        loop = self._loop
        if transport is None:
            self._sock.close()
        elif asyncio._get_running_loop() is loop:
            transport.abort()
        elif not loop.is_closed():
            loop.call_soon_threadsafe(transport.abort)  # its own loop, still running elsewhere
        else:
            # Its loop is gone (a client used by a second ``anyio.run``): asyncio offers no way
            # to release the transport, so close the socket under it (it may warn when
            # collected, with a ResourceWarning about an unclosed transport).
            self._sock.close()
        self._wake_reader()
        self._wake_writer()

    def forget(self) -> None:
        """Close this process's descriptor only (in a forked child): no ``shutdown()`` and no
        call into the inherited event loop (whose epoll set the parent shares), so the
        connection stays open for the other process that holds it. (uvloop holds the socket
        open until its transport is collected, which then closes the descriptor, still with no
        shutdown.)"""
        self._closed = True
        self._chunks.clear()
        self._sock.close()

    @property
    def extra_attributes(self) -> dict[object, object]:  # type: ignore[override]
        """anyio's socket attributes: the raw socket and both addresses."""
        sock = self._sock
        return {
            anyio.abc.SocketAttribute.raw_socket: lambda: sock,
            anyio.abc.SocketAttribute.family: lambda: sock.family,
            anyio.abc.SocketAttribute.local_address: sock.getsockname,
            anyio.abc.SocketAttribute.remote_address: sock.getpeername,
        }


def _limit(
    loop: asyncio.AbstractEventLoop, seconds: float | None, deadline: float | None
) -> float | None:
    """When a wait must end: ``seconds`` from now on ``loop``'s clock, or ``deadline`` if that
    comes first (None: never)."""
    if seconds is None:
        return deadline
    limit = loop.time() + seconds
    return deadline if deadline is not None and deadline < limit else limit


def _expire(waiter: asyncio.Future[None]) -> None:
    """A wait's time is up: wake it with TimeoutError (unless it was woken first)."""
    if not waiter.done():
        waiter.set_exception(TimeoutError())


async def connect(host: str, port: int, ssl_context: ssl.SSLContext | None = None) -> AsyncioStream:
    """Connect to ``host:port`` (happy eyeballs, then TLS by asyncio's SSL transport if
    ``ssl_context`` is given, checking the certificate against ``host``).

    Raises OSError (``ssl.SSLError`` included) if the connection or the handshake fails.
    """
    global opened
    sock = await connect_socket(host, port)
    loop = asyncio.get_running_loop()
    stream = AsyncioStream(sock, loop)
    options: dict[str, Any] = {}
    if ssl_context is not None:
        options = {"ssl": ssl_context, "server_hostname": host}
    try:
        transport, _ = await loop.create_connection(lambda: stream, sock=sock, **options)
    except BaseException:
        if stream._transport is None:
            sock.close()
        raise
    # uvloop calls connection_made on its next turn, after create_connection returned.
    stream._transport = transport
    opened += 1
    return stream
