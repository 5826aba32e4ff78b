"""The wire boundary under ``Transport``: one way down to the socket for every call.

One request type goes down (`WireRequest`), one response type comes back
(`WireResponse`, for whole and streamed bodies alike), through one of two adapters that
implement the `Wire` protocol:

- `PoolWire`: our own HTTP/1.1 pool (`AsyncPoolTransport`),
  when it is the transport of a client the library built. Whole bodies are read by the pool's
  ``fetch``; a stream reads the pool's own body iterator directly (no httpx generator layers).
- `HttpxWire`: any ``httpx.AsyncClient`` — the caller's own ``http_client``, or one on
  httpx's transport (HTTP/2, proxies, ``AEROSTACK_HTTP_TRANSPORT=httpx``).

Each adapter maps its failures into the package's error tree in one place: the table
`_ERRORS` and the context manager `wire_errors()` (the way httpx maps httpcore's), so a
failure is translated once, whichever path it happened on. `APIConnectionError.retryable`
says whether sending again can help. The key is masked in the request an error or a response
carries (``error.raw_response.request``, ``exc.__cause__.request``) and in every message.

Everything that is the same on both adapters — idempotency keys, retries, deadlines, logging,
status → error — stays in ``Transport``.
"""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterable, Mapping
from datetime import timedelta
from typing import TYPE_CHECKING, Any, Protocol

import anyio
import httpx

from ._logging import redact_key
from ._pool._codec import HeadFields
from ._pool._deadlines import DeadlineExceeded
from ._pool._slots import PoolClosed
from .errors import APIConnectionError, APITimeoutError

if TYPE_CHECKING:
    from ._pool import AsyncPoolTransport

__all__ = [
    "KEY_HEADER",
    "HttpxWire",
    "PoolWire",
    "Wire",
    "WireRequest",
    "WireResponse",
    "wire_errors",
]

KEY_HEADER = "X-Aerostack-Key"
_CLOSED_MESSAGE = "Cannot send a request, as the client has been closed."
_HTTP_VERSIONS = {b"1.1": "HTTP/1.1", b"1.0": "HTTP/1.0"}
_httpx_logger = logging.getLogger("httpx")
# A stepped, closed httpx response fails at once; this only bounds a transport that would not.
_UNWIND_SECONDS = 0.25


class WireRequest:
    """One request on its way down: method, URL, headers, body, timeouts.

    ``headers`` are the client's prebuilt, shared headers (never changed per call); ``extra``
    holds this call's own (the key when it is resolved per call, the Idempotency-Key, the
    caller's). ``content`` is the encoded body, an async iterable of chunks (sent as they come),
    or None. An adapter turns this into whatever its library sends.
    """

    __slots__ = (
        "content",
        "deadline",
        "extra",
        "fields",
        "headers",
        "method",
        "path",
        "timeouts",
        "total",
        "url",
    )

    def __init__(
        self,
        method: str,
        url: httpx.URL,
        path: str,
        headers: httpx.Headers,
        extra: dict[str, str],
        content: bytes | AsyncIterable[bytes] | None,
        timeouts: Mapping[str, Any],
        fields: HeadFields | None = None,
        deadline: float | None = None,
        total: float | None = None,
    ) -> None:
        self.method = method
        self.url = url
        self.path = path
        self.headers = headers
        self.extra = extra
        self.content = content
        self.timeouts = timeouts
        # ``headers`` as the pool sends them, checked once per client (None: made here).
        self.fields = fields if fields is not None else HeadFields(headers.raw)
        # The call's deadline on the backend clock (None: none), and its length in seconds.
        self.deadline = deadline
        self.total = total

    @property
    def secret(self) -> str | None:
        """The API key this request carries (never log it: see `masked_headers()`)."""
        value = self.extra.get(KEY_HEADER)
        if value is None:
            value = self.headers.get(KEY_HEADER)
        return value

    def masked_headers(self) -> dict[str, str]:
        """Every header this request sends, the key masked (for hooks, logs and spans)."""
        merged = {name.decode("ascii"): value.decode("latin-1") for name, value in self.headers.raw}
        merged.update(self.extra)
        for name in merged:
            if name.lower() == KEY_HEADER.lower():
                merged[name] = redact_key(merged[name])
        return merged

    def to_httpx(self) -> httpx.Request:
        """The ``httpx.Request`` for this request (what both adapters send today)."""
        content = self.content
        extensions = {"timeout": self.timeouts} if self.timeouts else {}
        if isinstance(content, bytes):
            request = httpx.Request(
                self.method, self.url, headers=self.headers, stream=httpx.ByteStream(content),
                extensions=extensions,
            )  # fmt: skip
            request.headers["Content-Length"] = str(len(content))
        elif content is None:
            request = httpx.Request(
                self.method, self.url, headers=self.headers, extensions=extensions
            )
        else:
            # The call's headers go in at construction, so a Content-Length among them stops
            # httpx from also framing the iterable body as chunked.
            merged = httpx.Headers(self.headers)
            merged.update(self.extra)
            return httpx.Request(
                self.method, self.url, headers=merged, content=content, extensions=extensions
            )
        request_headers = request.headers
        for name, value in self.extra.items():
            request_headers[name] = value
        return request


