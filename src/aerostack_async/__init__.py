"""aerostack-async: the async-first client for the Aerostack Platform API.

Example:
    ```python
    from aerostack_async import AsyncAerostack

    async with AsyncAerostack(api_key="sk_...") as client:
        await client.cache.set("greeting", "hello")
    ```

``Aerostack`` is the same client for synchronous code, ``SDK`` the seed SDK's interface on
top of it; ``errors`` holds the error tree and ``models`` the request and response types.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from ._version import __version__

if TYPE_CHECKING:
    from . import errors, models
    from ._client import AsyncAerostack
    from ._options import CallOptions, Limits, RetryPolicy, Timeout
    from ._raw import RawResponse
    from ._sync import Aerostack
    from .compat import SDK
    from .errors import (
        AerostackError,
        APIConnectionError,
        APIStatusError,
        APITimeoutError,
        InvalidRequestError,
    )
    from .resources import Pages

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
    "RawResponse",
    "RetryPolicy",
    "Timeout",
    "__version__",
    "errors",
    "models",
]

# Where each public name lives. Importing the package imports none of them: each is imported on
# first use (PEP 562), so `import aerostack_async` costs next to nothing, and a program pays
# for httpx, the models and the sync facade's loop-thread machinery when it uses them.
_LAZY = {
    "AsyncAerostack": "._client",
    "CallOptions": "._options",
    "Limits": "._options",
    "RetryPolicy": "._options",
    "Timeout": "._options",
    "Aerostack": "._sync",
    "SDK": ".compat",
    "AerostackError": ".errors",
    "APIConnectionError": ".errors",
    "APIStatusError": ".errors",
    "APITimeoutError": ".errors",
    "InvalidRequestError": ".errors",
    "Pages": ".resources",
    "RawResponse": "._raw",
}
_SUBMODULES = frozenset({"errors", "models"})


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is not None:
        value = getattr(importlib.import_module(module, __name__), name)
    elif name in _SUBMODULES:
        value = importlib.import_module(f".{name}", __name__)
    else:
        raise AttributeError(f"module 'aerostack_async' has no attribute {name!r}")
    globals()[name] = value  # once: later lookups are plain attribute reads
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
