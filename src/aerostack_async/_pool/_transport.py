"""AsyncPoolTransport: the httpx transport that ties the pool's books to HTTP/1.1 connections."""

from __future__ import annotations

import functools
import os
import ssl
import time
import urllib.request
from collections.abc import Mapping
from datetime import timedelta
from typing import Any, cast

import anyio
import anyio.abc
import httpx
import sniffio

from ._codec import (
    Dialect,
    HeadFields,
    InvalidRequest,
    ResponseHead,
    dialect,
    explain_invalid_parts,
)
from ._deadlines import DeadlineExceeded, past
from ._fork import track
from ._http11 import (
    Connection,
    Outgoing,
    ResponseBody,
    StaleConnection,
    exchange,
    map_read_error,
    read_rest,
    release,
)
from ._slots import Origin, Slots, SlotTimeout
from ._socket import PoolTLSStream, SocketStream, connect_tcp

STREAM_ENV = "AEROSTACK_POOL_STREAM"
"""``auto`` (the default: a stream native to the running backend, `._asyncio_stream` on asyncio
and uvloop, `._trio_stream` on trio) or ``socket`` (the portable socket stream, with anyio's TLS,
everywhere: to compare, or to rule the native ones out)."""

DEFAULT_LIMITS = httpx.Limits(max_connections=100, max_keepalive_connections=20, keepalive_expiry=5)
"""httpx's own defaults, so that swapping transports changes nothing but the speed."""

_DEFAULT_PORTS = {b"http": 80, b"https": 443}
_NO_TIMEOUTS: Mapping[str, Any] = {}
_HTTP_VERSIONS = {b"1.1": b"HTTP/1.1", b"1.0": b"HTTP/1.0"}
# RFC 9110's safe methods: asking again changes nothing on the server (section 9.2.2 lets a
# client retry these on its own). PUT and DELETE are idempotent, not safe: a second one is a
# second attempt the caller did not ask for (retry=None means one).
_REPLAYABLE_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "TRACE"})
# httpx sends ``Content-Length: 0`` for these when there is no body; the fast path does too.
_SENDS_LENGTH = frozenset({"POST", "PUT", "PATCH"})


class _Counter:
    """How often a path ran (tests check the fast path is the one taken)."""

    __slots__ = ("taken",)

    def __init__(self) -> None:
        self.taken = 0


fetches = _Counter()
"""Requests sent by `AsyncPoolTransport.fetch()`, the fast path (no ``httpx.Request``)."""


def pool_applies(*, http2: bool = False, proxy: object = None, trust_env: bool = True) -> bool:
    """Whether a client built with these options may use `AsyncPoolTransport`.

    Not with HTTP/2, nor with a proxy, given as an argument or (with ``trust_env``) by the
    ``HTTP_PROXY`` / ``HTTPS_PROXY`` / ``ALL_PROXY`` environment variables: httpx ignores those
    variables once a ``transport=`` is passed, so such clients must keep httpx's own transport.
    """
    if http2 or proxy is not None:
        return False
    if trust_env:
        proxies = urllib.request.getproxies()
        if any(proxies.get(scheme) for scheme in ("http", "https", "all")):
            return False
    return True


def default_ssl_context(verify: str | bool, cert: Any, trust_env: bool) -> ssl.SSLContext:
    """The SSL context httpx would build for these settings, shared by the process.

    Cached by everything that can change it: the verification setting, the client certificate
    and, with ``trust_env``, ``SSL_CERT_FILE`` and ``SSL_CERT_DIR`` (read now, so changing them
    later gives later transports a new context). Loading the CA bundle costs 15-20 ms of CPU;
    without this every new client paid it on its first HTTPS request.
    """
    env = (os.environ.get("SSL_CERT_FILE"), os.environ.get("SSL_CERT_DIR")) if trust_env else None
    try:
        return _cached_ssl_context(verify, cert, trust_env, env)
    except TypeError:  # an unhashable cert (a list, say): build it, uncached
        return _new_ssl_context(verify, cert, trust_env)


@functools.lru_cache(maxsize=16)
def _cached_ssl_context(
    verify: str | bool, cert: Any, trust_env: bool, env: tuple[str | None, str | None] | None
) -> ssl.SSLContext:
    return _new_ssl_context(verify, cert, trust_env)


def _new_ssl_context(verify: str | bool, cert: Any, trust_env: bool) -> ssl.SSLContext:
    context = httpx.create_ssl_context(verify=verify, cert=cert, trust_env=trust_env)
    context.set_alpn_protocols(["http/1.1"])  # ours to configure; a caller's context is not
    return context