def mask_request(request: httpx.Request, secret: str | None) -> None:
    """Mask the key in a sent ``httpx.Request`` (reachable from errors and responses)."""
    if secret and KEY_HEADER in request.headers:
        request.headers[KEY_HEADER] = redact_key(secret)


# ----------------------------------------------------------------------------------------------
# Errors: one table, one context manager.

_ERRORS: tuple[tuple[type[Exception], type[APIConnectionError], bool, str], ...] = (
    # (what the library raised, ours, retryable, how to say it)
    # The call's whole deadline passed in the pool: sending again cannot beat it.
    (DeadlineExceeded, APITimeoutError, False, "no response within the {total} s deadline"),
    (httpx.TimeoutException, APITimeoutError, True, "{type}: {exc}"),
    (httpx.NetworkError, APIConnectionError, True, "{type}: {exc}"),
    (httpx.RemoteProtocolError, APIConnectionError, True, "{type}: {exc}"),
    # A body its Content-Encoding cannot undo: the server's fault; the same body would return.
    (
        httpx.DecodingError,
        APIConnectionError,
        False,
        "the response body could not be decoded: {exc}",
    ),
    # A bad URL scheme, a proxy refusal, our own protocol misuse: retrying cannot fix them.
    (httpx.TransportError, APIConnectionError, False, "{type}: {exc}"),
)


def translate(exc: Exception, request: WireRequest, context: str) -> Exception | None:
    """Our error for ``exc`` (None if it is not a wire failure), the key masked everywhere."""
    if isinstance(exc, PoolClosed):
        return RuntimeError(_CLOSED_MESSAGE)
    for source, target, retryable, template in _ERRORS:
        if isinstance(exc, source):
            message = f"{context}: " + template.format(
                type=type(exc).__name__, exc=exc, total=request.total
            )
            secret = request.secret
            if secret:
                message = message.replace(secret, redact_key(secret))
            if isinstance(exc, httpx.RequestError):
                try:
                    sent: httpx.Request | None = exc.request
                except RuntimeError:  # sent without an httpx.Request (the pool's fast path)
                    sent = exc.request = request.to_httpx()
                if secret and sent is not None:
                    mask_request(sent, secret)
            return target(message, retryable=retryable)
    return None


_WIRE_FAILURES = (httpx.TransportError, httpx.DecodingError, PoolClosed)


