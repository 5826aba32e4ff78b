"""aerostack-async: the async-first client for the Aerostack Platform API.

Example::

    from aerostack_async import AsyncAerostack

    async with AsyncAerostack(api_key="sk_...") as client:
        await client.cache.set("greeting", "hello")

``Aerostack`` is the same client for synchronous code, ``SDK`` the seed SDK's interface on
top of it; ``errors`` holds the error tree and ``models`` the request and response types.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from . import errors, models
from ._client import AsyncAerostack
from ._options import CallOptions, Limits, RetryPolicy, Timeout
from ._version import __version__
from .errors import (
    AerostackError,
    APIConnectionError,
    APIStatusError,
    APITimeoutError,
    InvalidRequestError,
)
from .resources import Pages

if TYPE_CHECKING:
    from ._sync import Aerostack
    from .compat import SDK

__all__ = [
    "SDK",
    "APIConnectionError",
    "APIStatusError",
    "APITimeoutError",
    "Aerostack",
    "AerostackError",
    "AsyncAerostack",
    "CallOptions",
    "InvalidRequestError",
    "Limits",
    "Pages",
    "RetryPolicy",
    "Timeout",
    "__version__",
    "errors",
    "models",
]


def __getattr__(name: str) -> Any:
    # The sync facade and the seed interface bring loop-thread machinery: import them on use.
    if name == "Aerostack":
        from ._sync import Aerostack

        return Aerostack
    if name == "SDK":
        from .compat import SDK

        return SDK
    raise AttributeError(f"module 'aerostack_async' has no attribute {name!r}")
