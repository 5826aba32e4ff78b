"""Raw responses, in openai's shape: ``client.with_raw_response.cache.get("k")``.

``client.with_raw_response`` has the client's resources; each method that makes one call
returns a `RawResponse` instead of its result: the HTTP status, headers, request id and
time of the call's (last) attempt, and `RawResponse.parse()` for the usual result. Methods
that make many calls or stream (``*_many``, ``*_stream``, ``list``, ``download``...) are not
there: a stream already carries its response (``stream.response``), and a batch is many.

How the response is found: the methods run unchanged on a copy of the client whose transport
reports each response to an observer; the observer writes it into a slot held in a context
variable that only the raw method sets, so concurrent raw calls never see each other's. Plain
clients have no observer and pay nothing for this.
"""

from __future__ import annotations

import functools
import inspect
import json
from collections.abc import Callable
from contextvars import ContextVar
from datetime import timedelta
from typing import TYPE_CHECKING, Any, ClassVar, Generic, TypeVar

from .resources import AI, Authentication, Cache, Database, Queue, Search, Services, Storage

if TYPE_CHECKING:
    import httpx

    from ._client import AsyncAerostack

__all__ = ["AsyncRawResponses", "RawResponse", "raw_methods"]

T = TypeVar("T")

_CAPTURE: ContextVar[list[Any] | None] = ContextVar("aerostack_async_raw", default=None)

# Methods that make more than one call, or hand out a stream, pages or a context manager.
_EXCLUDED_SUFFIXES = ("_many", "_stream")
_EXCLUDED = frozenset({"list", "list_jobs", "download"})


def record(wire_response: Any) -> None:
    """The transport's observer: keep the response if a raw call is waiting for it."""
    slot = _CAPTURE.get()
    if slot is not None:
        slot.append(wire_response)


class RawResponse(Generic[T]):
    """One call's HTTP response, and the result it parses to.

    ``status_code``, ``headers``, ``request_id`` (the server's ``X-Request-ID``), ``elapsed``
    (sending to the end of the body, of the last attempt), ``http_request`` (what was sent, the
    key masked), ``http_response`` (the ``httpx.Response``), ``content``/``text``/``json()``,
    and `parse()` for what the method returns normally.
    """

    __slots__ = ("_parsed", "_wire")

    def __init__(self, wire_response: Any, parsed: T) -> None:
        self._wire = wire_response
        self._parsed = parsed

    def parse(self) -> T:
        """The method's usual result (decoded and checked as always)."""
        return self._parsed

    @property
    def http_response(self) -> httpx.Response:
        """The response, as an ``httpx.Response`` (its ``.request`` has the key masked)."""
        response: httpx.Response = self._wire.response
        return response

    @property
    def http_request(self) -> httpx.Request:
        """The request that was sent (the key masked)."""
        return self.http_response.request

    @property
    def status_code(self) -> int:
        """The HTTP status (2xx: errors raise, carrying ``.response`` and ``.request``)."""
        status: int = self._wire.status_code
        return status

    @property
    def headers(self) -> httpx.Headers:
        """The response headers."""
        return self.http_response.headers

    @property
    def request_id(self) -> str | None:
        """The server's ``X-Request-ID``, if it sent one."""
        value: str | None = self._wire.request_id
        return value

    @property
    def elapsed(self) -> timedelta:
        """From sending the (last) attempt to the end of its body."""
        return timedelta(seconds=self._wire.elapsed)

    @property
    def url(self) -> httpx.URL:
        """The URL the call went to."""
        return self.http_request.url

    @property
    def method(self) -> str:
        """The HTTP method."""
        return self.http_request.method

    @property
    def content(self) -> bytes:
        """The body as received."""
        content: bytes = self._wire.content or b""
        return content

    @property
    def text(self) -> str:
        """The body as text (UTF-8)."""
        return self.content.decode("utf-8", "replace")

    def json(self) -> Any:
        """The body as plain JSON (dicts and lists), not the typed result of `parse()`."""
        return json.loads(self.content)

    def __repr__(self) -> str:
        return f"<RawResponse [{self.status_code}] {self.request_id or ''}>".replace(" >", ">")