class wire_errors:
    """``with wire_errors(request):`` raises our error for a wire failure in the block.

    The library's exception is kept as ``__cause__``. A class, not a generator-based context
    manager: it is entered on every call, and this costs a fraction of one.
    """

    __slots__ = ("_context", "_request")

    def __init__(self, request: WireRequest, context: str | None = None) -> None:
        self._request = request
        self._context = context

    def __enter__(self) -> None:
        return None

    def __exit__(self, exc_type: Any, exc: BaseException | None, tb: Any) -> None:
        if exc is None or not isinstance(exc, _WIRE_FAILURES):
            return  # nothing to map: propagates as it is
        request = self._request
        mapped = translate(exc, request, self._context or f"{request.method} {request.path}")
        if mapped is not None:  # (the table covers both families)
            raise mapped from exc


# ----------------------------------------------------------------------------------------------
# The response


class WireResponse:
    """A response: its head, and its body read whole (``content``) or open (`aiter_bytes()`).

    ``response`` is the same response as an ``httpx.Response`` (built on first use: errors and
    ``ChatStream.response`` / ``Download.response`` carry it). ``elapsed`` is seconds from sending
    to the end of the body (whole) or to the head (streamed).
    """

    __slots__ = ("_body", "_build", "_response", "content", "elapsed", "raw_headers", "request",
                 "span", "status_code")  # fmt: skip

    def __init__(
        self,
        request: WireRequest,
        status_code: int,
        raw_headers: list[tuple[bytes, bytes]],
        elapsed: float,
        *,
        content: bytes | None = None,
        body: _Body | None = None,
        response: httpx.Response | None = None,
        build: Any = None,
    ) -> None:
        self.request = request
        self.status_code = status_code
        self.raw_headers = raw_headers
        self.elapsed = elapsed
        self.content = content
        self._body = body
        self._response = response
        self._build = build  # () -> httpx.Response, when ``response`` is made on first use
        # A streamed call's OpenTelemetry span (ended when the stream closes), when traced.
        self.span: Any = None

    @property
    def response(self) -> httpx.Response:
        """This response as an ``httpx.Response`` (its request's key masked)."""
        response = self._response
        if response is None:
            response = self._response = self._build()
        return response

    @property
    def headers(self) -> httpx.Headers:
        """The response headers."""
        return self.response.headers

    def header(self, name: str) -> str | None:
        """One header's value (the first), without building an ``httpx.Response``."""
        target = name.lower().encode("ascii")
        for key, value in self.raw_headers:
            if key.lower() == target:
                return value.decode("latin-1")
        return None

    @property
    def request_id(self) -> str | None:
        """The server's ``X-Request-ID``, if it sent one."""
        return self.header("x-request-id")

    def aiter_bytes(self, chunk_size: int | None = None, *, context: str = "") -> _Body:
        """The open body, in pieces of ``chunk_size`` (None: as they arrive); read once.

        Failures raise our errors, labelled ``context``.
        """
        body = self._body
        if body is None:
            body = self._body = _Body(_Whole(self.content or b""), None, self.request, "")
        if context:
            body.context = context
        body.chunk_size = chunk_size
        return body

    async def aread(self) -> bytes:
        """The rest of the body, read whole; the connection is released."""
        if self.content is None:
            body = self.aiter_bytes()
            try:
                self.content = b"".join([piece async for piece in body])
            finally:
                await body.aclose()
            response = self._response
            if response is not None and not hasattr(response, "_content"):
                response._content = self.content
        return self.content

    async def aclose(self) -> None:
        """Release the connection (closed, unless the body was read to its end)."""
        if self._body is not None:
            await self._body.aclose()


class _Whole:
    """A body already in memory, as an iterator."""

    __slots__ = ("_data",)

    def __init__(self, data: bytes) -> None:
        self._data: bytes | None = data

    async def __anext__(self) -> bytes:
        data = self._data
        if not data:
            raise StopAsyncIteration
        self._data = None
        return data

    async def aclose(self) -> None:
        self._data = None


