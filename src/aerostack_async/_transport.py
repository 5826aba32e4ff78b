"""What is the same on every path down to the socket: headers, keys, retries, deadlines, errors.

``Transport`` builds each attempt's `WireRequest` (the client's
prebuilt headers, the call's own: a per-call key, the Idempotency-Key, ``extra_headers``; the
already-encoded body; the timeouts) and sends it through the client's `_wire`
adapter: our pool, or an ``httpx.AsyncClient``. One response type comes back either way
(`WireResponse`), and the adapter has already mapped its failures
into our error tree (with ``APIConnectionError.retryable``). Here, the same on both adapters:
idempotency keys, retries (the first attempt runs without any retry machinery; only a retryable
failure hands the call to stamina, which drives backoff with ``Retry-After`` honoured up to a
cap), the total deadline (read once per call; our pool bounds a plain call's every phase by
it, anything else runs under a cancel scope), the debug log line, and status →
typed error. ``_attempt`` does one attempt in three steps: build, send, check the status.

Hooks for the streaming, upload and download helpers
----------------------------------------------------
``Transport.stream(method, path, *, content=None, headers=None, mutating=True, options=None)``
is an async context manager yielding an open `WireResponse`
whose status is 2xx; read its body with ``aiter_bytes()``. A non-2xx status raises the same
typed error as `Transport.request()` (its small body is read first) before anything is
yielded. Retries and the total deadline apply only until the response headers arrive: once
yielded, the response is never retried, and leaving the ``async with`` (normally, by error or by
cancellation) closes it so its connection goes back to the pool.

``content`` (for ``request`` and ``stream``) is either the encoded body as ``bytes`` or a
zero-argument factory returning an ``AsyncIterable[bytes]`` (a multipart body, say). The factory
is called once per attempt, so a retry re-opens the source instead of resending a consumed
iterator; if the iterable has ``aclose()``, it is closed after each attempt. Pass the body's
``Content-Type`` (and ``Content-Length`` when the size is known; otherwise the body is sent
chunked) in ``headers``.
"""

from __future__ import annotations

import inspect
import logging
import platform
import re
import uuid
from collections.abc import AsyncIterable, AsyncIterator, Awaitable, Callable, Mapping
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any, TypeVar

import anyio
import httpx
import msgspec

from . import _tracing
from ._constants import MAX_IDEMPOTENCY_KEY
from ._hooks import Hooks, run_hooks
from ._logging import logger, redact_key
from ._options import CallOptions, Limits, RetryPolicy, Timeout, coerce_timeout
from ._pool._codec import HeadFields
from ._version import __version__
from ._wire import KEY_HEADER as _KEY_HEADER
from ._wire import Wire, WireRequest, WireResponse, mask_request, wire_for
from .errors import (
    AerostackError,
    APIConnectionError,
    APIStatusError,
    APITimeoutError,
    ConfigurationError,
    InvalidArgumentTypeError,
    InvalidRequestError,
    ResponseValidationError,
    parse_retry_after,
    status_error_class,
)

if TYPE_CHECKING:
    from ._pool import AsyncPoolTransport

__all__ = ["USER_AGENT", "BodyFactory", "KeySource", "Transport"]

T = TypeVar("T")

KeySource = str | Callable[[], "str | Awaitable[str]"]
"""An API key, or a sync or async callable returning one (called once per call)."""

BodyFactory = Callable[[], AsyncIterable[bytes]]
"""Makes a fresh request body iterator; called once per attempt."""

USER_AGENT = f"aerostack-async/{__version__} python/{platform.python_version()}"

