"""A TCP byte stream on a non-blocking socket, waited on with anyio: the pool's plain connections.

anyio's own asyncio ``SocketStream`` sits on an asyncio transport: every receive re-arms and then
pauses the transport's reader (two epoll changes) and every send ends in a shielded checkpoint (one
more trip round the event loop). That was half of a pooled request's cost on asyncio. This stream
tries the socket first and waits (``anyio.wait_readable`` / ``wait_writable``) only when it would
block, which is what trio's own socket stream does. TLS connections wrap it in anyio's
``TLSStream``.

A receive or send that did not have to wait does not yield to the event loop; every
`YIELD_EVERY` such calls in a row, one does, so that a fast peer cannot starve other tasks.
"""

from __future__ import annotations

import contextlib
import errno
import ipaddress
import os
import socket
from collections.abc import Awaitable, Callable

import anyio
import anyio.abc
import anyio.lowlevel
from anyio.streams.tls import TLSStream

from ._deadlines import bounded

__all__ = ["PoolTLSStream", "SocketStream", "connect_socket", "connect_tcp"]

YIELD_EVERY = 16
"""Calls in a row that did not wait before one yields to the event loop."""

HAPPY_EYEBALLS_DELAY = 0.25
"""Seconds before trying the next address while an attempt is still pending (RFC 8305)."""

_WOULD_BLOCK = (BlockingIOError, InterruptedError)
_IN_PROGRESS = {errno.EINPROGRESS, errno.EWOULDBLOCK, errno.EAGAIN, errno.EINTR}


class SocketStream(anyio.abc.ByteStream):
    """A connected non-blocking TCP socket as an anyio byte stream.

    Closing it while another task waits on it wakes that task (with ClosedResourceError): the
    socket is shut down at once and closed by the last waiter to leave.
    """

    __slots__ = ("_closed", "_sock", "_streak", "_waiting")

    def __init__(self, sock: socket.socket) -> None:
        self._sock = sock
        self._closed = False
        self._waiting = 0
        self._streak = 0

    async def receive(self, max_bytes: int = 65536) -> bytes:
        """Bytes from the socket (at most ``max_bytes``); EndOfStream once the peer closed."""
        sock = self._sock
        if self._streak >= YIELD_EVERY:
            self._streak = 0
            await anyio.lowlevel.checkpoint()  # before reading: a cancellation here loses nothing
        while True:
            if self._closed:
                raise anyio.ClosedResourceError
            try:
                data = sock.recv(max_bytes)
            except _WOULD_BLOCK:
                self._streak = 0
                await self._wait(anyio.wait_readable)
                continue
            except OSError as exc:
                raise anyio.BrokenResourceError from exc
            self._streak += 1
            if not data:
                raise anyio.EndOfStream
            return data

    async def receive_within(
        self, max_bytes: int, seconds: float | None, deadline: float | None
    ) -> bytes:
        """`receive()`, raising TimeoutError if it waits ``seconds`` or until the backend's
        clock reaches ``deadline`` (either may be None); no timer unless it has to wait."""
        if self._streak < YIELD_EVERY and not self._closed:
            try:
                data = self._sock.recv(max_bytes)
            except _WOULD_BLOCK:
                pass
            except OSError as exc:
                raise anyio.BrokenResourceError from exc
            else:
                self._streak += 1
                if not data:
                    raise anyio.EndOfStream
                return data
        return await bounded(self.receive, max_bytes, seconds, deadline)

    async def send_within(self, item: bytes, seconds: float | None, deadline: float | None) -> None:
        """`send()`, raising TimeoutError if the socket makes it wait ``seconds`` or until the
        backend's clock reaches ``deadline``; no timer unless it has to wait."""
        if self._streak < YIELD_EVERY and not self._closed:
            try:
                sent = self._sock.send(item)
            except _WOULD_BLOCK:
                sent = 0
            except OSError as exc:
                raise anyio.BrokenResourceError from exc
            if sent == len(item):
                self._streak += 1
                return
            item = item[sent:]
        await bounded(self.send, item, seconds, deadline)

    async def send(self, item: bytes) -> None:
        """Send all of ``item``, waiting for the socket to drain as needed (back-pressure)."""
        sock = self._sock
        if self._streak >= YIELD_EVERY:
            self._streak = 0
            await anyio.lowlevel.checkpoint()
        view = memoryview(item)
        while view:
            if self._closed:
                raise anyio.ClosedResourceError
            try:
                sent = sock.send(view)
            except _WOULD_BLOCK:
                self._streak = 0
                await self._wait(anyio.wait_writable)
                continue
            except OSError as exc:
                raise anyio.BrokenResourceError from exc
            view = view[sent:]
        self._streak += 1

    async def _wait(self, wait: Callable[[socket.socket], Awaitable[None]]) -> None:
        self._waiting += 1
        try:
            await wait(self._sock)
        finally:
            self._waiting -= 1
            if self._closed and not self._waiting:
                self._sock.close()
        if self._closed:
            raise anyio.ClosedResourceError

    def has_unread(self) -> bool:
        """Whether bytes, an end of file or an error wait on the socket (a peek; never blocks).

        An idle keep-alive connection should have nothing to read: if it has, the server sent
        something unasked (a 408 before closing, say) or closed it, and it must not be reused.
        """
        try:
            self._sock.recv(1, socket.MSG_PEEK)
        except _WOULD_BLOCK:
            return False
        except OSError:
            return True
        return True

    async def send_eof(self) -> None:
        """Close the sending side; the peer sees end of file."""
        with contextlib.suppress(OSError):
            self._sock.shutdown(socket.SHUT_WR)

    async def aclose(self) -> None:
        """Close at once; a task waiting on the socket wakes with ClosedResourceError."""
        self.close()

    def close(self) -> None:
        """Close without awaiting (the same as `aclose()`)."""
        if self._closed:
            return
        self._closed = True
        if self._waiting:
            # Closing the descriptor under a waiter would leave it waiting forever (the poller
            # forgets closed descriptors); shutting it down wakes the waiter, who then closes it.
            # (If shutdown fails, the socket is already disconnected, which wakes it too.)
            with contextlib.suppress(OSError):
                self._sock.shutdown(socket.SHUT_RDWR)
        else:
            self._sock.close()

    def forget(self) -> None:
        """Close this process's descriptor only (in a forked child): no ``shutdown()``, so the
        connection stays open for the other process that holds it."""
        self._closed = True
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


