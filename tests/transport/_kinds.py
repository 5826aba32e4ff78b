"""Which transport a conformance test runs on: ours (the pool) or httpx's stock one."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from aerostack_async._pool import AsyncPoolTransport
from aerostack_async._pool._codec import HeadFields
from aerostack_async._pool._transport import Fetched

TRANSPORTS = ["ours", "httpx"]


def make_transport(kind: str = "ours", **options: Any) -> httpx.AsyncBaseTransport:
    """Our transport, or httpx's stock one with the same options, to show they agree."""
    if kind == "ours":
        return AsyncPoolTransport(**options)
    return httpx.AsyncHTTPTransport(**options)


ignore_httpx_asyncgen_warning = pytest.mark.filterwarnings(
    # Leaving a stream early leaves httpx's own async generators (and on the stock transport
    # httpcore's) to be finalised by trio's GC hook, which warns; not a leak of ours.
    "ignore:Exception ignored in. <async_generator object:pytest.PytestUnraisableExceptionWarning"
)


async def fetch(transport: AsyncPoolTransport, request: httpx.Request) -> Fetched:
    """``AsyncPoolTransport.fetch()`` (the library's fast path) for an ``httpx.Request``: the
    same request as its parts, sent without the request object."""
    content = request.read() if request.method in ("POST", "PUT", "PATCH") else None
    fields = [(n, v) for n, v in request.headers.raw if n.lower() != b"content-length"]
    return await transport.fetch(
        request.method,
        request.url,
        HeadFields(fields),
        {},
        content,
        request.extensions.get("timeout") or {},
    )
