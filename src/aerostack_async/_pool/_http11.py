"""One HTTP/1.1 exchange on a pooled connection: anyio bytes in and out, a codec for the protocol.

The codec (httptools or h11, see `._codec`) does all of the protocol work: framing both
ways, header validation, keep-alive rules. This module moves bytes, applies the request's timeouts
and maps every failure onto httpx's exception types, so that httpx (and our client's retry and
error mapping) cannot tell it from httpcore.
"""

from __future__ import annotations

import math
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from typing import TYPE_CHECKING, Any

import anyio
import anyio.abc
import httpx
from anyio.streams.tls import TLSAttribute

from ._codec import (
    Codec,
    Dialect,
    InvalidRequest,
    LocalProtocolFailure,
    RemoteProtocolFailure,
    ResponseHead,
    explain_invalid,
)
from ._deadlines import DeadlineExceeded, bounded, limit_of, past

if TYPE_CHECKING:
    from ._slots import Origin, Slots
    from ._socket import SocketStream

READ_SIZE = 256 * 1024
"""Bytes asked of the socket per read: large, so a big body costs few wake-ups."""

ONE_WRITE_LIMIT = 64 * 1024
"""A request body up to this size is sent in the same write as its head."""

_IO_ERRORS = (anyio.BrokenResourceError, anyio.ClosedResourceError, OSError)

EXPECT_CONTINUE_WAIT = 1.0
"""Seconds to wait for ``100 Continue`` before sending the body anyway (RFC 9110, 10.1.1)."""


class BodyWithheld(Exception):
    """The server answered (or closed) before ``100 Continue``: the body was never sent."""


class Connection:
    """An open connection to one origin: its byte stream and the protocol state on it."""

    __slots__ = (
        "codec",
        "eof",
        "idle_since",
        "origin",
        "receive_within",
        "registry",
        "send_within",
        "served",
        "stream",
        "tcp",
    )

    def __init__(
        self,
        stream: anyio.abc.ByteStream,
        origin: Origin,
        registry: set[Connection],
        codec: Codec,
        tcp: SocketStream | None = None,
    ) -> None:
        self.stream = stream
        self.tcp = tcp  # the socket beneath (under TLS too), to look at while the connection idles
        self.origin = origin
        self.codec = codec
        self.idle_since = 0.0
        self.served = 0
        # No reuse: the peer closed its side (a close-delimited body ended), or the exchange
        # ended without keep-alive.
        self.eof = False
        self.registry = registry
        registry.add(self)
        # One read bounded by a timeout and a deadline: the stream's own way when it has one (a
        # timer only if it must wait), else under a cancel scope.
        own = getattr(stream, "receive_within", None)
        self.receive_within: ReceiveWithin = own if own is not None else _scoped(stream)
        sends = getattr(stream, "send_within", None)
        self.send_within: SendWithin = sends if sends is not None else _scoped_send(stream)

    def unfit_for_reuse(self) -> bool:
        """An idle connection the server has written to (or closed) since its last response."""
        tcp = self.tcp
        if tcp is None:
            return False
        if self.stream is not tcp:
            ssl_object = self.stream.extra(TLSAttribute.ssl_object, None)  # noqa: S610 (anyio)
            if ssl_object is not None and ssl_object.pending():
                return True
        return tcp.has_unread()

    async def aclose(self) -> None:
        """Close at once: no TLS close_notify round trip, no waiting for the peer."""
        self.registry.discard(self)
        await anyio.aclose_forcefully(self.stream)

    def forget(self) -> None:
        """Let go of a connection another process shares (after a fork): not a byte is sent."""
        self.registry.discard(self)
        self.eof = True  # whoever still holds it in this process must not put it back
        if self.tcp is not None:
            self.tcp.forget()


ReceiveWithin = Callable[[int, "float | None", "float | None"], Awaitable[bytes]]
"""``receive_within(max_bytes, seconds, deadline)``: one receive, raising TimeoutError once
``seconds`` pass or the backend clock reaches ``deadline`` (either may be None)."""


