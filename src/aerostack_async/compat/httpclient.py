"""The seed SDK's ``HttpClient`` / ``AsyncHttpClient`` protocols, for custom client wrappers.

Seed code that wraps its HTTP client keeps working with the import renamed:

    from aerostack_async.httpclient import AsyncHttpClient

    class CustomClient(AsyncHttpClient): ...

    sdk = SDK(async_client=CustomClient(httpx.AsyncClient()))

Only ``send`` is ever called: the core builds each ``httpx.Request`` itself. A supplied client
is never closed by the SDK.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

if TYPE_CHECKING:  # only the transport imports httpx at run time
    import httpx

__all__ = ["AsyncHttpClient", "HttpClient"]


@runtime_checkable
class HttpClient(Protocol):
    """What the seed accepted as ``client=``: ``httpx.Client`` or a wrapper of one."""

    def send(
        self,
        request: httpx.Request,
        *,
        stream: bool = False,
        auth: Any = ...,
        follow_redirects: Any = ...,
    ) -> httpx.Response:
        """Send one request."""
        ...

    def build_request(self, method: str, url: Any, **kwargs: Any) -> httpx.Request:
        """Build a request (kept for the seed's protocol; the core does not call it)."""
        ...

    def close(self) -> None:
        """Close the client."""
        ...


@runtime_checkable
class AsyncHttpClient(Protocol):
    """What the seed accepted as ``async_client=``: ``httpx.AsyncClient`` or a wrapper."""

    async def send(
        self,
        request: httpx.Request,
        *,
        stream: bool = False,
        auth: Any = ...,
        follow_redirects: Any = ...,
    ) -> httpx.Response:
        """Send one request."""
        ...

    def build_request(self, method: str, url: Any, **kwargs: Any) -> httpx.Request:
        """Build a request (kept for the seed's protocol; the core does not call it)."""
        ...

    async def aclose(self) -> None:
        """Close the client."""
        ...
