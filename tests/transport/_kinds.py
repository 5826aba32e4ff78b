"""Which transport a conformance test runs on: ours (the pool) or httpx's stock one."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from aerostack_async._pool import AsyncPoolTransport

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
