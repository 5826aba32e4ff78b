"""OpenTelemetry spans for every call, built in, and free when tracing is off.

The package depends on nothing of OpenTelemetry. The ``otel`` extra brings the API
(``opentelemetry-api``); the SDK (a tracer provider, its exporters) stays the application's
choice. When the application has configured a tracer provider, every call is one ``CLIENT`` span
named by its operation (``cache.set``, ``ai.chat_stream``...) with the attributes of the HTTP
client semantic conventions, and the W3C ``traceparent`` of that span goes out with each attempt.

What tracing costs when it is off
---------------------------------
Nothing here imports OpenTelemetry: an application that has set a tracer provider has imported
``opentelemetry.trace`` already, so `tracer()` finds that module in ``sys.modules`` (one
dict lookup while it is absent). Once found, the check per call is one read of the API's global
provider, compared by identity with the one the cached tracer came from: a provider set later, or
replaced (tests do), is picked up at the next call. Without a provider, or with the API's no-op
one, `tracer()` returns None and the transport does nothing else. Measured in
``benchmarks/bench_tracing.py``.

Attribute names follow the conventions (``http.request.method``, ``server.address``,
``server.port``, ``url.full``, ``http.response.status_code``, ``error.type``,
``http.request.resend_count``); the API's own are ``aerostack.request_id`` (its
``X-Request-ID``), ``aerostack.error.code``, ``aerostack.stream.events`` and
``aerostack.stream.bytes``. None of them ever holds the key: the key travels in a header, and no
header is recorded.
"""

from __future__ import annotations

import os
import re
import sys
from collections.abc import MutableMapping
from types import ModuleType
from typing import TYPE_CHECKING, Any

from ._version import __version__

if TYPE_CHECKING:
    import httpx

__all__ = ["CallSpan", "operation_name", "prime", "start_call_span", "tracer"]

INSTRUMENTATION_NAME = "aerostack_async"
SCHEMA_URL = "https://opentelemetry.io/schemas/1.26.0"
_TRACE_MODULE = "opentelemetry.trace"
_PROVIDER_ENV = "OTEL_PYTHON_TRACER_PROVIDER"

# The module once seen, and the provider the cached tracer (None: tracing off) came from.
_trace: ModuleType | None = None
_provider: object = None
_tracer: Any = None
# What a traced call uses of the API, looked up once (when a real tracer is first made).
_api: _Api | None = None

# Each path the API has, as the client's method that calls it (``client.<resource>.<method>``).
# Several methods share a path (get_many and get_many_stream both call /cache/getMany, one span
# per call): a span is named by the operation that made that HTTP call.
OPERATIONS: dict[str, str] = {
    "/auth/signup": "authentication.sign_up",
    "/auth/signin": "authentication.sign_in",
    "/db/query": "database.query",
    "/db/batch": "database.batch",
    "/cache/get": "cache.get",
    "/cache/set": "cache.set",
    "/cache/delete": "cache.delete",
    "/cache/getMany": "cache.get_many",
    "/cache/setMany": "cache.set_many",
    "/cache/deleteMany": "cache.delete_many",
    "/cache/increment": "cache.increment",
    "/cache/expire": "cache.expire",
    "/cache/list": "cache.list",
    "/cache/keys": "cache.keys",
    "/cache/flush": "cache.flush",
    "/queue/enqueue": "queue.enqueue",
    "/queue/job": "queue.get_job",
    "/queue/jobs": "queue.list_jobs",
    "/queue/cancel": "queue.cancel",
    "/services/invoke": "services.invoke",
    "/storage/upload": "storage.upload",
    "/storage/get": "storage.get",
    "/storage/getUrl": "storage.get_url",
    "/storage/list": "storage.list",
    "/storage/delete": "storage.delete",
    "/storage/exists": "storage.exists",
    "/storage/getMetadata": "storage.get_metadata",
    "/storage/copy": "storage.copy",
    "/storage/move": "storage.move",
    "/ai/chat": "ai.chat",
    "/ai/search/ingest": "search.ingest",
    "/ai/search/query": "search.query",
    "/ai/search/get": "search.get",
    "/ai/search/update": "search.update",
    "/ai/search/delete": "search.delete",
    "/ai/search/deleteByType": "search.delete_by_type",
    "/ai/search/count": "search.count",
    "/ai/search/listTypes": "search.list_types",
    "/ai/search/configure": "search.configure",
}
# The same path read as a stream is another method.
STREAM_OPERATIONS: dict[str, str] = {
    "/ai/chat": "ai.chat_stream",
    "/storage/get": "storage.download",
}
_CAMEL = re.compile(r"(?<=[a-z0-9])([A-Z])")