SendWithin = Callable[[bytes, "float | None", "float | None"], Awaitable[None]]
"""``send_within(data, seconds, deadline)``: send all of ``data``, raising TimeoutError if the
stream makes it wait past ``seconds`` or ``deadline`` (a timer only when it has to wait)."""


def _scoped_send(stream: anyio.abc.ByteStream) -> SendWithin:
    async def send_within(data: bytes, seconds: float | None, deadline: float | None) -> None:
        await bounded(stream.send, data, seconds, deadline)

    return send_within


def _scoped(stream: anyio.abc.ByteStream) -> ReceiveWithin:
    async def receive_within(
        max_bytes: int, seconds: float | None, deadline: float | None
    ) -> bytes:
        return await bounded(stream.receive, max_bytes, seconds, deadline)

    return receive_within


class Outgoing:
    """A request on its way out, with or without an ``httpx.Request`` behind it.

    ``content`` is a body known whole (sent in one write when small, and replayable), or None
    with the body in ``stream``. ``request`` is the ``httpx.Request``, if there is one (httpx's
    errors carry it). ``deadline`` is the call's own, on the backend clock (None: none).
    """

    __slots__ = ("content", "deadline", "expect", "method", "prepared", "request", "stream")

    def __init__(
        self,
        method: str,
        prepared: object,
        content: bytes | None,
        stream: httpx.AsyncByteStream | None,
        expect: bool,
        request: httpx.Request | None = None,
        deadline: float | None = None,
    ) -> None:
        self.method = method
        self.prepared = prepared
        self.content = content
        self.stream = stream
        self.expect = expect
        self.request = request
        self.deadline = deadline

    @classmethod
    def of(cls, dialect: Dialect, request: httpx.Request) -> Outgoing:
        """An ``httpx.Request``, validated (before any connection is touched)."""
        prepared = prepare(dialect, request)
        body = request.stream
        content: bytes | None = None
        stream: httpx.AsyncByteStream | None = None
        if isinstance(body, httpx.ByteStream):
            content = b"".join(body)  # (in memory: read without awaiting)
        else:
            assert isinstance(body, httpx.AsyncByteStream), "a sync body under an async transport"
            stream = body
        return cls(request.method, prepared, content, stream, expects_continue(request), request)


class StaleConnection(Exception):
    """A reused connection ended before it sent a byte of the response.

    Most often the server closed it while it sat idle, just as it was reused; but the server may
    also have read the request (and acted on it) before closing. So the pool sends the request
    again only if its method is safe (GET, HEAD, OPTIONS, TRACE) and its body can be sent again.
    ``error`` is what to raise otherwise.
    """

    def __init__(self, error: httpx.TransportError) -> None:
        super().__init__(str(error))
        self.error = error


# ----------------------------------------------------------------------------------------------
# The request


def prepare(dialect: Dialect, request: httpx.Request) -> object:
    """Validate ``request`` for ``dialect``: its method, target and every header.

    A header name or value that could split or smuggle a request (CR, LF, NUL, ...) raises
    httpx.LocalProtocolError here, before a connection is even taken. The message names the
    header but never shows its value, which may be a credential.
    """
    try:
        return dialect.prepare(request)
    except InvalidRequest:
        raise httpx.LocalProtocolError(explain_invalid(request), request=request) from None


SMALL_REQUEST = 8 * 1024
"""A request with a known body up to this size is sent in one write (timed only if the socket
makes it wait: an idle connection's buffer is empty, so it almost never does)."""


def _small_request(codec: Codec, out: Outgoing) -> bytes | None:
    """The whole request as one buffer, if its body is known and it is small; else None."""
    content = out.content
    if content is None or len(content) > SMALL_REQUEST:
        return None
    data = codec.start(out.prepared)
    if content:
        data += codec.body(content)
    return data + codec.end()