def raw_methods(cls: type) -> list[str]:
    """The methods of a resource class that make one call (so have a raw form)."""
    return [
        name
        for name, attr in vars(cls).items()
        if not name.startswith("_")
        and inspect.iscoroutinefunction(attr)
        and not name.endswith(_EXCLUDED_SUFFIXES)
        and name not in _EXCLUDED
    ]


def _raw_method(name: str, original: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(original)
    async def method(self: _RawResource, *args: Any, **kwargs: Any) -> RawResponse[Any]:
        slot: list[Any] = []
        token = _CAPTURE.set(slot)
        try:
            parsed = await getattr(self._resource, name)(*args, **kwargs)
        finally:
            _CAPTURE.reset(token)
        # Several calls (database.batch(atomic=False) past 25 statements): the last one's.
        return RawResponse(slot[-1], parsed)

    method.__doc__ = (
        f"``{original.__qualname__}``, returning a `RawResponse` "
        f"(its ``parse()`` gives the usual result).\n\n{inspect.getdoc(original) or ''}"
    )
    del method.__wrapped__  # (its own signature: the original's, returning a RawResponse)
    signature = inspect.signature(original)
    method.__signature__ = signature.replace(  # type: ignore[attr-defined]
        return_annotation=f"RawResponse[{_annotation_text(signature.return_annotation)}]"
    )
    method.__annotations__ = {
        **original.__annotations__,
        "return": method.__signature__.return_annotation,  # type: ignore[attr-defined]
    }
    return method


def _annotation_text(annotation: object) -> str:
    if isinstance(annotation, str):
        return annotation
    return getattr(annotation, "__name__", repr(annotation))


class _RawResource:
    """A resource whose one-call methods return `RawResponse`."""

    __slots__ = ("_resource",)

    def __init__(self, resource: Any) -> None:
        self._resource = resource

    def __repr__(self) -> str:
        return f"<{type(self).__name__} resource>"


def _raw_class(cls: type) -> type[_RawResource]:
    namespace: dict[str, Any] = {
        "__slots__": (),
        "__module__": __name__,
        "__doc__": f"``{cls.__name__}`` with raw responses: each method returns a RawResponse.",
    }
    for name in raw_methods(cls):
        namespace[name] = _raw_method(name, getattr(cls, name))
    return type(f"Raw{cls.__name__}", (_RawResource,), namespace)


RawAI = _raw_class(AI)
RawAuthentication = _raw_class(Authentication)
RawCache = _raw_class(Cache)
RawDatabase = _raw_class(Database)
RawQueue = _raw_class(Queue)
RawSearch = _raw_class(Search)
RawServices = _raw_class(Services)
RawStorage = _raw_class(Storage)


class AsyncRawResponses:
    """``client.with_raw_response``: the client's resources, returning `RawResponse`.

    Example:
        ```python
        raw = await client.with_raw_response.cache.get("greeting")
        print(raw.status_code, raw.request_id, raw.elapsed, raw.headers["content-type"])
        entry = raw.parse()  # the CacheGetResult that cache.get returns
        ```
    """

    # The sync facade proxies it like a resource (it holds resources, has no methods).
    _sync_service: ClassVar[bool] = True

    __slots__ = (
        "ai",
        "authentication",
        "cache",
        "database",
        "queue",
        "search",
        "services",
        "storage",
    )

    def __init__(self, client: AsyncAerostack) -> None:
        self.authentication: Any = RawAuthentication(client.authentication)
        self.database: Any = RawDatabase(client.database)
        self.cache: Any = RawCache(client.cache)
        self.queue: Any = RawQueue(client.queue)
        self.services: Any = RawServices(client.services)
        self.storage: Any = RawStorage(client.storage)
        self.ai: Any = RawAI(client.ai)
        self.search: Any = RawSearch(client.search)

    def __repr__(self) -> str:
        return "<with_raw_response>"