def _response(
    head: ResponseHead, stream: httpx.AsyncByteStream | httpx.ByteStream, request: httpx.Request
) -> httpx.Response:
    return httpx.Response(
        head.status_code,
        headers=head.headers,
        stream=stream,
        extensions={
            "http_version": _HTTP_VERSIONS.get(head.http_version) or b"HTTP/" + head.http_version,
            "reason_phrase": head.reason,
        },
        request=request,
    )


def _expects_continue(fields: HeadFields, extra: Mapping[str, str]) -> bool:
    """Whether a request given by its parts asks for ``100 Continue`` (the call's own
    ``Expect`` replacing a shared one)."""
    if "expect" not in fields.names and not any(name.lower() == "expect" for name in extra):
        return False  # (every library call: no merge)
    return any(
        name.lower() == b"expect" and value.lower() == b"100-continue"
        for name, value in fields.merged(extra)
    )


class Fetched:
    """A response read whole by `AsyncPoolTransport.fetch()`.

    ``body`` is the body as it came. ``plain`` says it has no Content-Encoding, so that ``body``
    is the content; otherwise (and for anything beyond the status and body) use
    `response()`, which decodes it as httpx does.
    """

    __slots__ = ("body", "elapsed", "head", "plain", "status_code")

    def __init__(self, head: ResponseHead, body: bytes, elapsed: float) -> None:
        self.head = head
        self.elapsed = elapsed  # seconds from sending the request to the end of the body
        self.status_code = head.status_code
        self.body = body
        self.plain = not any(name.lower() == b"content-encoding" for name, _ in head.headers)

    def response(self, request: httpx.Request) -> httpx.Response:
        """The ``httpx.Response`` to ``request``, body read (and decoded)."""
        response = _response(self.head, httpx.ByteStream(self.body), request)
        response.read()
        response.elapsed = timedelta(seconds=self.elapsed)
        return response