class PoolTLSStream(TLSStream):
    """anyio's ``TLSStream`` over a `SocketStream`, with the pool's stream interface.

    So the pool's reuse check asks it directly (decrypted bytes pending, or anything on the
    socket) instead of looking its SSL object up among the stream's extra attributes (a dict of
    a dozen getters built per look) on every reuse.
    """

    def has_unread(self) -> bool:
        """Whether decrypted bytes, raw bytes, an end of file or an error wait (never blocks)."""
        return bool(self._ssl_object.pending()) or self._tcp().has_unread()

    def forget(self) -> None:
        """Close this process's descriptor only (see `SocketStream.forget()`)."""
        self._tcp().forget()

    def close(self) -> None:
        """Close at once, without the TLS closing handshake."""
        self._tcp().close()

    def _tcp(self) -> SocketStream:
        tcp = self.transport_stream
        assert isinstance(tcp, SocketStream)
        return tcp


async def connect_tcp(host: str, port: int) -> SocketStream:
    """Connect to ``host:port`` (see `connect_socket()`) as a `SocketStream`."""
    return SocketStream(await connect_socket(host, port))


async def connect_socket(host: str, port: int) -> socket.socket:
    """A connected non-blocking TCP socket to ``host:port``, its addresses tried as RFC 8305 says
    (happy eyeballs).

    Raises OSError (the last failure) if no address accepts the connection.
    """
    try:
        ip = ipaddress.ip_address(host)
    except ValueError:
        infos = await anyio.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        targets = _interleave([(family, address) for family, _, _, _, address in infos])
    else:
        family = socket.AF_INET6 if ip.version == 6 else socket.AF_INET
        targets = [(family, (host, port))]
    if len(targets) == 1:
        return await _connect_one(*targets[0])
    return await _connect_first(targets, host)


async def _connect_first(targets: list[tuple[int, tuple[object, ...]]], host: str) -> socket.socket:
    """Race the addresses, each starting when the previous failed or after a short delay."""
    winner: socket.socket | None = None
    errors: list[OSError] = []

    async def attempt(target: tuple[int, tuple[object, ...]], failed: anyio.Event) -> None:
        nonlocal winner
        try:
            stream = await _connect_one(*target)
        except OSError as exc:
            errors.append(exc)
            failed.set()
            return
        if winner is None:
            winner = stream
            tg.cancel_scope.cancel()
        else:
            stream.close()

    try:
        async with anyio.create_task_group() as tg:
            for target in targets:
                failed = anyio.Event()
                tg.start_soon(attempt, target, failed)
                with anyio.move_on_after(HAPPY_EYEBALLS_DELAY):
                    await failed.wait()
    except BaseException:
        if winner is not None:  # cancelled from outside just after an attempt won
            winner.close()
        raise
    if winner is None:
        raise errors[-1] if errors else OSError(f"no address to connect to for {host!r}")
    return winner


def _interleave(
    targets: list[tuple[int, tuple[object, ...]]],
) -> list[tuple[int, tuple[object, ...]]]:
    """Alternate address families, keeping the resolver's order within each (RFC 8305 §4)."""
    first = [target for target in targets if target[0] == targets[0][0]]
    other = [target for target in targets if target[0] != targets[0][0]]
    mixed: list[tuple[int, tuple[object, ...]]] = []
    for index in range(max(len(first), len(other))):
        mixed += first[index : index + 1] + other[index : index + 1]
    return mixed


async def _connect_one(family: int, address: tuple[object, ...]) -> socket.socket:
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setblocking(False)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        error = sock.connect_ex(address)
        if error in _IN_PROGRESS:
            await anyio.wait_writable(sock)
            error = sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
        if error:
            raise OSError(error, f"connect to {address[0]}:{address[1]}: {os.strerror(error)}")
    except BaseException:
        sock.close()
        raise
    return sock