class _Body:
    """An open body: the adapter's iterator, errors mapped once, optional re-chunking.

    ``close`` (an httpx response being iterated) finishes httpx's generator chain so that none is
    left to the garbage collector (trio warns about each): the response is closed, then the
    outer iterator stepped until the read fails at the bottom on the closed connection.
    """

    __slots__ = ("_buffer", "_close", "_count", "_iterator", "_request", "chunk_size", "context")

    def __init__(
        self,
        iterator: Any,
        close: httpx.Response | None,
        request: WireRequest,
        context: str,
        count: httpx.Response | None = None,
    ) -> None:
        self._iterator = iterator
        self._close = close
        # A response whose body is read past httpx: keep its num_bytes_downloaded true.
        self._count = count
        self._request = request
        self._buffer = b""
        self.context = context
        self.chunk_size: int | None = None

    def __aiter__(self) -> _Body:
        return self

    async def _next(self) -> bytes:
        try:
            data: bytes = await self._iterator.__anext__()
            count = self._count
            if count is not None:
                count._num_bytes_downloaded += len(data)
            return data
        except _WIRE_FAILURES as exc:
            request = self._request
            mapped = translate(exc, request, self.context or f"{request.method} {request.path}")
            if mapped is None:  # pragma: no cover
                raise
            raise mapped from exc

    async def __anext__(self) -> bytes:
        size = self.chunk_size
        if size is None:
            if self._buffer:
                data, self._buffer = self._buffer, b""
                return data
            return await self._next()
        buffer = self._buffer
        while len(buffer) < size:
            try:
                piece = await self._next()
            except StopAsyncIteration:
                if buffer:
                    self._buffer = b""
                    return buffer
                raise
            buffer = piece if not buffer else buffer + piece
        self._buffer = buffer[size:]
        return buffer[:size]

    async def aclose(self) -> None:
        """Stop reading: the connection is closed unless the body was read to its end."""
        self._buffer = b""
        with anyio.CancelScope(shield=True):
            response = self._close
            if response is None:
                await self._iterator.aclose()
                return
            self._close = None
            await response.aclose()
            with anyio.move_on_after(_UNWIND_SECONDS):
                while True:
                    try:
                        await self._iterator.__anext__()
                    except Exception:  # StopAsyncIteration or the closed stream's read error
                        return


# ----------------------------------------------------------------------------------------------
# The adapters


class Wire(Protocol):
    """What ``Transport`` sends through: one request down, one response back."""

    async def send(self, request: WireRequest, *, stream: bool) -> WireResponse:
        """Send ``request``; the body read whole, or (``stream``) left open for the caller."""

    @property
    def http_client(self) -> httpx.AsyncClient:
        """The ``httpx.AsyncClient`` this wire belongs to (the one the client closes)."""


class HttpxWire:
    """Any ``httpx.AsyncClient``: the caller's own, or one on httpx's own transport."""

    __slots__ = ("_client",)

    def __init__(self, client: httpx.AsyncClient) -> None:
        self._client = client

    @property
    def http_client(self) -> httpx.AsyncClient:
        """The client requests go through."""
        return self._client

    async def send(self, request: WireRequest, *, stream: bool) -> WireResponse:
        """``AsyncClient.send`` (its hooks, auth and mounts apply), errors mapped once."""
        sent = request.to_httpx()
        secret = request.secret
        started = time.perf_counter()
        with wire_errors(request):
            response = await self._client.send(sent, stream=stream, follow_redirects=False)
        mask_request(sent, secret)
        return wrap_httpx(response, request, time.perf_counter() - started, stream)


def wrap_httpx(
    response: httpx.Response, request: WireRequest, elapsed: float, stream: bool
) -> WireResponse:
    """A ``WireResponse`` for an ``httpx.Response`` (read whole unless ``stream``)."""
    if stream:
        body = _Body(response.aiter_bytes(), response, request, "")
        return WireResponse(
            request, response.status_code, response.headers.raw, elapsed,
            body=body, response=response,
        )  # fmt: skip
    return WireResponse(
        request, response.status_code, response.headers.raw, elapsed,
        content=response.content, response=response,
    )  # fmt: skip