async def _send_request(
    codec: Codec,
    stream: anyio.abc.ByteStream,
    out: Outgoing,
    scope: anyio.CancelScope,
    write_timeout: float | None,
) -> BaseException | None:
    """Send the request; return the socket error that stopped it, if one did.

    Only the socket's own failures are returned: an exception from the body's producer (a file
    that cannot be read) propagates as it is.
    """
    content = out.content
    if content is not None:
        head = codec.start(out.prepared)
        try:
            if len(content) <= ONE_WRITE_LIMIT:
                # Head, body and framing in one write: one syscall, one packet.
                await stream.send(head + codec.body(content) + codec.end())
            else:
                await stream.send(head)
                if out.expect:
                    refused = await _await_continue(codec, stream)
                    if refused is not None:
                        return refused
                await stream.send(codec.body(content))
                end = codec.end()
                if end:
                    await stream.send(end)
        except _IO_ERRORS as exc:
            return exc
        return None
    # A streamed body: each chunk is written (awaiting the socket: back-pressure) before the next
    # is asked for. The write timeout covers the writes, not the wait for the producer.
    body = out.stream
    assert body is not None
    try:
        await stream.send(codec.start(out.prepared))
    except _IO_ERRORS as exc:
        return exc
    if out.expect:
        refused = await _await_continue(codec, stream)
        if refused is not None:
            return refused
    bound = out.deadline if out.deadline is not None else math.inf
    scope.deadline = bound
    chunks = body.__aiter__()
    try:
        async for chunk in chunks:
            if chunk:
                data = codec.body(chunk)
                if write_timeout is not None:
                    scope.deadline = min(anyio.current_time() + write_timeout, bound)
                try:
                    await stream.send(data)
                except _IO_ERRORS as exc:
                    return exc
                scope.deadline = bound
    finally:
        # Left early (a failed write): finalise the producer now, in this task, not at GC.
        aclose = getattr(chunks, "aclose", None)
        if aclose is not None:
            await aclose()
    if write_timeout is not None:
        scope.deadline = min(anyio.current_time() + write_timeout, bound)
    end = codec.end()
    if end:
        try:
            await stream.send(end)
        except _IO_ERRORS as exc:
            return exc
    return None


def expects_continue(request: httpx.Request) -> bool:
    """Whether the request asks the server to accept its head before the body goes out."""
    expect: str = request.headers.get("expect", "")
    return expect.lower() == "100-continue"


async def _await_continue(codec: Codec, stream: anyio.abc.ByteStream) -> BaseException | None:
    """After the head of an ``Expect: 100-continue`` request: None if the body should follow.

    Otherwise what stopped it: the server's final answer came first (a 401 for a wrong key, a
    413 for a file too large), or it closed, or the socket failed. Then the body is never sent,
    which is the point: a refused upload costs a round trip, not its size. A server that ignores
    the header gets the body after `EXPECT_CONTINUE_WAIT` seconds.
    """
    with anyio.move_on_after(EXPECT_CONTINUE_WAIT):
        while not codec.continued:
            if codec.head is not None:
                return BodyWithheld("the server answered before the request body was sent")
            try:
                data = await stream.receive(READ_SIZE)
            except anyio.EndOfStream:
                data = b""
            except _IO_ERRORS as exc:
                return exc
            codec.feed(data)
            if not data:
                return BodyWithheld("the server closed the connection before the request body")
    return None


