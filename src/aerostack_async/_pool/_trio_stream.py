"""The pool's byte stream on trio: a non-blocking socket waited on with trio's own primitives.

This module is dedicated to the trio backend, so it imports trio; the pool imports it only when
the running backend is trio (as it imports `._asyncio_stream` only on asyncio). It offers the
interface the pool uses on every stream (``receive``/``receive_within``/``send``/``send_eof``/
``aclose``/``close``/``has_unread``/``forget``) and the conformance suite runs over it on trio.

What it saves over `._socket`'s ``SocketStream`` (and anyio's ``TLSStream`` on top of it):

- Waits are ``trio.lowlevel.wait_readable``/``wait_writable`` called directly, not through
  anyio's backend lookup and exception translation; a receive bounded by a timeout gets a bare
  ``trio.CancelScope``, and only if it has to wait.
- A receive tries the socket before it waits, even right after a send: from a fast peer the
  answer is most often there already (waiting first, to save the failing ``recv``, measured
  ~1.6x the CPU per call on loopback).
- A receive asks the socket for at most `RECEIVE_SIZE` bytes: unless glibc's dynamic mmap
  threshold has already risen, it serves a buffer of 128 KiB or more with ``mmap`` (which
  ``recv`` then shrinks with ``mremap`` and the bytes' release unmaps): three system calls,
  ~12 µs, per receive.
- TLS is an ``ssl.SSLObject`` on a pair of memory BIOs fed straight from the socket, with no
  inner stream beneath it and no ``SSLWantReadError`` raised just to learn that nothing is
  buffered. Like the pool's anyio TLS stream, it sends no close_notify when closed and takes a
  peer's close without one (a ragged EOF) as an end of stream.
- The reuse check (`TrioStream.has_unread()`) looks at its own buffers and flags first; it
  peeks at the socket (one ``recv(MSG_PEEK)``) only if those say nothing, since nothing tells a
  socket waited on this way that its peer wrote or closed.

A receive or send that did not have to wait does not yield to the scheduler; every `YIELD_EVERY`
such calls in a row, one does, so that a fast peer cannot starve other tasks.
"""

from __future__ import annotations

import contextlib
import socket
import ssl
from collections.abc import Callable, Mapping
from typing import Any, NoReturn

import anyio
import anyio.abc
import trio
import trio.lowlevel
from anyio.streams.tls import TLSAttribute

from ._socket import YIELD_EVERY, connect_socket

__all__ = ["RECEIVE_SIZE", "TrioStream", "TrioTLSStream", "connect"]

RECEIVE_SIZE = 65536
"""The most one receive asks of the socket (or of TLS) at a time, whatever the caller asks for
(see the module's docstring: a larger buffer costs ``mmap`` system calls per receive)."""

_RAW_READ = 65536  # bytes of TLS records read from the socket at a time
_WOULD_BLOCK = (BlockingIOError, InterruptedError)

opened = 0
"""Streams this process has connected (a counter: tests check the trio path is taken)."""