# Headers a caller's extra_headers may not set: they carry the key or frame the body.
_PROTECTED = frozenset(
    {"x-aerostack-key", "authorization", "host", "content-length", "transfer-encoding"}
)
_RETRY_STATUSES = frozenset({408, 429})
_HTTPX_DEFAULTS = frozenset({("accept", "*/*")})
_MAX_IDEMPOTENCY_KEY = MAX_IDEMPOTENCY_KEY
_OPTION_NAMES = frozenset(CallOptions.__annotations__)
_JSON_PATH = re.compile(r"at `(\$[^`]*)`")
# What HTTP/1.1 (and both our parsers, and h11) accept: a token name; a value of visible
# characters (obs-text included: httpx sends str values as UTF-8), spaces or tabs inside only.
_HEADER_NAME = re.compile(r"[-!#$%&'*+.^_`|~0-9a-zA-Z]+")
_HEADER_VALUE = re.compile(r"(?:[^\x00-\x20\x7f](?:[ \t]*[^\x00-\x20\x7f])*)?")


class _Keep:
    """Marker: keep the current setting (for ``copy(retry=...)``, where None means "none")."""


class _ErrorEnvelope(msgspec.Struct):
    code: Any = ""
    message: Any = ""
    details: Any = None


_decode_envelope = msgspec.json.Decoder(_ErrorEnvelope).decode


