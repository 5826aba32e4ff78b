"""Builds the HTTP client a new :class:`~aerostack_async.AsyncAerostack` uses, in one place.

Our own HTTP/1.1 pool (:mod:`aerostack_async._pool`) is the default: it costs several times
less CPU per request than httpcore's and stays flat with concurrency. httpx's own transport is
used where ours does not apply — HTTP/2, proxies (httpx reads ``HTTP(S)_PROXY`` only when no
``transport=`` is given) — and when ``AEROSTACK_HTTP_TRANSPORT=httpx`` asks for it (to compare,
or to rule the pool out while debugging). A caller's own ``http_client`` is used as it is.
"""

from __future__ import annotations

import os

import httpx

from ._options import Limits, Timeout
from ._pool import AsyncPoolTransport, pool_applies

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

    Also returns our pool beneath it, if that is its transport: the client's plain JSON calls go
    straight to the pool (:meth:`AsyncPoolTransport.fetch`). Redirects are never followed, so the
    key cannot travel to another origin.
    """
    httpx_limits = httpx.Limits(
        max_connections=limits.max_connections,
        max_keepalive_connections=limits.max_keepalive_connections,
        keepalive_expiry=limits.keepalive_expiry,
    )
    pool = None
    if transport is None and _wants_pool(http2):
        # httpx ignores its own limits once given a transport, so the pool gets them here.
        transport = pool = AsyncPoolTransport(limits=httpx_limits)
    client = httpx.AsyncClient(
        timeout=httpx.Timeout(
            connect=timeout.connect, read=timeout.read, write=timeout.write, pool=timeout.pool
        ),
        limits=httpx_limits,
        http2=http2,
        transport=transport,
        follow_redirects=False,
    )
    return client, pool
