"""Our HTTP/1.1 keep-alive connection pool: an ``httpx.AsyncBaseTransport`` on anyio streams.

``_slots`` keeps the books (slots, idle stacks, waiters), ``_http11`` runs one exchange on a
connection with h11, and ``_transport`` ties them into :class:`AsyncPoolTransport`.
"""

from ._transport import DEFAULT_LIMITS, AsyncPoolTransport, pool_applies

__all__ = ["DEFAULT_LIMITS", "AsyncPoolTransport", "pool_applies"]