def operation_name(path: str, stream: bool = False) -> str:
    """The span name for a call of ``path``: the client method's ``resource.method``.

    A path the table does not know (a newer API) is named after itself: ``/x/doThing`` is
    ``x.do_thing``.
    """
    if stream:
        name = STREAM_OPERATIONS.get(path)
        if name is not None:
            return name
    name = OPERATIONS.get(path)
    if name is not None:
        return name
    return _CAMEL.sub(r"_\1", path.strip("/").replace("/", ".")).lower() or "request"


def prime() -> None:
    """Load a tracer provider named by ``OTEL_PYTHON_TRACER_PROVIDER``, once, at client creation.

    The API only reads that variable inside ``get_tracer_provider()``; calling it here sets the
    global provider that `tracer()` then reads. Without the variable this does nothing.
    """
    if _PROVIDER_ENV not in os.environ:
        return
    try:
        from opentelemetry import trace
    except ImportError:
        return
    trace.get_tracer_provider()


def tracer() -> Any:
    """The tracer for this call, or None when tracing is off (the one check on the hot path)."""
    trace = _trace
    if trace is None:
        trace = sys.modules.get(_TRACE_MODULE)
        if trace is None:
            return None
        _bind(trace)
    try:
        provider = trace._TRACER_PROVIDER
    except AttributeError:  # pragma: no cover - an API without the global: ask it each call
        provider = trace.get_tracer_provider()
    if provider is None:
        return None
    if provider is _provider:
        return _tracer
    return _refresh(trace, provider)


def caller_context() -> Any:
    """The calling thread's OpenTelemetry context when tracing is on, else None.

    The sync facade runs each call as a task on its loop thread; it takes the caller's context
    along (`enter_context()`) so that the call's span is a child of the caller's.
    """
    if tracer() is None or _api is None:
        return None
    return _api.get_current()


def enter_context(ctx: Any) -> None:
    """Make ``ctx`` current in this task (a task of its own: it ends with the call)."""
    if _api is not None:
        _api.attach(ctx)


def _bind(trace: ModuleType) -> None:
    global _trace
    _trace = trace


def _refresh(trace: ModuleType, provider: Any) -> Any:
    """A new global provider: make (or rule out) the tracer, once."""
    global _provider, _tracer
    global _api
    if isinstance(provider, (trace.NoOpTracerProvider, trace.ProxyTracerProvider)):
        made = None
    else:
        made = provider.get_tracer(INSTRUMENTATION_NAME, __version__, schema_url=SCHEMA_URL)
        if _api is None:
            _api = _Api()
    _provider, _tracer = provider, made
    return made


class _Api:
    """The OpenTelemetry API functions a traced call uses (imported once, not per call)."""

    __slots__ = ("attach", "client", "detach", "error", "get_current", "inject",
                 "set_span_in_context", "status")  # fmt: skip

    def __init__(self) -> None:
        from opentelemetry import context, propagate, trace

        self.attach = context.attach
        self.detach = context.detach
        self.get_current = context.get_current
        self.inject = propagate.inject
        self.set_span_in_context = trace.set_span_in_context
        self.client = trace.SpanKind.CLIENT
        self.status = trace.Status
        self.error = trace.StatusCode.ERROR


def reset_for_tests() -> None:
    """Forget the cached module, provider and tracer (tests swap the global provider)."""
    global _trace, _provider, _tracer
    _trace = _provider = _tracer = None


# -- spans ---------------------------------------------------------------------------------------

# By the identity of the URL objects transports keep per path (the URL is kept alongside,
# so an id is never reused for another URL while its entry lives).
_TARGETS: dict[int, tuple[httpx.URL, dict[str, Any]]] = {}


def _target(url: httpx.URL) -> dict[str, Any]:
    """``url.full`` (no userinfo, query or fragment), ``server.address`` and ``server.port``."""
    found = _TARGETS.get(id(url))
    if found is not None and found[0] is url:
        return found[1]
    port = url.port or (443 if url.scheme == "https" else 80)
    full = url.copy_with(username=None, password=None, query=None, fragment=None)
    attributes = {"url.full": str(full), "server.address": url.host, "server.port": port}
    if len(_TARGETS) < 4096:  # (bounded: paths are a fixed set, base URLs a handful)
        _TARGETS[id(url)] = (url, attributes)
    return attributes


