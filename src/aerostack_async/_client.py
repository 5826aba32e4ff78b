"""AsyncAerostack: configuration, lifecycle and the resources of one client.

Hold one client for the life of your process (or of a task group), and close it:

    async with AsyncAerostack(api_key="sk_...") as client:
        await client.cache.set("greeting", "hello", ttl=60)
        print((await client.cache.get("greeting")).value)
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Mapping
from types import TracebackType
from typing import TYPE_CHECKING, Literal

from . import _tracing
from ._constants import ENVIRONMENTS, SERVERS
from ._hooks import EventHooks, Hooks, check_event_hooks
from ._logging import redact_key, setup_from_env
from ._options import (
    DEFAULT_LIMITS,
    DEFAULT_RETRY,
    DEFAULT_TIMEOUT,
    Limits,
    RetryPolicy,
    Timeout,
    coerce_limits,
    coerce_timeout,
)
from ._transport import KeySource, Transport, _Keep, check_api_key
from .errors import ConfigurationError
from .resources import AI, Authentication, Cache, Database, Queue, Search, Services, Storage

if TYPE_CHECKING:
    import httpx

    from ._raw import AsyncRawResponses

__all__ = ["ENVIRONMENTS", "SERVERS", "AsyncAerostack"]


Environment = Literal["production", "local"]


class AsyncAerostack:
    """An async client for the Aerostack Platform API, on asyncio or trio.

    Arguments (all keyword-only). An argument you pass always wins over an environment
    variable, and an environment variable over the default:

    - ``api_key``: a secret (``sk_…``) or public (``pk_…``) key, or a sync or async callable
      returning one (called once per call, for rotating keys). Otherwise ``AEROSTACK_API_KEY``.
    - ``base_url``: any base URL, ending in ``/v1``. Otherwise ``server_idx`` (the seed's:
      0 = ``https://api.aerostack.ai/v1``, 1 = local), otherwise ``environment``:
      ``"production"`` (``https://api.aerostack.dev/v1``) or ``"local"``
      (``http://localhost:8787/v1``, the emulator). Only when none of the three is given does
      ``AEROSTACK_BASE_URL`` apply, and only without it is the default production.
    - ``timeout``: seconds per phase, or a `Timeout` (default: 5 s connect, 60 s read
      and write, 10 s for a pooled connection, 120 s for a whole call with its retries).
    - ``retry``: a `RetryPolicy` (default: 3 attempts) or ``None`` for no retries.
    - ``limits``: the pool's size, as a `Limits` or an ``httpx.Limits``; ``http2``: use
      HTTP/2 (``pip install 'aerostack-async[http2]'``).
    - ``http_client``: your own ``httpx.AsyncClient`` (its headers are sent too); it is never
      closed by us.
    - ``default_headers``: headers sent with every request.
    - ``event_hooks``: ``{"request": [...], "response": [...]}``, sync or async callables run
      for every attempt of every call, in httpx's shape (the key masked in what they see); see
      ``docs/observability.md``, with the OpenTelemetry spans each call makes when a tracer
      provider is configured, and `with_raw_response`.

    Use it as ``async with AsyncAerostack(...) as client`` or call `aclose()`. A client
    dropped while open warns with ``ResourceWarning``.
    """

    # Resources, created once per client; their methods hold the API operations.
    authentication: Authentication
    database: Database
    cache: Cache
    queue: Queue
    services: Services
    storage: Storage
    ai: AI
    search: Search

    _transport: Transport
    _owns_http: bool
    _closed: bool
    _parent: AsyncAerostack | None
    _key_display: str

    def __init__(
        self,
        *,
        api_key: KeySource | None = None,
        environment: Environment | None = None,
        base_url: str | None = None,
        server_idx: int | None = None,
        timeout: float | Timeout | None = DEFAULT_TIMEOUT,
        retry: RetryPolicy | None = DEFAULT_RETRY,
        limits: Limits | httpx.Limits = DEFAULT_LIMITS,
        http2: bool = False,
        http_client: httpx.AsyncClient | None = None,
        default_headers: Mapping[str, str] | None = None,
        event_hooks: EventHooks | None = None,
    ) -> None:
        self._closed = True  # until fully built, so __del__ of a half-built client stays quiet
        self._owns_http = False
        self._parent = None
        setup_from_env()
        _tracing.prime()
        hooks = check_event_hooks(event_hooks)
        key = _resolve_api_key(api_key)
        url = _resolve_base_url(environment, base_url, server_idx)
        if retry is not None and not isinstance(retry, RetryPolicy):
            raise ConfigurationError("retry must be a RetryPolicy or None")
        limits = coerce_limits(limits)
        timeout_given = timeout is not DEFAULT_TIMEOUT
        resolved_timeout = coerce_timeout(timeout)
        if http_client is None:
            from ._http import build_http_client

            try:
                http_client, pool = build_http_client(resolved_timeout, limits, http2=http2)
            except ImportError as exc:
                raise ConfigurationError(f"cannot build the HTTP client: {exc}") from exc
            owns_http = True
        else:
            owns_http = False
            pool = None
        transport = Transport(
            http_client,
            base_url=url,
            api_key=key,
            timeout=resolved_timeout,
            retry=retry,
            default_headers=default_headers,
            apply_timeout=owns_http or timeout_given,
            inherit_headers=not owns_http,
            limits=limits if owns_http else None,
            pool=pool,
            hooks=hooks,
        )
        self._key_display = redact_key(key) if isinstance(key, str) else "<callable>"
        self._bind(transport)
        self._owns_http = owns_http
        self._closed = False

    def _bind(self, transport: Transport) -> None:
        self._transport = transport
        self.authentication = Authentication(transport)
        self.database = Database(transport)
        self.cache = Cache(transport)
        self.queue = Queue(transport)
        self.services = Services(transport)
        self.storage = Storage(transport)
        self.ai = AI(transport)
        self.search = Search(transport)

    # -- configuration ----------------------------------------------------------------------

    @property
    def base_url(self) -> str:
        """The base URL every call goes to."""
        return self._transport.base_url

    @property
    def is_closed(self) -> bool:
        """Whether `aclose()` has run (for a copy: whether its parent was closed)."""
        if self._parent is not None:
            return self._parent.is_closed
        return self._closed

    def with_options(
        self,
        *,
        api_key: KeySource | None = None,
        base_url: str | None = None,
        timeout: float | Timeout | type[_Keep] | None = _Keep,
        retry: RetryPolicy | type[_Keep] | None = _Keep,
        default_headers: Mapping[str, str] | None = None,
        event_hooks: EventHooks | None = None,
    ) -> AsyncAerostack:
        """A copy with some settings changed that shares this client's connection pool.

        The copy needs no closing of its own: closing this client (the one that owns the pool)
        ends both. ``default_headers`` are added to the current ones; ``event_hooks`` replace
        the current ones (``{}``: none).

        Example:
            ```python
            patient = client.with_options(timeout=Timeout(read=300), retry=None)
            ```
        """
        if retry is not _Keep and retry is not None and not isinstance(retry, RetryPolicy):
            raise ConfigurationError("retry must be a RetryPolicy or None")
        hooks: Hooks | type[_Keep] = _Keep
        if event_hooks is not None:
            given = check_event_hooks(event_hooks)
            # (a raw-response copy keeps its observer whatever the hooks)
            hooks = Hooks(given.request, given.response, self._transport.hooks.observers)
        transport = self._transport.copy(
            base_url=_check_url(base_url, "base_url") if base_url is not None else None,
            api_key=_resolve_api_key(api_key) if api_key is not None else None,
            timeout=None if timeout is _Keep else coerce_timeout(timeout),  # type: ignore[arg-type]
            retry=retry,
            default_headers=default_headers,
            hooks=hooks,
        )
        return self._copy(transport, api_key)

    def _copy(self, transport: Transport, api_key: KeySource | None = None) -> AsyncAerostack:
        copy = object.__new__(AsyncAerostack)
        copy._owns_http = False
        copy._closed = False
        copy._parent = self._parent or self
        copy._key_display = (
            self._key_display
            if api_key is None
            else (redact_key(api_key) if isinstance(api_key, str) else "<callable>")
        )
        copy._bind(transport)
        return copy

    @property
    def with_raw_response(self) -> AsyncRawResponses:
        """This client's resources, whose one-call methods return a `RawResponse`.

        ``raw = await client.with_raw_response.cache.get("k")`` gives ``raw.status_code``,
        ``raw.headers``, ``raw.request_id``, ``raw.elapsed`` and ``raw.parse()`` (the usual
        result). It shares this client's pool, settings and hooks.
        """
        view: AsyncRawResponses | None = self.__dict__.get("_raw_view")
        if view is None:
            from ._raw import AsyncRawResponses, record

            transport = self._transport.copy(hooks=self._transport.hooks.with_observer(record))
            view = self.__dict__["_raw_view"] = AsyncRawResponses(self._copy(transport))
        return view

    # -- lifecycle --------------------------------------------------------------------------

    async def aclose(self) -> None:
        """Close the connection pool (if this client made it); calling it again does nothing."""
        if self._closed:
            return
        self._closed = True
        if self._owns_http:
            await self._transport.http_client.aclose()

    async def __aenter__(self) -> AsyncAerostack:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.aclose()

    def __del__(self) -> None:
        # Only warn: closing needs the event loop, which may be gone or busy at this point.
        if not getattr(self, "_closed", True) and getattr(self, "_owns_http", False):
            warnings.warn(
                f"{self!r} was not closed; use 'async with' or 'await client.aclose()'",
                ResourceWarning,
                source=self,
                stacklevel=1,
            )

    def __repr__(self) -> str:
        base = getattr(self, "_transport", None)
        url = base.base_url if base is not None else "?"
        return f"AsyncAerostack(base_url={url!r}, api_key={getattr(self, '_key_display', '?')!r})"


def _resolve_api_key(api_key: KeySource | None) -> KeySource:
    if api_key is None:
        api_key = os.environ.get("AEROSTACK_API_KEY") or None
        if api_key is None:
            raise ConfigurationError(
                "no API key: pass AsyncAerostack(api_key=...) or set AEROSTACK_API_KEY"
            )
    if callable(api_key):
        return api_key
    if not isinstance(api_key, str):
        raise ConfigurationError(
            f"api_key must be a str or a callable, not {type(api_key).__name__}"
        )
    return check_api_key(api_key)


def _resolve_base_url(environment: str | None, base_url: str | None, server_idx: int | None) -> str:
    # What the caller passed, then AEROSTACK_BASE_URL, then production: explicit beats implicit.
    if base_url is not None and server_idx is not None:
        raise ConfigurationError("pass base_url or server_idx, not both")
    if base_url is not None:
        return _check_url(base_url, "base_url")
    if server_idx is not None:
        if isinstance(server_idx, bool) or server_idx not in range(len(SERVERS)):
            raise ConfigurationError(f"server_idx must be 0 or 1, not {server_idx!r}")
        return SERVERS[server_idx]
    if environment is None:
        from_env = os.environ.get("AEROSTACK_BASE_URL")
        if from_env:
            return _check_url(from_env, "AEROSTACK_BASE_URL")
        environment = "production"
    try:
        return ENVIRONMENTS[environment]
    except (KeyError, TypeError):
        raise ConfigurationError(
            f"environment must be 'production' or 'local', not {environment!r}"
        ) from None


def _check_url(value: object, name: str) -> str:
    # Checked before the pool is built, so a bad URL leaves nothing half-made behind.
    if not isinstance(value, str) or not value.startswith(("http://", "https://")):
        raise ConfigurationError(f"{name} must be an absolute http(s) URL, not {value!r}")
    return value.rstrip("/")