async def exchange(
    conn: Connection, out: Outgoing, timeouts: Mapping[str, Any]
) -> tuple[ResponseHead, list[bytes], bool]:
    """Send ``out`` on ``conn`` and read the response head and whatever body came with it.

    Returns the head, the body chunks already received and whether they are the whole body.
    Raises httpx's exception types, or StaleConnection. On any exception the caller must discard
    the connection; on success the connection is mid-response unless the body is complete.

    A small request (the library's own calls) is one write that cannot block, with no timer;
    each read is bounded by the read timeout and the call's deadline, with a timer only if it
    has to wait. A larger one is written under the write timeout.
    """
    codec = conn.codec
    stream = conn.stream
    request = out.request
    deadline = out.deadline
    reused = conn.served > 0
    conn.served += 1
    read_timeout = timeouts.get("read")
    reading = False
    received = False
    write_error: BaseException | None = None
    try:
        small = _small_request(codec, out)
        if small is not None:
            # One write, with a timer only if the socket makes it wait (an idle connection's
            # buffer is empty: a small request fits in it).
            try:
                await conn.send_within(small, timeouts.get("write"), deadline)
            except _IO_ERRORS as exc:
                if isinstance(exc, TimeoutError):
                    raise _write_timeout(deadline, request) from None
                write_error = exc
        else:
            write_timeout = timeouts.get("write")
            limit = limit_of(write_timeout, deadline)
            with anyio.CancelScope(deadline=math.inf if limit is None else limit) as scope:
                # If the write failed, the server may have answered early (a 413 to a big
                # upload) and closed: read on, and report the write error only if no response
                # came.
                write_error = await _send_request(codec, stream, out, scope, write_timeout)
            if scope.cancelled_caught:
                raise _write_timeout(deadline, request)
        reading = True
        receive_within = conn.receive_within
        while True:
            head = codec.head
            if head is not None:
                if write_error is not None:
                    conn.eof = True  # the request went out incomplete: never reuse
                return head, codec.take(), codec.complete
            if received and deadline is not None and anyio.current_time() >= deadline:
                raise TimeoutError  # (a head that keeps trickling in: bytes never stop a read)
            try:
                # The read timeout bounds each read, as httpx's own transport does.
                data = await receive_within(READ_SIZE, read_timeout, deadline)
            except anyio.EndOfStream:
                data = b""
            if not data:
                if not received:
                    raise _no_response(request, reused, write_error, None)
                conn.eof = True
            received = True
            codec.feed(data)
    except TimeoutError:
        if not reading:
            raise  # the body's producer's own (a read timeout is only ever raised while reading)
        if past(deadline):
            raise DeadlineExceeded(
                "The call's deadline passed waiting for the response", request=request
            ) from None
        raise httpx.ReadTimeout("Timed out reading the response", request=request) from None
    except RemoteProtocolFailure as exc:
        raise httpx.RemoteProtocolError(str(exc), request=request) from exc
    except LocalProtocolFailure as exc:
        raise httpx.LocalProtocolError(str(exc), request=request) from exc
    except _IO_ERRORS as exc:
        if not reading:
            raise  # the body's producer failed: socket write errors were returned, not raised
        if not received:
            raise _no_response(request, reused, write_error, exc) from exc
        raise httpx.ReadError(_describe(exc), request=request) from exc


def _write_timeout(deadline: float | None, request: httpx.Request | None) -> httpx.TimeoutException:
    """The error for a write that ran out of time: the call's deadline, or the write timeout."""
    if past(deadline):
        return DeadlineExceeded("The call's deadline passed while sending", request=request)
    return httpx.WriteTimeout("Timed out sending the request", request=request)


def _no_response(
    request: httpx.Request | None,
    reused: bool,
    write_error: BaseException | None,
    read_error: BaseException | None,
) -> Exception:
    """The error for a connection that ended (EOF or reset) before any byte of a response."""
    error: httpx.TransportError
    if write_error is not None:
        error = httpx.WriteError(_describe(write_error), request=request)
    elif read_error is not None:
        error = httpx.ReadError(_describe(read_error), request=request)
    else:
        error = httpx.RemoteProtocolError(
            "Server disconnected without sending a response.", request=request
        )
    return StaleConnection(error) if reused else error


def _describe(exc: BaseException) -> str:
    cause = exc.__cause__ if isinstance(exc, anyio.BrokenResourceError) else None
    return str(exc) or str(cause or "") or type(cause or exc).__name__