def start_call_span(
    tracer: Any,
    method: str,
    path: str,
    url: httpx.URL,
    stream: bool,
    headers: MutableMapping[str, str],
    operation: str | None = None,
) -> CallSpan:
    """Start the span of one call (current in this task until `CallSpan.detach()`).

    Its name is ``operation``, or else the operation the path and ``stream`` say.

    The span's ``traceparent`` (and any other header the global propagator writes) is added to
    ``headers``, which every attempt of the call sends.
    """
    api = _api
    assert api is not None, "a tracer was made, so the API was bound"
    attributes: dict[str, Any] = {"http.request.method": method, **_target(url)}
    span = tracer.start_span(
        operation or operation_name(path, stream), kind=api.client, attributes=attributes
    )
    ctx = api.set_span_in_context(span)
    api.inject(headers, context=ctx)
    return CallSpan(span, api.attach(ctx))


class CallSpan:
    """One call's span: attempts, the final status or error, then (streams: at close) the end."""

    __slots__ = ("_ended", "_span", "_token", "attempts", "bytes", "events")

    def __init__(self, span: Any, token: Any) -> None:
        self._span = span
        self._token = token
        self._ended = False
        self.attempts = 0
        self.events = 0
        self.bytes = 0

    @property
    def span(self) -> Any:
        """The OpenTelemetry span."""
        return self._span

    def detach(self) -> None:
        """Stop being the current span of this task (the call's attempts are over)."""
        token, self._token = self._token, None
        if token is not None and _api is not None:
            _api.detach(token)

    def attempt(self) -> None:
        """An attempt starts (the second and later ones are resends)."""
        self.attempts += 1
        if self.attempts > 1:
            self._span.set_attribute("http.request.resend_count", self.attempts - 1)

    def attempt_failed(self, error: BaseException) -> None:
        """An attempt failed; the call may retry it (an event on the span, for each)."""
        attributes: dict[str, Any] = {"error.type": error_type(error)}
        status = getattr(error, "status_code", None)
        if status:
            attributes["http.response.status_code"] = status
        self._span.add_event("aerostack.attempt_failed", attributes)

    def response(self, status_code: int, request_id: str | None) -> None:
        """The head of the answer that the call returns (or raises for)."""
        span = self._span
        span.set_attribute("http.response.status_code", status_code)
        if request_id:
            span.set_attribute("aerostack.request_id", request_id)

    def fail(self, error: BaseException) -> None:
        """The call failed with ``error``: its type, status, code and request id; then end."""
        if self._ended:
            return
        span = self._span
        status = getattr(error, "status_code", None)
        if status:
            span.set_attribute("http.response.status_code", status)
        request_id = getattr(error, "request_id", None)
        if request_id:
            span.set_attribute("aerostack.request_id", request_id)
        code = getattr(error, "code", None)
        if code and isinstance(code, str):
            span.set_attribute("aerostack.error.code", code)
        span.set_attribute("error.type", error_type(error))
        if isinstance(error, Exception) and _api is not None:
            span.set_status(_api.status(_api.error, str(error)[:500]))
        self.end()

    def end(self) -> None:
        """End the span (a stream's: with the number of events or bytes it delivered)."""
        if self._ended:
            return
        self._ended = True
        self.detach()
        span = self._span
        if self.events:
            span.set_attribute("aerostack.stream.events", self.events)
        if self.bytes:
            span.set_attribute("aerostack.stream.bytes", self.bytes)
        span.end()


def error_type(error: BaseException) -> str:
    """``error.type``: the status code for an HTTP error status, else the exception's class."""
    status = getattr(error, "status_code", None)
    if isinstance(status, int) and status >= 400 and not _is_in_stream(error):
        return str(status)
    cls = type(error)
    module = cls.__module__
    if module.startswith("aerostack_async."):
        module = "aerostack_async"  # (errors are public there, not in the private module)
    return cls.__qualname__ if module == "builtins" else f"{module}.{cls.__qualname__}"


def _is_in_stream(error: BaseException) -> bool:
    # An error frame inside a 200 stream carries its code but no error status of its own.
    return getattr(error, "status_code", 0) == 200