class Transport:
    """Sends requests for one client configuration; copies made by ``with_options`` share the pool.

    Not public API: resources call `request()`; streaming helpers call `stream()`.
    """

    __slots__ = (
        "_base_url",
        "_default_headers",
        "_extensions",
        "_fields",
        "_headers",
        "_hooks",
        "_http",
        "_inherit_headers",
        "_key",
        "_key_is_static",
        "_pool",
        "_retry",
        "_timeout",
        "_urls",
        "_wire",
        "limits",
    )

    def __init__(
        self,
        http: httpx.AsyncClient,
        *,
        base_url: str,
        api_key: KeySource,
        timeout: Timeout,
        retry: RetryPolicy | None,
        default_headers: Mapping[str, str] | None = None,
        apply_timeout: bool = True,
        inherit_headers: bool = False,
        limits: Limits | None = None,
        pool: AsyncPoolTransport | None = None,
        hooks: Hooks | None = None,
    ) -> None:
        self._http = http
        # Event hooks and the library's observers (raw responses); None: nothing to call.
        self._hooks = hooks if hooks else None
        # Our pool, when it is the transport of a client we built: plain calls go straight to it.
        self._pool = pool
        self._wire: Wire = wire_for(http, pool)
        # The pool's size when we built the pool (None for a caller's own http_client):
        # batch methods size their fan-out from it.
        self.limits = limits
        self._inherit_headers = inherit_headers
        self._base_url = base_url.rstrip("/")
        self._key = api_key
        self._key_is_static = isinstance(api_key, str)
        self._timeout = timeout
        self._retry = retry
        self._urls: dict[str, httpx.URL] = {}
        base = httpx.URL(self._base_url)
        if base.scheme not in ("http", "https") or not base.host:
            raise ConfigurationError(f"base URL must be an absolute http(s) URL: {base_url!r}")
        headers = httpx.Headers(
            {
                "Host": base.netloc.decode("ascii"),
                "User-Agent": USER_AGENT,
                "Accept": "application/json",
                "Content-Type": "application/json",
            }
        )
        self._default_headers = dict(default_headers or {})
        if inherit_headers:
            # A caller's own client may carry headers of its own (a tracing header, a proxy
            # token); keep them, except httpx's generic defaults that ours replace.
            # (getattr: the seed let callers wrap their client in any object with send()).
            for name, value in getattr(http, "headers", {}).items():
                lowered = name.lower()
                if lowered in _PROTECTED or (lowered, value) in _HTTPX_DEFAULTS:
                    continue
                if lowered == "user-agent" and value.startswith("python-httpx/"):
                    continue
                headers[name] = value
        for name, value in self._default_headers.items():
            problem = _header_problem("default_headers", name, value)
            if problem is not None:
                raise ConfigurationError(problem)
            if name.lower() in _PROTECTED:
                raise ConfigurationError(f"default_headers may not set {name}")
            headers[name] = value
        if isinstance(api_key, str):
            headers[_KEY_HEADER] = api_key
        self._headers = headers
        self._fields = HeadFields(headers.raw)  # the same, as the pool sends them
        # When the caller brought their own http_client and no timeout, theirs applies.
        self._extensions: dict[str, Any] = _timeout_extension(timeout) if apply_timeout else {}

    @property
    def base_url(self) -> str:
        """The base URL every path is appended to (``…/v1``)."""
        return self._base_url

    @property
    def http_client(self) -> httpx.AsyncClient:
        """The pool beneath (for the streaming helpers and tests)."""
        return self._http

    def copy(
        self,
        *,
        base_url: str | None = None,
        api_key: KeySource | None = None,
        timeout: Timeout | None = None,
        retry: RetryPolicy | type[_Keep] | None = _Keep,
        default_headers: Mapping[str, str] | None = None,
        hooks: Hooks | type[_Keep] | None = _Keep,
    ) -> Transport:
        """A transport with some settings changed, on the same pool."""
        extra = {**self._default_headers, **(default_headers or {})}
        return Transport(
            self._http,
            base_url=base_url or self._base_url,
            api_key=api_key if api_key is not None else self._key,
            timeout=timeout or self._timeout,
            retry=self._retry if retry is _Keep else retry,  # type: ignore[arg-type]
            default_headers=extra,
            apply_timeout=bool(self._extensions) or timeout is not None,
            inherit_headers=self._inherit_headers,
            limits=self.limits,
            pool=self._pool,
            hooks=self._hooks if hooks is _Keep else hooks,  # type: ignore[arg-type]
        )

    @property
    def hooks(self) -> Hooks:
        """The event hooks (and observers) every attempt runs."""
        return self._hooks or Hooks()

    # -- the public hooks -------------------------------------------------------------------

    async def request(
        self,
        method: str,
        path: str,
        content: bytes | BodyFactory | None,
        decoder: msgspec.json.Decoder[T],
        *,
        mutating: bool,
        options: CallOptions | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> T:
        """Send one call (with retries) and decode its 2xx JSON body with ``decoder``."""
        reply = await self._call(method, path, content, headers, mutating, options, False)
        try:
            return decoder.decode(reply.content)  # type: ignore[arg-type]  # (read whole)
        except msgspec.DecodeError as exc:
            raise _validation_error(reply.response, decoder, exc) from exc

    @asynccontextmanager
    async def stream(
        self,
        method: str,
        path: str,
        *,
        content: bytes | BodyFactory | None = None,
        headers: Mapping[str, str] | None = None,
        mutating: bool = True,
        options: CallOptions | None = None,
        operation: str | None = None,
    ) -> AsyncIterator[WireResponse]:
        """An open 2xx response, closed on exit; errors and retries happen before it is yielded.

        ``operation`` names the call's span when the path alone does not (``storage.get`` reads
        what ``storage.download`` streams).
        """
        response = await self._call(
            method, path, content, headers, mutating, options, True, operation
        )
        span = response.span
        if span is None:
            try:
                yield response
            finally:
                await response.aclose()
            return
        # Traced: the call's span ends when the stream closes, with what it delivered.
        try:
            yield response
        except BaseException as exc:
            if isinstance(exc, AerostackError):
                span.fail(exc)
            raise
        finally:
            try:
                await response.aclose()
            finally:
                span.bytes = response.response.num_bytes_downloaded
                span.end()

    # -- internals --------------------------------------------------------------------------

    async def _call(
        self,
        method: str,
        path: str,
        content: bytes | BodyFactory | None,
        headers: Mapping[str, str] | None,
        mutating: bool,
        options: CallOptions | None,
        stream: bool,
        operation: str | None = None,
    ) -> WireResponse:
        timeout = self._timeout
        retry = self._retry
        extensions = self._extensions
        idempotency_key: str | None = None
        if options:
            unknown = options.keys() - _OPTION_NAMES
            if unknown:
                # A misspelt idempotency_key would otherwise silently turn deduplication off.
                raise InvalidRequestError(
                    f"unknown call option(s): {', '.join(sorted(unknown))}; "
                    f"expected {', '.join(sorted(_OPTION_NAMES))}"
                )
            if "timeout" in options:
                timeout = coerce_timeout(options["timeout"], self._timeout)
                extensions = _timeout_extension(timeout)
            if "retry" in options:
                retry = options["retry"]
            extra = options.get("extra_headers")
            if extra:
                headers = _merge_extra(headers, extra)
            idempotency_key = options.get("idempotency_key")
            if idempotency_key is not None:
                _check_idempotency_key(idempotency_key)
        if mutating and idempotency_key is None:
            idempotency_key = str(uuid.uuid4())
        key = None if self._key_is_static else await self._resolve_key()

        url = self._urls.get(path)
        if url is None:
            url = self._urls[path] = httpx.URL(self._base_url + path)

        span: _tracing.CallSpan | None = None
        tracer = _tracing.tracer()  # (None unless a tracer provider is configured)
        if tracer is not None:
            traced = dict(headers) if headers else {}
            span = _tracing.start_call_span(tracer, method, path, url, stream, traced, operation)
            headers = traced  # (with the span's traceparent)

        # One clock read per call: the deadline every phase of every attempt is bounded by.
        total = timeout.total
        deadline = None if total is None else anyio.current_time() + total

        def attempt() -> Awaitable[WireResponse]:
            return self._attempt(
                method, url, path, content, headers, key, idempotency_key, extensions, stream,
                span, deadline, total,
            )  # fmt: skip

        # Our pool bounds each phase of a plain call (a body in memory, read whole) by the
        # deadline itself: one timer a call, armed only when a read must wait. Anything else
        # (streams, uploads from iterables, hooks that may await) runs under a cancel scope.
        guarded = (
            self._pool is not None
            and not stream
            and self._hooks is None
            and (content is None or isinstance(content, bytes))
        )
        if span is None:
            return await self._within_deadline(
                attempt, retry, deadline, total, guarded, method, path
            )
        try:
            reply = await self._within_deadline(
                attempt, retry, deadline, total, guarded, method, path
            )
        except BaseException as exc:
            span.fail(exc)
            raise
        if stream:
            span.detach()  # (the span stays open until the stream closes: Transport.stream)
            reply.span = span
        else:
            span.end()
        return reply

    async def _within_deadline(
        self,
        attempt: Callable[[], Awaitable[WireResponse]],
        retry: RetryPolicy | None,
        deadline: float | None,
        total: float | None,
        guarded: bool,
        method: str,
        path: str,
    ) -> WireResponse:
        if deadline is None:
            return await self._with_retries(attempt, retry, None, method, path)
        if guarded:
            try:
                return await attempt()
            except (APIConnectionError, APIStatusError) as exc:
                first = exc
            # Retrying (rare): the backoff waits too must end by the deadline.
            with anyio.CancelScope(deadline=deadline) as scope:
                return await self._retry_after(first, attempt, retry, deadline, method, path, total)
        else:
            with anyio.CancelScope(deadline=deadline) as scope:
                return await self._with_retries(attempt, retry, deadline, method, path, total)
        if scope.cancelled_caught:
            raise _deadline_error(method, path, total)
        raise AssertionError("unreachable")  # pragma: no cover

    async def _with_retries(
        self,
        attempt: Callable[[], Awaitable[WireResponse]],
        policy: RetryPolicy | None,
        deadline: float | None,
        method: str,
        path: str,
        total: float | None = None,
    ) -> WireResponse:
        try:
            return await attempt()
        except (APIConnectionError, APIStatusError) as exc:
            first = exc
        return await self._retry_after(first, attempt, policy, deadline, method, path, total)

    async def _retry_after(
        self,
        failure: APIConnectionError | APIStatusError,
        attempt: Callable[[], Awaitable[WireResponse]],
        policy: RetryPolicy | None,
        deadline: float | None,
        method: str,
        path: str,
        total: float | None = None,
    ) -> WireResponse:
        """After the first attempt failed with ``failure``: retry if the policy and the error
        allow it, else raise ``failure``."""
        if policy is None or policy.attempts < 2:
            raise failure
        hook = _backoff_hook(policy, deadline)
        if hook(failure) is False:
            raise failure
        if deadline is not None and anyio.current_time() >= deadline:
            # No time left for another attempt: the deadline is why the call ends.
            raise _deadline_error(method, path, total) from failure
        first: BaseException | None = failure

        # Imported here, not at module level: it costs ~50 ms of import time and only a call
        # that has already failed once needs it.
        import stamina

        from ._retries import retry_scope

        # stamina's first "attempt" re-raises the failure we already have, so it computes the
        # backoff (or takes Retry-After) and counts attempts as if it had run the first one.
        # retry_scope: each retry is logged on our logger, and not by stamina's own hooks.
        with retry_scope(method, path, policy.attempts):
            async for retry_attempt in stamina.retry_context(
                on=hook,
                attempts=policy.attempts,
                timeout=None if deadline is None else max(0.0, deadline - anyio.current_time()),
                wait_initial=policy.wait_initial,
                wait_max=policy.wait_max,
                wait_jitter=policy.wait_jitter,
                wait_exp_base=policy.wait_exp_base,
            ):
                with retry_attempt:
                    if first is not None:
                        raising, first = first, None
                        raise raising
                    return await attempt()
        raise AssertionError("unreachable")  # pragma: no cover

    async def _attempt(
        self,
        method: str,
        url: httpx.URL,
        path: str,
        content: bytes | BodyFactory | None,
        headers: Mapping[str, str] | None,
        key: str | None,
        idempotency_key: str | None,
        timeouts: Mapping[str, Any],
        stream: bool,
        span: _tracing.CallSpan | None = None,
        deadline: float | None = None,
        total: float | None = None,
    ) -> WireResponse:
        """One attempt: build the request, send it through the wire, check the status.

        Event hooks run here, so they see every attempt on either adapter: the request hooks
        before sending, the response hooks (and observers) once the head has arrived.
        """
        body = content() if callable(content) else content
        request = WireRequest(
            method, url, path, self._headers, _call_headers(headers, key, idempotency_key),
            body, timeouts, self._fields, deadline, total,
        )  # fmt: skip
        hooks = self._hooks
        if span is not None:
            span.attempt()
        try:
            if hooks is not None and hooks.request:
                await run_hooks(hooks.request, _masked_request(request, body))
            response = await self._wire.send(request, stream=stream)
        except APIConnectionError as exc:
            if exc.request is None:
                exc.request = _masked_request(request, body)
            if span is not None:
                span.attempt_failed(exc)
            raise
        finally:
            # A streamed body's source (a file, say) is closed in this task, not at GC.
            if body is not None and not isinstance(body, bytes) and hasattr(body, "aclose"):
                await body.aclose()
        if hooks is not None:
            await _observe(hooks, response)
        if logger.isEnabledFor(logging.DEBUG):
            _log_reply(request, response, idempotency_key)
        if 200 <= response.status_code < 300:
            if span is not None:
                span.response(response.status_code, response.request_id)
            return response
        error = await _status_failure(request, response, stream)
        if span is not None:
            span.attempt_failed(error)
        raise error

    async def _resolve_key(self) -> str:
        source = self._key
        assert callable(source)
        value = source()
        if inspect.isawaitable(value):
            value = await value
        return check_api_key(value)

    def __repr__(self) -> str:
        return f"Transport(base_url={self._base_url!r})"


_NO_HEADERS: dict[str, str] = {}


def _call_headers(
    headers: Mapping[str, str] | None, key: str | None, idempotency_key: str | None
) -> dict[str, str]:
    """This call's own headers: a key resolved per call, the Idempotency-Key, the caller's."""
    if key is None and idempotency_key is None and not headers:
        return _NO_HEADERS  # (read only, never changed)
    extra: dict[str, str] = {}
    if key is not None:
        extra[_KEY_HEADER] = key
    if idempotency_key is not None:
        extra["Idempotency-Key"] = idempotency_key
    if headers:
        for name, value in headers.items():
            if extra:
                # Header names are case-insensitive: a later spelling replaces an earlier one
                # (as httpx.Headers does), so that no header goes out twice.
                lowered = name.lower()
                for present in [present for present in extra if present.lower() == lowered]:
                    del extra[present]
            extra[name] = value
    return extra


def _masked_request(request: WireRequest, body: object) -> httpx.Request:
    """What hooks and connection errors show of a request: the key masked, a bytes body only.

    A streamed body is left out: reading it would consume what the attempt sends.
    """
    if body is None or isinstance(body, bytes):
        shown = request.to_httpx()
        shown.read()  # (a ByteStream: so that a hook can read .content)
    else:
        headers = httpx.Headers(request.headers)
        headers.update(request.extra)
        extensions = {"timeout": dict(request.timeouts)} if request.timeouts else {}
        shown = httpx.Request(request.method, request.url, headers=headers, extensions=extensions)
    mask_request(shown, request.secret)
    return shown


async def _observe(hooks: Hooks, response: WireResponse) -> None:
    """The response hooks (a stream's: before its body is read) and the library's observers."""
    try:
        if hooks.response:
            await run_hooks(hooks.response, response.response)
        for observer in hooks.observers:
            observer(response)
    except BaseException:
        await response.aclose()
        raise


def _log_reply(request: WireRequest, response: WireResponse, idempotency_key: str | None) -> None:
    logger.debug(
        "%s %s -> %d in %.1f ms (request %s, idempotency key %s)",
        request.method,
        request.path,
        response.status_code,
        response.elapsed * 1000,
        response.request_id or "-",
        idempotency_key or "-",
    )


async def _status_failure(
    request: WireRequest, response: WireResponse, stream: bool
) -> APIStatusError:
    """The typed error for a non-2xx response (a streamed one's small body read first)."""
    if stream:
        body = response.aiter_bytes(context=f"{request.method} {request.path}: reading the error")
        try:
            await response.aread()
        finally:
            await body.aclose()
    error = _status_error(response.response, request.secret)
    if logger.isEnabledFor(logging.INFO):
        logger.info("%s %s failed: %s", request.method, request.path, error)
    return error


def check_api_key(value: object) -> str:
    """``value`` if it can be sent as a key header; the error never quotes the key."""
    if not isinstance(value, str) or not value:
        raise ConfigurationError("the API key must be a non-empty string")
    if value != value.strip() or not value.isascii():
        raise ConfigurationError("the API key must be ASCII without surrounding spaces")
    if not value.isprintable():
        raise ConfigurationError("the API key must not contain control characters")
    return value


def _timeout_extension(timeout: Timeout) -> dict[str, float | None]:
    return {
        "connect": timeout.connect,
        "read": timeout.read,
        "write": timeout.write,
        "pool": timeout.pool,
    }


def _header_problem(where: str, name: object, value: object) -> str | None:
    """Why ``name: value`` cannot be sent as a header (None if it can); never quotes the value.

    Checked here so that a CR or LF (header injection) is a caller's error, not a "connection
    error" that retry and circuit-breaker code would read as an outage.
    """
    if not isinstance(name, str) or not _HEADER_NAME.fullmatch(name):
        return f"{where}: {name!r} is not a valid header name (letters, digits and !#$%&'*+-.^_`|~)"
    if not isinstance(value, str):
        return f"{where}[{name!r}] must be a str, not {type(value).__name__}"
    if not _HEADER_VALUE.fullmatch(value):
        return (
            f"{where}[{name!r}] cannot be sent: it contains CR, LF, NUL or another control "
            "character, or starts or ends with whitespace (value not shown)"
        )
    return None


def _merge_extra(headers: Mapping[str, str] | None, extra: Mapping[str, str]) -> Mapping[str, str]:
    if not isinstance(extra, Mapping):
        raise InvalidArgumentTypeError(
            f"extra_headers must be a mapping of str to str, not {type(extra).__name__}"
        )
    for name, value in extra.items():
        problem = _header_problem("extra_headers", name, value)
        if problem is not None:
            raise InvalidRequestError(problem)
        if name.lower() in _PROTECTED:
            raise InvalidRequestError(f"extra_headers may not set {name}")
    if not headers:
        return extra
    return {**headers, **extra}


def _deadline_error(method: str, path: str, total: float | None) -> APITimeoutError:
    """The call's whole deadline passed: sending again cannot beat it (not retryable)."""
    return APITimeoutError(
        f"{method} {path}: no response within the {total} s deadline", retryable=False
    )


def _check_idempotency_key(value: object) -> None:
    if not isinstance(value, str) or not value or len(value) > _MAX_IDEMPOTENCY_KEY:
        raise InvalidRequestError(
            f"idempotency_key must be a string of 1 to {_MAX_IDEMPOTENCY_KEY} characters"
        )
    if not _HEADER_VALUE.fullmatch(value):
        raise InvalidRequestError(
            "idempotency_key cannot be sent as a header: it contains CR, LF, NUL or another "
            "control character, or starts or ends with whitespace"
        )


def _backoff_hook(
    policy: RetryPolicy, deadline: float | None
) -> Callable[[Exception], bool | float]:
    """stamina's ``on=``: retry or not, and with which wait when the server said how long
    (``deadline``: on the backend clock)."""

    def hook(exc: Exception) -> bool | float:
        if isinstance(exc, APIConnectionError):
            return exc.retryable
        if not isinstance(exc, APIStatusError):
            return False
        status = exc.status_code
        if status not in _RETRY_STATUSES and status < 500:
            return False
        wait = parse_retry_after(exc.headers.get("retry-after"))
        if wait is None:
            return True
        if wait > policy.max_retry_after:
            return False
        if deadline is not None and anyio.current_time() + wait > deadline:
            return False
        return wait

    return hook


def _mask_secret(response: httpx.Response, secret: str) -> None:
    """Replace the key wherever the server quoted it: the body (plain and JSON-escaped), headers.

    Error trackers record ``str(exc)``, ``exc.body`` and the response: none may carry the key.
    """
    masked = redact_key(secret)
    content = response.content
    for form in {secret, msgspec.json.encode(secret).decode()[1:-1]}:
        needle = form.encode()
        if needle in content:
            content = content.replace(needle, masked.encode())
    if content is not response.content:
        response._content = content
        response.__dict__.pop("_text", None)  # (httpx caches the decoded text)
    raw = response.headers.raw
    if any(secret.encode() in value for _, value in raw):
        response.headers = httpx.Headers(
            [(name, value.replace(secret.encode(), masked.encode())) for name, value in raw]
        )


def _status_error(response: httpx.Response, secret: str | None = None) -> APIStatusError:
    if secret and len(secret) >= 4:
        _mask_secret(response, secret)
    content = response.content
    code = ""
    message = ""
    details: dict[str, Any] | None = None
    try:
        envelope = _decode_envelope(content)
    except msgspec.DecodeError:
        message = content[:500].decode("utf-8", "replace").strip()
    else:
        code = envelope.code if isinstance(envelope.code, str) else str(envelope.code)
        message = envelope.message if isinstance(envelope.message, str) else ""
        details = envelope.details if isinstance(envelope.details, dict) else None
    status = response.status_code
    if 300 <= status < 400:
        location = response.headers.get("location", "")
        message = f"unexpected redirect to {location!r} (redirects are not followed)"
    cls = status_error_class(status)
    return cls(message or response.reason_phrase, response, code=code, details=details)


def _validation_error(
    response: httpx.Response, decoder: msgspec.json.Decoder[Any], exc: msgspec.DecodeError
) -> ResponseValidationError:
    match = _JSON_PATH.search(str(exc))
    path = match.group(1) if match else None
    expected = getattr(decoder.type, "__name__", repr(decoder.type))
    return ResponseValidationError(
        f"response body does not match {expected}: {exc}", response, path=path, cause=exc
    )