# ----------------------------------------------------------------------------------------------
# The response


async def release(slots: Slots[Connection], conn: Connection) -> None:
    """A response was read to its end: pool the connection if both sides allow it, else close it.

    The common case (reusable, nobody waiting, room on the idle stack) completes without awaiting.
    """
    if conn.eof or not conn.codec.reuse():
        await slots.discard(conn)
    elif not slots.put_back_nowait(conn):
        await slots.put_back(conn)


async def _read_more(
    conn: Connection, read_timeout: float | None, deadline: float | None = None
) -> None:
    """One read from the socket into the codec, under the read timeout and the call's deadline
    (an end of file too); TimeoutError when either passes."""
    if deadline is not None and anyio.current_time() >= deadline:
        # A body that keeps arriving never makes a read wait, so its timer would never fire.
        raise TimeoutError
    try:
        # Each read is timed, as httpx's own transport times them.
        data = await conn.receive_within(READ_SIZE, read_timeout, deadline)
    except anyio.EndOfStream:
        data = b""
    if not data:
        conn.eof = True
    conn.codec.feed(data)


async def read_rest(
    conn: Connection, chunks: list[bytes], read_timeout: float | None, deadline: float | None
) -> None:
    """Read the rest of a body into ``chunks``; raises what the socket or the codec raised."""
    codec = conn.codec
    while not codec.complete:
        await _read_more(conn, read_timeout, deadline)
        chunks += codec.take()


class ResponseBody(httpx.AsyncByteStream):
    """The body of a response, streamed off its connection.

    Read to the end, the connection goes back to the pool; closed before that (``break``, an
    error, a cancellation), the connection is closed, never reused.
    """

    __slots__ = ("_conn", "_pending", "_read_timeout", "_request", "_slots")

    def __init__(
        self,
        pending: list[bytes],
        conn: Connection | None,
        slots: Slots[Connection],
        read_timeout: float | None,
        request: httpx.Request,
    ) -> None:
        self._pending = pending
        self._conn = conn
        self._slots = slots
        self._read_timeout = read_timeout
        self._request = request

    def __aiter__(self) -> AsyncIterator[bytes]:
        return self

    async def __anext__(self) -> bytes:
        while True:
            pending = self._pending
            if pending:
                data = pending[0] if len(pending) == 1 else b"".join(pending)
                pending.clear()
                return data
            conn = self._conn
            if conn is None:
                raise StopAsyncIteration
            await self._read(conn)

    async def _read(self, conn: Connection) -> None:
        """Read until some body arrives or the body ends (then release the connection)."""
        codec = conn.codec
        try:
            while not codec.complete:
                await _read_more(conn, self._read_timeout)
                self._pending += codec.take()
                if self._pending and not codec.complete:
                    return
        except BaseException as exc:
            self._conn = None
            await self._slots.discard(conn)
            mapped = map_read_error(exc, self._request)
            if mapped is None:
                raise
            raise mapped from exc
        self._conn = None
        await release(self._slots, conn)

    async def aclose(self) -> None:
        """Release the connection: closed, unless the body was read to its end."""
        conn = self._conn
        if conn is not None:
            self._conn = None
            self._pending.clear()
            await self._slots.discard(conn)


def map_read_error(
    exc: BaseException, request: httpx.Request | None, deadline: float | None = None
) -> httpx.TransportError | None:
    """httpx's exception for a failure while reading a body; None if it is not a read failure."""
    if isinstance(exc, TimeoutError):
        if past(deadline):
            return DeadlineExceeded(
                "The call's deadline passed reading the response body", request=request
            )
        return httpx.ReadTimeout("Timed out reading the response body", request=request)
    if isinstance(exc, RemoteProtocolFailure):
        return httpx.RemoteProtocolError(str(exc), request=request)
    if isinstance(exc, _IO_ERRORS):
        return httpx.ReadError(_describe(exc), request=request)
    return None