class TrioStream(anyio.abc.ByteStream):
    """A connected non-blocking TCP socket as an anyio byte stream, waited on by trio.

    Closing it while another task waits on it wakes that task with ClosedResourceError.
    """

    __slots__ = ("_closed", "_sock", "_streak")

    def __init__(self, sock: socket.socket) -> None:
        self._sock = sock
        self._closed = False
        self._streak = 0

    # -- receiving --------------------------------------------------------------------------

    async def receive(self, max_bytes: int = 65536) -> bytes:
        """Bytes received (at most ``max_bytes``); EndOfStream once the peer closed."""
        return await self.receive_within(max_bytes, None, None)

    async def receive_within(
        self, max_bytes: int, seconds: float | None, deadline: float | None
    ) -> bytes:
        """`receive()`, raising TimeoutError if it waits ``seconds`` or until trio's clock
        reaches ``deadline`` (either may be None); no cancel scope unless it has to wait."""
        if self._streak >= YIELD_EVERY:
            self._streak = 0
            await trio.lowlevel.checkpoint()  # before reading: a cancellation here loses nothing
        size = max_bytes if max_bytes < RECEIVE_SIZE else RECEIVE_SIZE
        data = self._read_now(size)
        if data is None:
            # Nothing yet: let the other tasks run, then look again before parking on the
            # socket (a wait costs an epoll registration and a wake-up; from a fast peer, the
            # bytes have most often come in the meantime).
            self._streak = 0
            await trio.lowlevel.checkpoint()
            data = self._read_now(size)
            if data is None:
                if seconds is None and deadline is None:
                    return await self._read_waiting(size)
                with trio.CancelScope(deadline=_limit(seconds, deadline)):
                    return await self._read_waiting(size)
                raise TimeoutError
        self._streak += 1
        if not data:
            raise anyio.EndOfStream
        return data

    def _read_now(self, size: int) -> bytes | None:
        """What can be read without waiting (b"" at the end of the stream), or None."""
        if self._closed:
            raise anyio.ClosedResourceError
        try:
            return self._sock.recv(size)
        except _WOULD_BLOCK:
            return None
        except OSError as exc:
            raise anyio.BrokenResourceError from exc

    async def _read_waiting(self, size: int) -> bytes:
        self._streak = 0
        sock = self._sock
        while True:
            await self._wait_readable()
            try:
                data = sock.recv(size)
            except _WOULD_BLOCK:
                continue
            except OSError as exc:
                raise anyio.BrokenResourceError from exc
            self._streak = 1
            if not data:
                raise anyio.EndOfStream
            return data

    async def _wait_readable(self) -> None:
        if self._closed:
            raise anyio.ClosedResourceError
        try:
            await trio.lowlevel.wait_readable(self._sock)
        except trio.ClosedResourceError:
            raise anyio.ClosedResourceError from None
        except trio.BusyResourceError:
            raise anyio.BusyResourceError("reading from") from None
        if self._closed:
            raise anyio.ClosedResourceError

    # -- sending ----------------------------------------------------------------------------

    async def send(self, item: bytes) -> None:
        """Send all of ``item``, waiting for the socket to drain as needed (back-pressure)."""
        await self.send_within(item, None, None)

    async def send_within(self, item: bytes, seconds: float | None, deadline: float | None) -> None:
        """`send()`, raising TimeoutError if the socket makes it wait ``seconds`` or until
        trio's clock reaches ``deadline``; no cancel scope unless it has to wait."""
        if self._streak >= YIELD_EVERY:
            self._streak = 0
            await trio.lowlevel.checkpoint()
        if self._closed:
            raise anyio.ClosedResourceError
        await self._send_raw(item, seconds, deadline)
        self._streak += 1

    async def _send_raw(
        self, data: bytes, seconds: float | None = None, deadline: float | None = None
    ) -> None:
        sock = self._sock
        try:
            sent = sock.send(data)
        except _WOULD_BLOCK:
            sent = 0
        except OSError as exc:
            raise anyio.BrokenResourceError from exc
        if sent == len(data):
            return
        view = memoryview(data)[sent:]
        self._streak = 0
        if seconds is None and deadline is None:
            await self._send_waiting(view)
            return
        with trio.CancelScope(deadline=_limit(seconds, deadline)):
            await self._send_waiting(view)
            return
        raise TimeoutError

    async def _send_waiting(self, view: memoryview) -> None:
        sock = self._sock
        while view:
            if self._closed:
                raise anyio.ClosedResourceError
            try:
                await trio.lowlevel.wait_writable(sock)
            except trio.ClosedResourceError:
                raise anyio.ClosedResourceError from None
            except trio.BusyResourceError:
                raise anyio.BusyResourceError("writing to") from None
            if self._closed:
                raise anyio.ClosedResourceError
            try:
                sent = sock.send(view)
            except _WOULD_BLOCK:
                continue
            except OSError as exc:
                raise anyio.BrokenResourceError from exc
            view = view[sent:]

    async def send_eof(self) -> None:
        """Close the sending side; the peer sees end of file."""
        with contextlib.suppress(OSError):
            self._sock.shutdown(socket.SHUT_WR)

    # -- the pool's checks and closing --------------------------------------------------------

    def has_unread(self) -> bool:
        """Whether bytes, an end of file or an error wait to be read (never blocks).

        An idle keep-alive connection should have nothing to read: if it has, the server sent
        something unasked (a 408 before closing, say) or closed it, and it must not be reused.
        Outside trio (a pool used again under another backend) it cannot be waited on: True.
        """
        if self._closed:
            return True
        try:
            self._sock.recv(1, socket.MSG_PEEK)
        except _WOULD_BLOCK:
            try:
                trio.lowlevel.current_trio_token()
            except RuntimeError:
                return True
            return False
        except OSError:
            return True
        return True

    async def aclose(self) -> None:
        """Close at once; a task waiting on the stream wakes with ClosedResourceError."""
        self.close()

    def close(self) -> None:
        """Close without awaiting: no flush, no TLS close_notify, no waiting for the peer."""
        if self._closed:
            return
        self._closed = True
        with contextlib.suppress(RuntimeError):  # outside trio nobody can be waiting on it
            trio.lowlevel.notify_closing(self._sock)  # wakes a waiter: ClosedResourceError
        self._sock.close()

    def forget(self) -> None:
        """Close this process's descriptor only (in a forked child): no ``shutdown()`` and no
        call into the inherited trio run (whose epoll set the parent shares), so the
        connection stays open for the other process that holds it."""
        self._closed = True
        self._sock.close()

    @property
    def extra_attributes(self) -> Mapping[Any, Callable[[], Any]]:
        """anyio's socket attributes: the raw socket and both addresses."""
        sock = self._sock
        return {
            anyio.abc.SocketAttribute.raw_socket: lambda: sock,
            anyio.abc.SocketAttribute.family: lambda: sock.family,
            anyio.abc.SocketAttribute.local_address: sock.getsockname,
            anyio.abc.SocketAttribute.remote_address: sock.getpeername,
        }


