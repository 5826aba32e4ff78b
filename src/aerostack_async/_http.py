"""Builds the HTTP client a new :class:`~aerostack_async.AsyncAerostack` uses, in one place.

The pool beneath is swappable: this is the only function that chooses it, so making another
``httpx.AsyncBaseTransport`` (our own keep-alive pool, say) the default is a change here alone.
"""

from __future__ import annotations

import httpx

from ._options import Limits, Timeout

__all__ = ["build_http_client"]


def build_http_client(
    timeout: Timeout,
    limits: Limits,
    *,
    http2: bool = False,
    transport: httpx.AsyncBaseTransport | None = None,
) -> httpx.AsyncClient:
    """A new ``httpx.AsyncClient`` for one AsyncAerostack (which then owns and closes it).

    Redirects are never followed, so the key cannot travel to another origin.
    """
    return httpx.AsyncClient(
        timeout=httpx.Timeout(
            connect=timeout.connect, read=timeout.read, write=timeout.write, pool=timeout.pool
        ),
        limits=httpx.Limits(
            max_connections=limits.max_connections,
            max_keepalive_connections=limits.max_keepalive_connections,
            keepalive_expiry=limits.keepalive_expiry,
        ),
        http2=http2,
        transport=transport,
        follow_redirects=False,
    )