class PoolWire:
    """Our pool, under a client the library built (so no auth, hooks, redirects or cookies).

    Whole bodies come from `AsyncPoolTransport.fetch()`; streams from
    `AsyncPoolTransport.open()`, whose body iterator is read directly. httpx's
    ``HTTP Request: ...`` log line is written here as ``AsyncClient.send`` would.
    """

    __slots__ = ("_client", "_pool")

    def __init__(self, client: httpx.AsyncClient, pool: AsyncPoolTransport) -> None:
        self._client = client
        self._pool = pool

    @property
    def http_client(self) -> httpx.AsyncClient:
        """The client that owns (and closes) the pool."""
        return self._client

    async def send(self, request: WireRequest, *, stream: bool) -> WireResponse:
        """Send on the pool; map its failures once."""
        content = request.content
        if stream or not (content is None or isinstance(content, bytes)):
            return await self._send_open(request, stream)
        with wire_errors(request):
            if self._client.is_closed:
                raise PoolClosed(_CLOSED_MESSAGE)
            # The hot path: the request goes down as its parts, no httpx.Request is built.
            fetched = await self._pool.fetch(
                request.method, request.url, request.fields, request.extra, content,
                request.timeouts, request.deadline,
            )  # fmt: skip
        head = fetched.head
        elapsed = fetched.elapsed
        if _httpx_logger.isEnabledFor(logging.INFO):
            _log_request_line(
                request.method,
                request.url,
                head.status_code,
                head.reason.decode("ascii", "replace"),
                _HTTP_VERSIONS.get(head.http_version)
                or "HTTP/" + head.http_version.decode("ascii"),
            )

        def build() -> httpx.Response:
            # Only now does a sent request become reachable: the key masked in it first.
            sent = request.to_httpx()
            mask_request(sent, request.secret)
            return fetched.response(sent)

        if not fetched.plain:
            with wire_errors(request):
                response = build()
            return WireResponse(
                request, head.status_code, head.headers, elapsed,
                content=response.content, response=response,
            )  # fmt: skip
        # A plain body, and no httpx.Response unless someone asks for it.
        return WireResponse(
            request, head.status_code, head.headers, elapsed, content=fetched.body, build=build
        )

    async def _send_open(self, request: WireRequest, stream: bool) -> WireResponse:
        """A streamed response, or a body sent from an iterable: through the pool's
        ``handle_async_request`` (an ``httpx.Request``, the body read off the pool's own
        iterator)."""
        sent = request.to_httpx()
        with wire_errors(request):
            if self._client.is_closed:
                raise PoolClosed(_CLOSED_MESSAGE)
            started = time.perf_counter()
            response = await self._pool.handle_async_request(sent)
            if not stream:
                await response.aread()
            elapsed = time.perf_counter() - started
        mask_request(sent, request.secret)
        response.elapsed = timedelta(seconds=elapsed)
        if _httpx_logger.isEnabledFor(logging.INFO):
            _log_request_line(sent.method, sent.url, response.status_code,
                              response.reason_phrase, response.http_version)  # fmt: skip
        if not stream or "content-encoding" in response.headers:
            # httpx's decoders undo the Content-Encoding: read through its response.
            return wrap_httpx(response, request, elapsed, stream)
        # The pool's own body iterator, read directly: no httpx generator layers.
        body = _Body(response.stream, None, request, "", response)
        return WireResponse(
            request, response.status_code, response.headers.raw, elapsed,
            body=body, response=response,
        )  # fmt: skip


def _log_request_line(
    method: str, url: httpx.URL, status: int, reason: str, http_version: str
) -> None:
    """The line httpx's own ``send()`` logs, for those who watch the httpx logger."""
    _httpx_logger.info('HTTP Request: %s %s "%s %d %s"', method, url, http_version, status, reason)


def wire_for(client: httpx.AsyncClient, pool: AsyncPoolTransport | None) -> Wire:
    """The adapter for ``client``: our pool if it is its transport, else httpx."""
    if pool is not None:
        return PoolWire(client, pool)
    return HttpxWire(client)
