"""The one place that speaks HTTP: build the request, send it, retry, map errors, log.

Everything above this module deals in bytes and msgspec types; only this module (and the
streaming helpers it hands an open response to) touches httpx.

Per call, the hot path builds an ``httpx.Request`` from a prebuilt URL and header list with the
already-encoded body and sends it. It skips ``client.post(url, json=...)``'s URL merging, header
merging and JSON encoding, which cost a large share of a request's CPU. On a client we built over
our own pool, a call whose response is read whole goes straight to the pool
(``AsyncPoolTransport.fetch``), past ``AsyncClient.send()``'s auth, redirect and cookie layers,
none of which such a client uses; everything else goes through ``client.send()``.
The first attempt runs without any retry machinery; only a retryable failure hands the call to
stamina, which then drives backoff (``Retry-After`` honoured up to a cap) for the remaining
attempts. A cancel scope enforces the total deadline over all attempts.

Hooks for the streaming, upload and download helpers
----------------------------------------------------
``Transport.stream(method, path, *, content=None, headers=None, mutating=True, options=None)``
is an async context manager yielding an open ``httpx.Response`` whose status is 2xx. A non-2xx
status raises the same typed error as :meth:`Transport.request` (its small body is read first)
before anything is yielded. Retries and the total deadline apply only until the response
headers arrive: once yielded, the response is never retried, and leaving the ``async with``
(normally, by error or by cancellation) closes it so its connection goes back to the pool.

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
import time
import uuid
from collections.abc import AsyncIterable, AsyncIterator, Awaitable, Callable, Mapping
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any, TypeVar

import anyio
import httpx
import msgspec

from ._logging import logger, redact_key
from ._options import CallOptions, Limits, RetryPolicy, Timeout, coerce_timeout
from ._pool._transport import Fetched
from ._version import __version__
from .errors import (
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

_Reply = httpx.Response | Fetched
"""What one attempt returns: a response, or (on our pool) a plain 2xx body read whole."""

__all__ = ["USER_AGENT", "BodyFactory", "KeySource", "Transport"]

T = TypeVar("T")

KeySource = str | Callable[[], "str | Awaitable[str]"]
"""An API key, or a sync or async callable returning one (called once per call)."""

BodyFactory = Callable[[], AsyncIterable[bytes]]
"""Makes a fresh request body iterator; called once per attempt."""

USER_AGENT = f"aerostack-async/{__version__} python/{platform.python_version()}"

_KEY_HEADER = "X-Aerostack-Key"
# Headers a caller's extra_headers may not set: they carry the key or frame the body.
_PROTECTED = frozenset(
    {"x-aerostack-key", "authorization", "host", "content-length", "transfer-encoding"}
)
_RETRY_STATUSES = frozenset({408, 429})
_HTTPX_DEFAULTS = frozenset({("accept", "*/*")})
_MAX_IDEMPOTENCY_KEY = 255
_OPTION_NAMES = frozenset(CallOptions.__annotations__)
_JSON_PATH = re.compile(r"at `(\$[^`]*)`")
# What HTTP/1.1 (and both our parsers, and h11) accept: a token name; a value of visible
# characters (obs-text included: httpx sends str values as UTF-8), spaces or tabs inside only.
_HEADER_NAME = re.compile(r"[-!#$%&'*+.^_`|~0-9a-zA-Z]+")
_HEADER_VALUE = re.compile(r"(?:[^\x00-\x20\x7f](?:[ \t]*[^\x00-\x20\x7f])*)?")
_httpx_logger = logging.getLogger("httpx")


class _Keep:
    """Marker: keep the current setting (for ``copy(retry=...)``, where None means "none")."""


class _ErrorEnvelope(msgspec.Struct):
    code: Any = ""
    message: Any = ""
    details: Any = None


_decode_envelope = msgspec.json.Decoder(_ErrorEnvelope).decode


class Transport:
    """Sends requests for one client configuration; copies made by ``with_options`` share the pool.

    Not public API: resources call :meth:`request`; streaming helpers call :meth:`stream`.
    """

    __slots__ = (
        "_base_url",
        "_default_headers",
        "_extensions",
        "_headers",
        "_http",
        "_inherit_headers",
        "_key",
        "_key_is_static",
        "_pool",
        "_retry",
        "_timeout",
        "_urls",
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
    ) -> None:
        self._http = http
        # Our pool, when it is the transport of a client we built: plain calls go straight to it.
        self._pool = pool
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
        # When the caller brought their own http_client and no timeout, theirs applies.
        self._extensions: dict[str, Any] = (
            {"timeout": _timeout_extension(timeout)} if apply_timeout else {}
        )

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
        )

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
            return decoder.decode(reply.body if isinstance(reply, Fetched) else reply.content)
        except msgspec.DecodeError as exc:
            response = reply.response() if isinstance(reply, Fetched) else reply
            _scrub(response)
            raise _validation_error(response, decoder, exc) from exc

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
    ) -> AsyncIterator[httpx.Response]:
        """An open 2xx response, closed on exit; errors and retries happen before it is yielded."""
        response = await self._call(method, path, content, headers, mutating, options, True)
        assert isinstance(response, httpx.Response), "only plain calls are fetched whole"
        _scrub(response)
        try:
            yield response
        finally:
            await response.aclose()

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
    ) -> _Reply:
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
                extensions = {"timeout": _timeout_extension(timeout)}
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

        def attempt() -> Awaitable[_Reply]:
            return self._attempt(
                method, url, path, content, headers, key, idempotency_key, extensions, stream
            )

        total = timeout.total
        if total is None:
            return await self._with_retries(attempt, retry, None, method, path)
        with anyio.move_on_after(total) as scope:
            return await self._with_retries(attempt, retry, time.monotonic() + total, method, path)
        if scope.cancelled_caught:
            raise APITimeoutError(f"{method} {path}: no response within the {total} s deadline")
        raise AssertionError("unreachable")  # pragma: no cover

    async def _with_retries(
        self,
        attempt: Callable[[], Awaitable[_Reply]],
        policy: RetryPolicy | None,
        deadline: float | None,
        method: str,
        path: str,
    ) -> _Reply:
        try:
            return await attempt()
        except (APIConnectionError, APIStatusError) as exc:
            if policy is None or policy.attempts < 2:
                raise
            hook = _backoff_hook(policy, deadline)
            if hook(exc) is False:
                raise
            first: BaseException | None = exc

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
                timeout=None if deadline is None else max(0.0, deadline - time.monotonic()),
                wait_initial=policy.wait_initial,
                wait_max=policy.wait_max,
                wait_jitter=policy.wait_jitter,
                wait_exp_base=policy.wait_exp_base,
            ):
                with retry_attempt:
                    if first is not None:
                        failure, first = first, None
                        raise failure
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
        extensions: dict[str, Any],
        stream: bool,
    ) -> _Reply:
        body: AsyncIterable[bytes] | None = None
        if isinstance(content, bytes):
            request = httpx.Request(
                method, url, headers=self._headers, stream=httpx.ByteStream(content),
                extensions=extensions,
            )  # fmt: skip
            request.headers["Content-Length"] = str(len(content))
        elif content is None:
            request = httpx.Request(method, url, headers=self._headers, extensions=extensions)
        else:
            body = content()
            # The caller's headers go in at construction, so a Content-Length among them stops
            # httpx from also framing the iterable body as chunked.
            merged = httpx.Headers(self._headers)
            if headers:
                merged.update(headers)
                headers = None
            request = httpx.Request(
                method, url, headers=merged, content=body, extensions=extensions
            )
        request_headers = request.headers
        if key is not None:
            request_headers[_KEY_HEADER] = key
        if idempotency_key is not None:
            request_headers["Idempotency-Key"] = idempotency_key
        if headers:
            for name, value in headers.items():
                request_headers[name] = value

        debug = logger.isEnabledFor(logging.DEBUG)
        pool = self._pool
        started = time.perf_counter() if debug else 0.0
        try:
            if pool is not None and not stream:
                # A client we built has no auth, hooks or redirects to apply, and our calls send
                # no cookies: AsyncClient.send() would only add cost on this, the hottest path.
                if self._http.is_closed:
                    raise RuntimeError("Cannot send a request, as the client has been closed.")
                fetched = await pool.fetch(request)
                if _httpx_logger.isEnabledFor(logging.INFO):
                    # The line httpx's own send() logs, for those who watch the httpx logger.
                    head = fetched.head
                    _httpx_logger.info(
                        'HTTP Request: %s %s "HTTP/%s %d %s"',
                        method,
                        request.url,
                        head.http_version.decode("ascii"),
                        head.status_code,
                        head.reason.decode("ascii", "replace"),
                    )
                if fetched.plain and 200 <= fetched.status_code < 300 and not debug:
                    return fetched  # the caller only decodes the body: no httpx.Response needed
                response = fetched.response()
            else:
                response = await self._http.send(request, stream=stream, follow_redirects=False)
        except httpx.TimeoutException as exc:
            raise APITimeoutError(_send_failure(method, path, exc, request)) from exc
        except httpx.TransportError as exc:
            error = APIConnectionError(_send_failure(method, path, exc, request))
            # Retrying cannot fix a bad URL scheme, a proxy refusal or our own protocol misuse.
            error._retryable = isinstance(exc, (httpx.NetworkError, httpx.RemoteProtocolError))  # type: ignore[attr-defined]
            raise error from exc
        except httpx.DecodingError as exc:
            # A body its Content-Encoding cannot undo: the server's fault, and no usable answer.
            error = APIConnectionError(
                f"{method} {path}: the response body could not be decoded: {exc}"
            )
            error._retryable = False  # type: ignore[attr-defined]
            raise error from exc
        finally:
            if body is not None and hasattr(body, "aclose"):
                await body.aclose()

        status = response.status_code
        if debug:
            logger.debug(
                "%s %s -> %d in %.1f ms (request %s, idempotency key %s)",
                method,
                path,
                status,
                (time.perf_counter() - started) * 1000,
                response.headers.get("x-request-id", "-"),
                idempotency_key or "-",
            )
        if 200 <= status < 300:
            return response
        if stream:
            try:
                await response.aread()
            except httpx.HTTPError as exc:
                raise APIConnectionError(f"{method} {path}: reading the error: {exc}") from exc
            finally:
                await response.aclose()
        secret = request_headers.get(_KEY_HEADER)
        _scrub(response)
        status_error = _status_error(response, secret)
        if logger.isEnabledFor(logging.INFO):
            logger.info("%s %s failed: %s", method, path, status_error)
        raise status_error

    async def _resolve_key(self) -> str:
        source = self._key
        assert callable(source)
        value = source()
        if inspect.isawaitable(value):
            value = await value
        return check_api_key(value)

    def __repr__(self) -> str:
        return f"Transport(base_url={self._base_url!r})"


def _scrub(response: httpx.Response) -> None:
    """Mask the key in the sent request's headers before the response reaches user code.

    The request has gone out; what stays behind is reachable as ``error.raw_response.request``
    or ``stream.response.request``, where it could be logged.
    """
    headers = response.request.headers
    if _KEY_HEADER in headers:
        headers[_KEY_HEADER] = redact_key(headers[_KEY_HEADER])


def _send_failure(method: str, path: str, exc: Exception, request: httpx.Request) -> str:
    """The message for a send that failed, with the key masked in it and in ``request``.

    The request stays reachable through the error's ``__cause__``; a protocol library may also
    quote a header value in its message.
    """
    message = f"{method} {path}: {type(exc).__name__}: {exc}"
    secret = request.headers.get(_KEY_HEADER)
    if secret:
        masked = redact_key(secret)
        message = message.replace(secret, masked)
        request.headers[_KEY_HEADER] = masked
    return message


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
    """stamina's ``on=``: retry or not, and with which wait when the server said how long."""

    def hook(exc: Exception) -> bool | float:
        if isinstance(exc, APIConnectionError):
            return bool(getattr(exc, "_retryable", True))
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
        if deadline is not None and time.monotonic() + wait > deadline:
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