class TrioTLSStream(TrioStream):
    """A TLS connection: an ``ssl.SSLObject`` on memory BIOs, fed from the socket directly.

    Closing it sends no close_notify; a peer that closes without one ends the stream like one
    that sent it (EndOfStream), as anyio's ``TLSStream`` does with ``standard_compatible=False``.
    """

    __slots__ = ("_broken", "_eof", "_incoming", "_outgoing", "_ssl")

    def __init__(self, sock: socket.socket, ssl_context: ssl.SSLContext, hostname: str) -> None:
        super().__init__(sock)
        self._incoming = ssl.MemoryBIO()
        self._outgoing = ssl.MemoryBIO()
        self._ssl = ssl_context.wrap_bio(self._incoming, self._outgoing, server_hostname=hostname)
        self._eof = False  # the socket reached end of file (written to the incoming BIO)
        self._broken = False  # TLS failed, or a record was lost half sent: nothing more to do

    async def handshake(self) -> None:
        """The TLS handshake, checking the peer's certificate (and name, as the context says).

        Raises ``ssl.SSLError`` if it fails, EndOfStream if the peer closes during it.
        """
        ssl_object = self._ssl
        while True:
            try:
                ssl_object.do_handshake()
            except ssl.SSLWantReadError:
                await self._flush()
                while not self._pull():
                    await self._wait_readable()
            except ssl.SSLError as exc:
                self._fail(exc)
            else:
                break
        await self._flush()

    # -- receiving --------------------------------------------------------------------------

    def _read_now(self, size: int) -> bytes | None:
        if self._closed:
            raise anyio.ClosedResourceError
        if self._broken:
            raise anyio.BrokenResourceError
        if self._incoming.pending or self._eof or self._ssl.pending():
            data = self._decrypt(size)
            if data is not None:
                return data
        if self._pull():
            return self._decrypt(size)
        return None

    async def _read_waiting(self, size: int) -> bytes:
        self._streak = 0
        await self._flush()  # what reading produced (a TLS 1.2 renegotiation answer, rarely)
        while True:
            await self._wait_readable()
            if self._broken:
                raise anyio.BrokenResourceError
            if not self._pull():
                continue
            data = self._decrypt(size)
            if data is None:
                continue  # part of a record: wait for the rest
            self._streak = 1
            if not data:
                raise anyio.EndOfStream
            return data

    def _pull(self) -> bool:
        """Move what the socket has into the incoming BIO; False if it has nothing yet."""
        try:
            data = self._sock.recv(_RAW_READ)
        except _WOULD_BLOCK:
            return False
        except OSError as exc:
            self._broken = True
            raise anyio.BrokenResourceError from exc
        if data:
            self._incoming.write(data)
        else:
            self._incoming.write_eof()
            self._eof = True
        return True

    def _decrypt(self, size: int) -> bytes | None:
        """Plain bytes (b"" once the peer closed), or None if a whole record has not come."""
        try:
            return self._ssl.read(size)
        except ssl.SSLWantReadError:
            if self._eof:  # (OpenSSL reports an EOF mid-record as an error: never reached)
                raise anyio.EndOfStream from None
            return None
        except ssl.SSLError as exc:
            self._fail(exc)

    def _fail(self, exc: ssl.SSLError) -> NoReturn:
        """Raise what a TLS error means to the caller, as anyio's TLSStream maps it."""
        if isinstance(exc, ssl.SSLEOFError) or (
            exc.strerror and "UNEXPECTED_EOF_WHILE_READING" in exc.strerror
        ):
            raise anyio.EndOfStream from None  # the peer closed without close_notify: ragged
        self._broken = True
        if isinstance(exc, ssl.SSLSyscallError):
            raise anyio.BrokenResourceError from exc
        raise exc

    # -- sending ----------------------------------------------------------------------------

    async def send_within(self, item: bytes, seconds: float | None, deadline: float | None) -> None:
        """Encrypt and send all of ``item``, waiting for the socket to drain as needed; raises
        TimeoutError if that wait passes ``seconds`` or ``deadline``."""
        if self._streak >= YIELD_EVERY:
            self._streak = 0
            await trio.lowlevel.checkpoint()
        if self._closed:
            raise anyio.ClosedResourceError
        if self._broken:
            raise anyio.BrokenResourceError
        if item:
            try:
                self._ssl.write(item)
            except ssl.SSLError as exc:
                self._fail(exc)
        await self._flush(seconds, deadline)
        self._streak += 1

    async def _flush(self, seconds: float | None = None, deadline: float | None = None) -> None:
        outgoing = self._outgoing
        if outgoing.pending:
            try:
                await self._send_raw(outgoing.read(), seconds, deadline)
            except BaseException:
                # The records are numbered: once one is lost, the peer can decrypt nothing
                # after it (anyio and trio also give up on the stream then).
                self._broken = True
                raise

    async def send_eof(self) -> None:
        """Not supported over TLS (as with anyio's TLSStream, which the pool used before)."""
        raise NotImplementedError("send_eof() is not supported on TLS streams")

    # -- the pool's checks ---------------------------------------------------------------------

    def has_unread(self) -> bool:
        """Whether decrypted or raw bytes, an end of file or an error wait (never blocks)."""
        if self._eof or self._broken or self._incoming.pending or self._ssl.pending():
            return True
        return super().has_unread()

    @property
    def extra_attributes(self) -> Mapping[Any, Callable[[], Any]]:
        """The socket's attributes and anyio's TLS attributes."""
        ssl_object = self._ssl
        return {
            **super().extra_attributes,
            TLSAttribute.alpn_protocol: ssl_object.selected_alpn_protocol,
            TLSAttribute.channel_binding_tls_unique: ssl_object.get_channel_binding,
            TLSAttribute.cipher: ssl_object.cipher,
            TLSAttribute.peer_certificate: lambda: ssl_object.getpeercert(False),
            TLSAttribute.peer_certificate_binary: lambda: ssl_object.getpeercert(True),
            TLSAttribute.server_side: lambda: False,
            TLSAttribute.shared_ciphers: lambda: None,
            TLSAttribute.standard_compatible: lambda: False,
            TLSAttribute.ssl_object: lambda: ssl_object,
            TLSAttribute.tls_version: ssl_object.version,
        }


def _limit(seconds: float | None, deadline: float | None) -> float:
    """When a wait must end: ``seconds`` from now or ``deadline``, whichever comes first."""
    if seconds is None:
        assert deadline is not None
        return deadline
    limit = trio.current_time() + seconds
    return limit if deadline is None or limit < deadline else deadline


async def connect(host: str, port: int, ssl_context: ssl.SSLContext | None = None) -> TrioStream:
    """Connect to ``host:port`` (happy eyeballs, then the TLS handshake if ``ssl_context`` is
    given, checking the certificate against ``host``).

    Raises OSError (``ssl.SSLError`` included) if the connection or the handshake fails, or
    EndOfStream if the peer closes during the handshake.
    """
    global opened
    sock = await connect_socket(host, port)
    if ssl_context is None:
        stream = TrioStream(sock)
    else:
        try:
            stream = TrioTLSStream(sock, ssl_context, host)
            await stream.handshake()
        except BaseException:
            with contextlib.suppress(RuntimeError):
                trio.lowlevel.notify_closing(sock)
            sock.close()
            raise
    opened += 1
    return stream
