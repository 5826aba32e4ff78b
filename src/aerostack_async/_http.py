"""Builds the HTTP client a new `AsyncAerostack` uses, in one place.

Our own HTTP/1.1 pool (`aerostack_async._pool`) is the default: it costs several times
less CPU per request than httpcore's and stays flat with concurrency. httpx's own transport is
used where ours does not apply — HTTP/2, proxies (httpx reads ``HTTP(S)_PROXY`` only when no
``transport=`` is given) — and when ``AEROSTACK_HTTP_TRANSPORT=httpx`` asks for it (to compare,
or to rule the pool out while debugging). A caller's own ``http_client`` is used as it is.
"""

from __future__ import annotations

import os
from typing import Any

import httpx

from ._options import Limits, Timeout
from ._pool import AsyncPoolTransport, pool_applies
from ._pool._fork import track

__all__ = ["TRANSPORT_ENV", "build_http_client"]

TRANSPORT_ENV = "AEROSTACK_HTTP_TRANSPORT"
"""``pool`` (default) or ``httpx``: which transport clients built here use."""


def _wants_pool(http2: bool) -> bool:
    choice = os.environ.get(TRANSPORT_ENV, "pool").strip().lower() or "pool"
    if choice not in ("pool", "httpx"):
        raise ValueError(f"{TRANSPORT_ENV} must be 'pool' or 'httpx', not {choice!r}")
    return choice == "pool" and pool_applies(http2=http2)


def build_http_client(
    timeout: Timeout,
    limits: Limits,
    *,
    http2: bool = False,
    transport: httpx.AsyncBaseTransport | None = None,
) -> tuple[httpx.AsyncClient, AsyncPoolTransport | None]:
    """A new ``httpx.AsyncClient`` for one AsyncAerostack (which then owns and closes it).

    Also returns our pool beneath it, if that is its transport: the client then sends through
    `PoolWire` (whole bodies by `AsyncPoolTransport.fetch()`,
    streams read off the pool's own body iterator), else through
    `HttpxWire`. Redirects are never followed, so the key cannot
    travel to another origin.
    """
    httpx_limits = httpx.Limits(
        max_connections=limits.max_connections,
        max_keepalive_connections=limits.max_keepalive_connections,
        keepalive_expiry=limits.keepalive_expiry,
    )
    pool = None
    settings: dict[str, Any] = {
        "timeout": httpx.Timeout(
            connect=timeout.connect, read=timeout.read, write=timeout.write, pool=timeout.pool
        ),
        "limits": httpx_limits,
        "http2": http2,
        "follow_redirects": False,
    }
    if transport is None and _wants_pool(http2):
        # httpx ignores its own limits once given a transport, so the pool gets them here.
        transport = pool = AsyncPoolTransport(limits=httpx_limits)
    if transport is None:
        return _ForkAwareAsyncClient(**settings), None
    return httpx.AsyncClient(transport=transport, **settings), pool


_ORPHANED: list[object] = []
"""A forked child's inherited httpx transports: kept, never closed nor collected there."""


class _ForkAwareAsyncClient(httpx.AsyncClient):
    """httpx's client on httpx's own transport (and proxy mounts), renewed in a forked child.

    httpcore's pool is not fork-aware: a child would share the parent's sockets and its
    loop-bound state. So in a child, the first request swaps in the transports of a fresh client
    built with the same settings (httpx builds its proxy mounts from the environment only when
    it makes the transport itself, hence a whole client). The parent's transports are left
    alone, so not a byte goes out on their sockets from here.
    """

    def __init__(self, **settings: Any) -> None:
        super().__init__(**settings)
        self._aerostack_settings = settings
        self._aerostack_inherited = False
        track(self)

    def forget_inherited(self) -> None:
        """At the fork, in the child: renew the transports before the next request."""
        self._aerostack_inherited = True

    async def send(self, request: httpx.Request, **kwargs: Any) -> httpx.Response:
        """httpx's ``send``, on transports of this process's own."""
        if self._aerostack_inherited:
            self._aerostack_inherited = False
            fresh = httpx.AsyncClient(**self._aerostack_settings)
            # httpx keeps these as private attributes; they are stable across httpx 0.2x.
            _ORPHANED.append((self._transport, self._mounts))
            self._transport, self._mounts = fresh._transport, fresh._mounts
        return await super().send(request, **kwargs)