class AsyncPoolTransport(httpx.AsyncBaseTransport):
    """A lean HTTP/1.1 keep-alive connection pool for ``httpx.AsyncClient``, on asyncio or trio.

    It speaks HTTP/1.1 only (httptools or h11 does the protocol: ``parser``, see
    `dialect()`), over plain TCP or TLS, with no proxy
    support: use httpx's own transport for HTTP/2 and proxies. Per origin it keeps a LIFO stack
    of idle connections; ``limits`` caps the connections and requests beyond the cap wait, first
    come first served, up to the request's pool timeout. Timeouts come from each request's
    ``extensions["timeout"]`` and failures raise httpx's own exception types.

    An idle connection the server wrote to or closed while it idled is closed, not reused. A
    reused keep-alive connection that ends before any byte of a response may have carried the
    request to a server that acted on it, so the request is sent once more, on a new
    connection, only if that is safe: a GET, HEAD, OPTIONS or TRACE whose body can be replayed.
    Anything else raises, as httpx's own transport does, and is left to the caller's retries
    (which, unlike a transport, can send an Idempotency-Key).

    Example:
        ```python
        async with httpx.AsyncClient(transport=AsyncPoolTransport()) as client:
            response = await client.get("http://127.0.0.1:8787/v1/health")
        ```
    """

    def __init__(
        self,
        *,
        verify: ssl.SSLContext | str | bool = True,
        cert: Any = None,
        trust_env: bool = True,
        limits: httpx.Limits = DEFAULT_LIMITS,
        parser: str | None = None,
    ) -> None:
        self._dialect: Dialect = dialect(parser)
        self._verify = verify
        self._cert = cert
        self._trust_env = trust_env
        self._ssl_context: ssl.SSLContext | None = None
        self._native_stream = os.environ.get(STREAM_ENV, "auto") != "socket"
        self._limits = limits
        self._slots: Slots[Connection] = self._new_slots()
        self._connections: set[Connection] = set()
        track(self)

    def _new_slots(self) -> Slots[Connection]:
        limits = self._limits
        return Slots(
            limits.max_connections, limits.max_keepalive_connections, limits.keepalive_expiry
        )

    def forget_inherited(self) -> None:
        """In a forked child: start from empty books; the parent keeps every connection."""
        for conn in list(self._connections):
            conn.forget()
        closed = self._slots.closed
        self._slots = self._new_slots()
        self._slots.closed = closed

    @property
    def slots(self) -> Slots[Connection]:
        """The pool's books (counters for tests and diagnostics)."""
        return self._slots

    @property
    def parser(self) -> str:
        """The protocol library in use: ``"httptools"`` or ``"h11"``."""
        return self._dialect.name

    @property
    def open_connections(self) -> int:
        """Connections currently open, idle or in use."""
        return len(self._connections)

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        """Send ``request`` on a pooled connection and return the response, body streaming."""
        timeouts = request.extensions.get("timeout") or _NO_TIMEOUTS
        out = Outgoing.of(self._dialect, request)  # validated before any connection is touched
        conn, head, chunks, complete = await self._exchange(out, request.url, timeouts)
        slots = self._slots
        if complete:
            await release(slots, conn)
            body = ResponseBody(chunks, None, slots, None, request)
        else:
            body = ResponseBody(chunks, conn, slots, timeouts.get("read"), request)
        return _response(head, body, request)

    async def fetch(
        self,
        method: str,
        url: httpx.URL,
        fields: HeadFields,
        extra: Mapping[str, str],
        content: bytes | None,
        timeouts: Mapping[str, Any],
        deadline: float | None = None,
    ) -> Fetched:
        """Send a request given by its parts and read its whole response.

        The library's own calls (small JSON bodies) come here instead of through
        ``httpx.AsyncClient.send``: the same exchange, without an ``httpx.Request`` or the
        per-request layers (auth, redirects, cookies, a body stream) those calls never use.
        ``fields`` are the client's shared headers (checked once), ``extra`` the call's own;
        a body gets its ``Content-Length`` (none: ``Content-Length: 0`` for POST, PUT and PATCH,
        as httpx sends). ``deadline`` (the backend clock's time, or None) bounds every phase:
        waiting for a connection, connecting, each read; once it passes, DeadlineExceeded. The
        result becomes an ``httpx.Response`` only if someone needs one (`Fetched.response()`).
        """
        started = time.perf_counter()
        if content is not None:
            length: int | None = len(content)
        else:
            length = 0 if method in _SENDS_LENGTH else None
        try:
            prepared = self._dialect.prepare_call(method, url.raw_path, fields, extra, length)
        except InvalidRequest:
            merged = fields.merged(extra)
            raise httpx.LocalProtocolError(
                explain_invalid_parts(method, url.path, merged)
            ) from None
        expect = _expects_continue(fields, extra)
        out = Outgoing(method, prepared, content or b"", None, expect, None, deadline)
        fetches.taken += 1
        conn, head, chunks, complete = await self._exchange(out, url, timeouts)
        slots = self._slots
        if not complete:
            try:
                await read_rest(conn, chunks, timeouts.get("read"), deadline)
            except BaseException as exc:
                await slots.discard(conn)
                mapped = map_read_error(exc, None, deadline)
                if mapped is None:
                    raise
                raise mapped from exc
        await release(slots, conn)
        body = chunks[0] if len(chunks) == 1 else b"".join(chunks)
        return Fetched(head, body, time.perf_counter() - started)

    async def _exchange(
        self, out: Outgoing, url: httpx.URL, timeouts: Mapping[str, Any]
    ) -> tuple[Connection, ResponseHead, list[bytes], bool]:
        """Send ``out`` on a pooled connection (again on a stale one if safe); read the head."""
        scheme = url.raw_scheme
        default_port = _DEFAULT_PORTS.get(scheme)
        if default_port is None:
            raise httpx.UnsupportedProtocol(
                f"Request URL has an unsupported protocol '{scheme.decode('ascii')}://'.",
                request=out.request,
            )
        origin: Origin = (scheme, url.raw_host, url.port or default_port)
        slots = self._slots
        conn = slots.take_idle(origin) or await self._checkout(origin, timeouts, out)
        while conn.served and conn.unfit_for_reuse():
            # Bytes arrived on it while it idled (an unasked response, a close): reading them as
            # the answer to this request would put every later answer one behind.
            await slots.discard(conn)
            conn = slots.take_idle(origin) or await self._checkout(origin, timeouts, out)
        try:
            head, chunks, complete = await exchange(conn, out, timeouts)
        except StaleConnection as stale:
            await slots.discard(conn)
            if out.method not in _REPLAYABLE_METHODS or out.content is None:
                # The server may have received it before it closed: only the caller may decide
                # to send it again.
                raise stale.error from stale.__cause__
            # Its idle neighbours are as old or older: likely dropped too.
            await slots.drop_idle(origin)
            conn = await self._checkout(origin, timeouts, out)
            try:
                head, chunks, complete = await exchange(conn, out, timeouts)
            except StaleConnection as again:  # pragma: no cover - a new connection is never reused
                await slots.discard(conn)
                raise again.error from again.__cause__
            except BaseException:
                await slots.discard(conn)
                raise
        except BaseException:
            await slots.discard(conn)
            raise
        return conn, head, chunks, complete

    async def _checkout(
        self, origin: Origin, timeouts: Mapping[str, Any], out: Outgoing
    ) -> Connection:
        deadline = out.deadline
        pool_timeout = timeouts.get("pool")
        wait = pool_timeout
        if deadline is not None:
            left = max(0.0, deadline - anyio.current_time())
            wait = left if wait is None else min(wait, left)
        try:
            conn = await self._slots.acquire(origin, wait)
        except SlotTimeout:
            if past(deadline):
                raise DeadlineExceeded(
                    "The call's deadline passed waiting for a connection", request=out.request
                ) from None
            raise httpx.PoolTimeout(
                "Timed out waiting for a connection from the pool", request=out.request
            ) from None
        if conn is not None:
            return conn
        try:
            connect_timeout = timeouts.get("connect")
            if deadline is not None:
                left = max(0.0, deadline - anyio.current_time())
                connect_timeout = left if connect_timeout is None else min(connect_timeout, left)
            try:
                return await self._connect(origin, connect_timeout, out.request)
            except httpx.ConnectTimeout:
                if past(deadline):
                    raise DeadlineExceeded(
                        "The call's deadline passed while connecting", request=out.request
                    ) from None
                raise
        except BaseException:
            self._slots.release_slot()
            raise

    async def _connect(
        self, origin: Origin, connect_timeout: float | None, request: httpx.Request | None
    ) -> Connection:
        scheme, raw_host, port = origin
        host = raw_host.decode("ascii")
        tls = scheme == b"https"
        try:
            with anyio.fail_after(connect_timeout):
                library = sniffio.current_async_library() if self._native_stream else None
                if library == "trio":
                    # trio: a socket waited on with trio's own primitives, TLS on an SSLObject
                    # of our own (imported here: trio is running, so it is installed).
                    from ._trio_stream import connect as trio_connect

                    own = await trio_connect(host, port, self._tls_context() if tls else None)
                    return Connection(
                        own,
                        origin,
                        self._connections,
                        self._dialect.codec(),
                        cast("SocketStream", own),  # the same interface (has_unread, forget)
                    )
                if library == "asyncio":
                    # asyncio (uvloop too): a protocol-fed stream, TLS by asyncio's transport.
                    # (Imported here: asyncio is loaded by then, and a trio program never is.)
                    from ._asyncio_stream import connect as asyncio_connect

                    native = await asyncio_connect(host, port, self._tls_context() if tls else None)
                    # Its own reuse check knows the peer closed with no syscall, under TLS too.
                    return Connection(
                        native,
                        origin,
                        self._connections,
                        self._dialect.codec(),
                        cast("SocketStream", native),  # the same interface (has_unread, forget)
                    )
                tcp = await connect_tcp(host, port)
                stream: anyio.abc.ByteStream = tcp
                if tls:
                    try:
                        secure = await PoolTLSStream.wrap(
                            tcp,
                            hostname=host,
                            ssl_context=self._tls_context(),
                            standard_compatible=False,
                        )
                    except BaseException:
                        tcp.close()
                        raise
                    assert isinstance(secure, PoolTLSStream)
                    # It answers the reuse check itself (pending TLS bytes, then the socket).
                    return Connection(
                        secure,
                        origin,
                        self._connections,
                        self._dialect.codec(),
                        cast("SocketStream", secure),
                    )
        except TimeoutError:
            raise httpx.ConnectTimeout(
                f"Timed out connecting to {host}:{port}", request=request
            ) from None
        except (OSError, anyio.BrokenResourceError, anyio.EndOfStream) as exc:
            reason = str(exc) or str(exc.__cause__ or "") or type(exc).__name__
            raise httpx.ConnectError(reason, request=request) from exc
        return Connection(stream, origin, self._connections, self._dialect.codec(), tcp)

    def _tls_context(self) -> ssl.SSLContext:
        # Built on first use, so plain-HTTP clients (such as one talking to the local emulator)
        # never load the CA bundle; and shared by every transport of the process with the same
        # settings, so only the first HTTPS client pays the milliseconds of loading it.
        context = self._ssl_context
        if context is None:
            verify = self._verify
            if isinstance(verify, ssl.SSLContext):
                context = verify  # the caller's, used as it is (ALPN is theirs to configure)
            else:
                context = default_ssl_context(verify, self._cert, self._trust_env)
            self._ssl_context = context
        return context

    async def aclose(self) -> None:
        """Close every connection, idle or in use; later requests raise RuntimeError."""
        await self._slots.aclose()
        for conn in list(self._connections):
            with anyio.CancelScope(shield=True):
                await conn.aclose()
