"""Our HTTP/1.1 keep-alive connection pool: an ``httpx.AsyncBaseTransport`` on anyio streams.

``_slots`` keeps the books (slots, idle stacks, waiters), ``_codec`` picks the protocol library
(httptools or h11: ``_httptools_codec``, ``_h11_codec``), ``_socket`` is the plain TCP stream,
``_http11`` runs one exchange on a connection through the codec, ``_fork`` keeps a forked child
off its parent's sockets, and ``_transport`` ties them into `AsyncPoolTransport`. The
client reaches it through `aerostack_async._wire.PoolWire` (``fetch`` for whole bodies;
for streams, ``handle_async_request``, whose body iterator is read directly); anyone may also use
it under an ``httpx.AsyncClient``.
"""

from ._transport import DEFAULT_LIMITS, AsyncPoolTransport, pool_applies

__all__ = ["DEFAULT_LIMITS", "AsyncPoolTransport", "pool_applies"]
