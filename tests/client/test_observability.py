"""Observability against the real emulator: OpenTelemetry spans, event hooks, raw responses.

Spans go to the OpenTelemetry SDK's in-memory exporter, through a tracer provider set for this
module and removed after it (the API allows one global provider per process; the test swaps it
the way OpenTelemetry's own tests do). Every test runs on asyncio and trio and, through
``adapter``, on our pool and on httpx's transport. No span attribute, span event or hook
argument may ever hold the API key: ``_no_key`` checks everything a test collected.
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import anyio
import anyio.lowlevel
import httpx
import pytest
from fastapi import FastAPI
from opentelemetry import propagate, trace
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode
from opentelemetry.util._once import Once
from starlette.applications import Starlette
from starlette.middleware.base import BaseHTTPMiddleware
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from aerostack_async import Aerostack, AsyncAerostack, _tracing
from aerostack_async._http import TRANSPORT_ENV
from aerostack_async._raw import RawResponse, raw_methods
from aerostack_async.errors import (
    APIConnectionError,
    ConfigurationError,
    InternalServerError,
    NotFoundError,
)
from aerostack_async.resources import (
    AI,
    Authentication,
    Cache,
    Database,
    Queue,
    Search,
    Services,
    Storage,
)
from aerostack_async.testing import Emulator, InProcessEmulator, run_emulator

from .._loopback import Reply, free_port, scripted_server
from .conftest import FAST_RETRY

pytestmark = pytest.mark.anyio

OK_GET = b'{"exists": true, "value": 1}'
UNAVAILABLE = b'{"code": "INTERNAL_ERROR", "message": "try again"}'


# -- fixtures -----------------------------------------------------------------------------------


def _install(provider: Any) -> None:
    trace._TRACER_PROVIDER_SET_ONCE = Once()  # type: ignore[attr-defined]
    trace._TRACER_PROVIDER = None  # type: ignore[attr-defined]
    if provider is not None:
        trace.set_tracer_provider(provider)
    _tracing.reset_for_tests()


@pytest.fixture(scope="module")
def exporter() -> Iterator[InMemorySpanExporter]:
    """An SDK tracer provider exporting into memory, global for this module's tests."""
    memory = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(memory))
    _install(provider)
    try:
        yield memory
    finally:
        provider.shutdown()
        _install(None)


@pytest.fixture
def spans(exporter: InMemorySpanExporter) -> Iterator[InMemorySpanExporter]:
    """The exporter, emptied before and after the test."""
    exporter.clear()
    yield exporter
    exporter.clear()


@pytest.fixture(params=["pool", "httpx"])
def adapter(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Clients built in the test use our pool, or httpx's own transport."""
    monkeypatch.setenv(TRANSPORT_ENV, request.param)
    return request.param  # type: ignore[no-any-return]


def _client(base_url: str, api_key: str, **kwargs: Any) -> AsyncAerostack:
    kwargs.setdefault("retry", FAST_RETRY)
    return AsyncAerostack(api_key=api_key, base_url=base_url, **kwargs)


class Recorder:
    """Event hooks that keep what they were given (one sync, one async)."""

    def __init__(self) -> None:
        self.requests: list[httpx.Request] = []
        self.responses: list[httpx.Response] = []

    def on_request(self, request: httpx.Request) -> None:
        self.requests.append(request)

    async def on_response(self, response: httpx.Response) -> None:
        await anyio.lowlevel.checkpoint()
        self.responses.append(response)

    @property
    def hooks(self) -> dict[str, list[Any]]:
        return {"request": [self.on_request], "response": [self.on_response]}


def _named(exporter: InMemorySpanExporter, name: str) -> list[ReadableSpan]:
    return [span for span in exporter.get_finished_spans() if span.name == name]


def _no_key(key: str, exporter: InMemorySpanExporter, recorder: Recorder | None = None) -> None:
    """The key appears in no span (attributes, events, status) and no hook argument."""
    seen: list[str] = []
    for span in exporter.get_finished_spans():
        seen.append(span.to_json())
    if recorder is not None:
        for request in recorder.requests:
            seen.append(repr(request.headers.raw) + str(request.url) + repr(request.content))
        for response in recorder.responses:
            seen.append(repr(response.request.headers.raw) + repr(response.headers.raw))
    assert seen, "nothing was collected"
    text = "\n".join(seen)
    assert key not in text
    assert key[3:] not in text  # (not even the part after sk_)


# -- spans ------------------------------------------------------------------------------------


async def test_a_call_is_one_client_span_with_the_http_attributes(
    emulator: Emulator, adapter: str, spans: InMemorySpanExporter
) -> None:
    tracer = trace.get_tracer("test")
    recorder = Recorder()
    async with _client(emulator.base_url, emulator.api_key, event_hooks=recorder.hooks) as client:
        with tracer.start_as_current_span("handler") as parent:
            await client.cache.set(f"obs-{adapter}", 1)
    [span] = _named(spans, "cache.set")
    assert span.kind is SpanKind.CLIENT
    assert span.parent is not None
    assert span.parent.span_id == parent.get_span_context().span_id
    assert span.context.trace_id == parent.get_span_context().trace_id
    attributes = dict(span.attributes or {})
    url = httpx.URL(emulator.base_url)
    assert attributes["http.request.method"] == "POST"
    assert attributes["server.address"] == url.host
    assert attributes["server.port"] == url.port
    assert attributes["url.full"] == emulator.base_url + "/cache/set"
    assert attributes["http.response.status_code"] == 200
    [response] = recorder.responses
    assert attributes["aerostack.request_id"] == response.headers["x-request-id"]
    assert "error.type" not in attributes
    assert "http.request.resend_count" not in attributes
    assert span.status.status_code is StatusCode.UNSET
    # The span's own trace context went out with the request.
    [request] = recorder.requests
    trace_id = f"{span.context.trace_id:032x}"
    span_id = f"{span.context.span_id:016x}"
    assert request.headers["traceparent"].startswith(f"00-{trace_id}-{span_id}-")
    _no_key(emulator.api_key, spans, recorder)


async def test_spans_are_named_by_operation(
    emulator: Emulator, adapter: str, spans: InMemorySpanExporter, unique: str
) -> None:
    async with _client(emulator.base_url, emulator.api_key) as client:
        await client.cache.get(unique)
        await client.cache.get_many([f"{unique}-{n}" for n in range(3)])
        await client.queue.enqueue("obs", {"n": 1})
        await client.database.query("SELECT 1 AS one")
        await client.storage.upload(f"{unique}/a.txt", b"hello")
        assert await client.storage.get(f"{unique}/a.txt") == b"hello"
        await client.ai.chat("hi", max_tokens=2)
    names = [span.name for span in spans.get_finished_spans()]
    assert names == [
        "cache.get",
        "cache.get_many",
        "queue.enqueue",
        "database.query",
        "storage.upload",
        "storage.get",
        "ai.chat",
    ]
    _no_key(emulator.api_key, spans)


async def test_a_status_error_sets_the_error_attributes(
    emulator: Emulator, adapter: str, spans: InMemorySpanExporter, unique: str
) -> None:
    async with _client(emulator.base_url, emulator.api_key) as client:
        with pytest.raises(NotFoundError) as caught:
            await client.storage.get(f"{unique}/missing")
    [span] = _named(spans, "storage.get")
    attributes = dict(span.attributes or {})
    assert attributes["http.response.status_code"] == 404
    assert attributes["error.type"] == "404"
    assert attributes["aerostack.error.code"] == "NOT_FOUND"
    assert attributes["aerostack.request_id"] == caught.value.request_id
    assert span.status.status_code is StatusCode.ERROR
    _no_key(emulator.api_key, spans)


async def test_a_retried_call_is_one_span_with_its_resends_and_a_hook_call_per_attempt(
    adapter: str, spans: InMemorySpanExporter
) -> None:
    recorder = Recorder()
    async with scripted_server(Reply(503, UNAVAILABLE), Reply(200, OK_GET)) as server:
        client = _client(server.base_url, "sk_test_secret", event_hooks=recorder.hooks)
        async with client:
            assert (await client.cache.get("k")).value == 1
    [span] = spans.get_finished_spans()
    attributes = dict(span.attributes or {})
    assert attributes["http.request.resend_count"] == 1
    assert attributes["http.response.status_code"] == 200
    assert "error.type" not in attributes
    [event] = span.events
    assert event.name == "aerostack.attempt_failed"
    assert dict(event.attributes or {}) == {
        "error.type": "503",
        "http.response.status_code": 503,
    }
    assert len(recorder.requests) == 2
    assert [r.status_code for r in recorder.responses] == [503, 200]
    # Both attempts carried the same trace context, which the server received.
    sent = {request.headers["traceparent"] for request in server.received}
    assert sent == {recorder.requests[0].headers["traceparent"]}
    _no_key("sk_test_secret", spans, recorder)


async def test_a_call_that_fails_every_attempt(adapter: str, spans: InMemorySpanExporter) -> None:
    recorder = Recorder()
    async with scripted_server(Reply(503, UNAVAILABLE)) as server:
        client = _client(server.base_url, "sk_test_secret", event_hooks=recorder.hooks)
        async with client:
            with pytest.raises(InternalServerError):
                await client.cache.get("k")
    [span] = spans.get_finished_spans()
    attributes = dict(span.attributes or {})
    assert attributes["http.request.resend_count"] == FAST_RETRY.attempts - 1
    assert attributes["error.type"] == "503"
    assert attributes["aerostack.error.code"] == "INTERNAL_ERROR"
    assert len(span.events) == FAST_RETRY.attempts
    assert len(recorder.requests) == len(recorder.responses) == FAST_RETRY.attempts


async def test_no_answer_runs_request_hooks_only_and_names_the_error(
    adapter: str, spans: InMemorySpanExporter
) -> None:
    recorder = Recorder()
    url = f"http://127.0.0.1:{free_port()}/v1"
    async with _client(url, "sk_test_secret", event_hooks=recorder.hooks) as client:
        with pytest.raises(APIConnectionError) as caught:
            await client.cache.get("k")
    assert len(recorder.requests) == FAST_RETRY.attempts
    assert recorder.responses == []
    [span] = spans.get_finished_spans()
    attributes = dict(span.attributes or {})
    assert attributes["error.type"] == "aerostack_async.APIConnectionError"
    assert "http.response.status_code" not in attributes
    assert span.status.status_code is StatusCode.ERROR
    # The error carries the request it could not send, key masked; no response.
    assert caught.value.request is not None
    assert caught.value.request.headers["x-aerostack-key"] == "sk_***"
    assert caught.value.response is None
    _no_key("sk_test_secret", spans, recorder)


async def test_a_cancelled_call_ends_its_span_and_restores_the_callers(
    adapter: str, spans: InMemorySpanExporter
) -> None:
    tracer = trace.get_tracer("test")
    async with scripted_server(Reply(hang=True)) as server:
        client = _client(server.base_url, "sk_test_secret")
        async with client:
            with tracer.start_as_current_span("caller") as caller:
                with anyio.move_on_after(0.2):
                    await client.cache.get("k")
                # The call's span is no longer current here: the caller's is again.
                assert trace.get_current_span() is caller
    [span] = _named(spans, "cache.get")
    attributes = dict(span.attributes or {})
    assert "Cancel" in str(attributes["error.type"])
    assert span.end_time is not None


async def test_a_chat_stream_span_ends_when_the_stream_closes_with_its_event_count(
    emulator: Emulator, adapter: str, spans: InMemorySpanExporter
) -> None:
    recorder = Recorder()
    client = _client(emulator.base_url, emulator.api_key, event_hooks=recorder.hooks)
    async with client, client.ai.chat_stream("tell me", max_tokens=5) as stream:
        # The response hook ran when the head arrived; the span is still open.
        assert len(recorder.responses) == 1
        assert recorder.responses[0].headers["content-type"].startswith("text/event-stream")
        events = [event async for event in stream]
        assert _named(spans, "ai.chat_stream") == []
    [span] = _named(spans, "ai.chat_stream")
    attributes = dict(span.attributes or {})
    assert attributes["aerostack.stream.events"] == len(events) > 0
    assert attributes["http.response.status_code"] == 200
    _no_key(emulator.api_key, spans, recorder)


async def test_a_download_span_counts_its_bytes(
    emulator: Emulator, adapter: str, spans: InMemorySpanExporter, unique: str
) -> None:
    recorder = Recorder()
    async with _client(emulator.base_url, emulator.api_key, event_hooks=recorder.hooks) as client:
        await client.storage.upload(f"{unique}/big.bin", b"x" * 100_000)
        async with client.storage.download(f"{unique}/big.bin") as download:
            data = b"".join([piece async for piece in download.aiter_bytes()])
    assert len(data) == 100_000
    [upload] = _named(spans, "storage.upload")
    [span] = _named(spans, "storage.download")
    assert dict(span.attributes or {})["aerostack.stream.bytes"] == 100_000
    assert upload.end_time is not None
    assert upload.end_time <= span.start_time
    assert [r.url.path for r in recorder.requests] == ["/v1/storage/upload", "/v1/storage/get"]
    _no_key(emulator.api_key, spans, recorder)


async def test_httpx_instrumentation_nests_under_our_span(
    emulator: Emulator, spans: InMemorySpanExporter, monkeypatch: pytest.MonkeyPatch
) -> None:
    from opentelemetry.instrumentation.httpx import HTTPXClientInstrumentor

    monkeypatch.setenv(TRANSPORT_ENV, "httpx")
    instrumentor = HTTPXClientInstrumentor()
    instrumentor.instrument()
    try:
        async with _client(emulator.base_url, emulator.api_key) as client:
            await client.cache.get("obs-nested")
    finally:
        instrumentor.uninstrument()
    [ours] = _named(spans, "cache.get")
    [theirs] = [span for span in spans.get_finished_spans() if span is not ours]
    assert theirs.parent is not None
    assert theirs.parent.span_id == ours.context.span_id
    _no_key(emulator.api_key, spans)


# -- hooks ------------------------------------------------------------------------------------


@pytest.mark.parametrize("key_kind", ["static", "callable"])
async def test_hooks_see_the_request_with_the_key_masked(
    emulator: Emulator, adapter: str, key_kind: str, spans: InMemorySpanExporter
) -> None:
    recorder = Recorder()

    async def rotating_key() -> str:  # (a key resolved per call travels with the call)
        return emulator.api_key

    key: Any = emulator.api_key if key_kind == "static" else rotating_key
    async with _client(emulator.base_url, key, event_hooks=recorder.hooks) as client:
        await client.cache.set("obs-hooked", {"a": 1})
    _no_key(emulator.api_key, spans, recorder)
    [request] = recorder.requests
    assert request.method == "POST"
    assert request.url == httpx.URL(emulator.base_url + "/cache/set")
    assert request.headers["x-aerostack-key"] == "sk_***"
    assert json.loads(request.content) == {"key": "obs-hooked", "value": {"a": 1}}
    [response] = recorder.responses
    assert response.status_code == 200
    assert response.request.headers["x-aerostack-key"] == "sk_***"


async def test_with_options_keeps_or_replaces_the_hooks(emulator: Emulator, adapter: str) -> None:
    first, second = Recorder(), Recorder()
    async with _client(emulator.base_url, emulator.api_key, event_hooks=first.hooks) as client:
        await client.with_options(timeout=30).cache.get("obs-k")
        await client.with_options(event_hooks=second.hooks).cache.get("obs-k")
        await client.with_options(event_hooks={}).cache.get("obs-k")
    assert len(first.requests) == 1
    assert len(second.requests) == 1


def test_bad_hooks_are_a_configuration_error() -> None:
    with pytest.raises(ConfigurationError, match="unknown event 'reqest'"):
        AsyncAerostack(api_key="sk_x", environment="local", event_hooks={"reqest": [print]})
    with pytest.raises(ConfigurationError, match="list of callables"):
        AsyncAerostack(api_key="sk_x", environment="local", event_hooks={"request": print})
    with pytest.raises(ConfigurationError, match="not callable"):
        AsyncAerostack(api_key="sk_x", environment="local", event_hooks={"response": [1]})


async def test_a_hook_that_raises_ends_the_call_unretried(emulator: Emulator) -> None:
    calls: list[object] = []

    def boom(request: object) -> None:
        calls.append(request)
        raise RuntimeError("hook failed")

    async with _client(emulator.base_url, emulator.api_key, event_hooks={"request": [boom]}) as c:
        with pytest.raises(RuntimeError, match="hook failed"):
            await c.cache.get("obs-k")
    assert len(calls) == 1


# -- raw responses and errors -------------------------------------------------------------------


async def test_raw_response_of_a_call(emulator: Emulator, adapter: str, unique: str) -> None:
    async with _client(emulator.base_url, emulator.api_key) as client:
        await client.cache.set(unique, {"v": 2})
        raw = await client.with_raw_response.cache.get(unique)
        plain = await client.cache.get(unique)
    assert isinstance(raw, RawResponse)
    assert raw.status_code == 200
    assert raw.request_id is not None
    assert raw.request_id.startswith("req_")
    assert raw.headers["x-request-id"] == raw.request_id
    assert raw.headers["content-type"].startswith("application/json")
    assert isinstance(raw.elapsed, timedelta)
    assert raw.elapsed > timedelta(0)
    assert raw.parse() == plain
    assert raw.json() == {"exists": True, "value": {"v": 2}}
    assert raw.method == "POST"
    assert raw.url == httpx.URL(emulator.base_url + "/cache/get")
    assert raw.http_request.headers["x-aerostack-key"] == "sk_***"


async def test_raw_responses_of_concurrent_calls_are_their_own(
    emulator: Emulator, unique: str
) -> None:
    found: dict[int, RawResponse[Any]] = {}
    async with _client(emulator.base_url, emulator.api_key) as client:
        raw_cache = client.with_raw_response.cache

        async def one(n: int) -> None:
            found[n] = await raw_cache.increment(f"{unique}-{n}", n)

        async with anyio.create_task_group() as tg:
            for n in range(1, 9):
                tg.start_soon(one, n)
    assert {n: raw.parse().value for n, raw in found.items()} == {n: n for n in range(1, 9)}
    assert len({raw.request_id for raw in found.values()}) == 8


def test_raw_forms_cover_the_one_call_methods() -> None:
    assert "get" in raw_methods(Cache)
    assert "upload" in raw_methods(Storage)
    for name in ("get_many", "set_many_stream", "list", "chat_stream", "download"):
        for cls in (Cache, Storage, AI):
            assert name not in raw_methods(cls)


async def test_a_status_error_carries_its_request_and_response(
    emulator: Emulator, adapter: str, unique: str
) -> None:
    async with _client(emulator.base_url, emulator.api_key) as client:
        with pytest.raises(NotFoundError) as caught:
            await client.storage.get(f"{unique}/missing")
    error = caught.value
    assert error.response is error.raw_response
    assert error.response is not None
    assert error.response.status_code == 404
    assert error.request is error.response.request
    assert error.request.headers["x-aerostack-key"] == "sk_***"


def test_the_sync_client_has_hooks_and_raw_responses(emulator: Emulator, unique: str) -> None:
    seen: list[str] = []
    with Aerostack(
        api_key=emulator.api_key,
        base_url=emulator.base_url,
        event_hooks={"request": [lambda request: seen.append(request.url.path)]},
    ) as client:
        client.cache.set(unique, 3)
        raw = client.with_raw_response.cache.get(unique)
        assert raw.status_code == 200
        assert raw.parse().value == 3
        client.with_options(event_hooks={}).cache.get(unique)
    assert seen == ["/v1/cache/set", "/v1/cache/get"]


@pytest.mark.parametrize("backend", ["asyncio", "trio"])
def test_a_sync_call_is_a_child_of_the_calling_threads_span(
    emulator: Emulator, spans: InMemorySpanExporter, backend: str
) -> None:
    tracer = trace.get_tracer("test")
    with Aerostack(api_key=emulator.api_key, base_url=emulator.base_url, backend=backend) as c:
        with tracer.start_as_current_span("job") as parent:
            c.cache.get("obs-sync")
        c.cache.get("obs-sync")  # (outside: a root span)
    first, second = _named(spans, "cache.get")
    assert first.parent is not None
    assert first.parent.span_id == parent.get_span_context().span_id
    assert second.parent is None


# -- the operation table ----------------------------------------------------------------------


def test_every_operation_names_a_client_method() -> None:
    resources = {
        "authentication": Authentication,
        "database": Database,
        "cache": Cache,
        "queue": Queue,
        "services": Services,
        "storage": Storage,
        "ai": AI,
        "search": Search,
    }
    names = [*_tracing.OPERATIONS.values(), *_tracing.STREAM_OPERATIONS.values()]
    for name in names:
        resource, method = name.split(".")
        assert callable(getattr(resources[resource], method, None)), name
    assert _tracing.operation_name("/x/doThing") == "x.do_thing"


def test_every_path_the_client_calls_is_in_the_table() -> None:
    import re
    from pathlib import Path

    source = Path(_tracing.__file__).parent
    paths: set[str] = set()
    for path in [*source.glob("resources/*.py"), *source.glob("streaming/*.py")]:
        paths.update(re.findall(r'"(/(?:auth|db|cache|queue|services|storage|ai)/[A-Za-z/]+)"',
                                path.read_text()))  # fmt: skip
    assert paths, "no paths found"
    assert paths <= set(_tracing.OPERATIONS), paths - set(_tracing.OPERATIONS)


# -- the emulator's log, and a traced web service ---------------------------------------------


async def test_the_emulator_logs_the_traceparent(
    spans: InMemorySpanExporter, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="aerostack_async.server")
    async with InProcessEmulator() as emulator:
        client = emulator.client()
        await client.cache.get("obs-logged")
    [span] = spans.get_finished_spans()
    expected = f"00-{span.context.trace_id:032x}-{span.context.span_id:016x}-"
    lines = [r.getMessage() for r in caplog.records if r.name == "aerostack_async.server"]
    assert any("/v1/cache/get 200" in line and expected in line for line in lines), lines


def test_the_emulator_access_log_shows_the_traceparent() -> None:
    traceparent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
    with run_emulator("--access-log") as running:
        response = httpx.post(
            running.base_url + "/cache/get",
            json={"key": "k"},
            headers={"X-Aerostack-Key": running.api_key, "traceparent": traceparent},
        )
        assert response.status_code == 200
        request_id = response.headers["x-request-id"]
        for _ in range(100):
            if request_id in running.log():
                break
            time.sleep(0.05)
        log = running.log()
    [line] = [line for line in log.splitlines() if request_id in line and "traceparent" in line]
    assert line.endswith(f"traceparent {traceparent}")
    assert running.api_key not in line


INCOMING = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"


def _starlette_app() -> Starlette:
    """The traced Starlette service of docs/observability.md: one server span per request."""
    tracer = trace.get_tracer("my-service")

    async def server_span(request: Request, call_next: Any) -> Any:
        parent = propagate.extract(request.headers)
        name = f"{request.method} {request.url.path}"
        with tracer.start_as_current_span(name, context=parent, kind=SpanKind.SERVER):
            return await call_next(request)

    async def greeting(request: Request) -> JSONResponse:
        client: AsyncAerostack = request.app.state.aerostack
        entry = await client.cache.get("obs-greeting")
        return JSONResponse({"greeting": entry.value})

    app = Starlette(routes=[Route("/greeting", greeting)])
    app.add_middleware(BaseHTTPMiddleware, dispatch=server_span)
    return app


def _fastapi_app() -> FastAPI:
    """FastAPI with its own request telemetry (no middleware of ours)."""
    app = FastAPI()

    @app.get("/greeting")
    async def greeting(request: Request) -> dict[str, object]:
        client: AsyncAerostack = request.app.state.aerostack
        entry = await client.cache.get("obs-greeting")
        return {"greeting": entry.value}

    return app


@pytest.mark.parametrize("framework", ["starlette", "fastapi"])
async def test_a_traced_web_service_parents_the_client_spans(
    emulator: Emulator, adapter: str, spans: InMemorySpanExporter, framework: str
) -> None:
    app: Any = _starlette_app() if framework == "starlette" else _fastapi_app()
    async with _client(emulator.base_url, emulator.api_key) as client:
        app.state.aerostack = client
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://service"
        ) as http:
            response = await http.get("/greeting", headers={"traceparent": INCOMING})
    assert response.status_code == 200
    by_id = {span.context.span_id: span for span in spans.get_finished_spans()}
    [call] = _named(spans, "cache.get")
    assert f"{call.context.trace_id:032x}" == "4bf92f3577b34da6a3ce929d0e0e4736"
    # Up from the client's span: the request's server span, under the caller's span.
    ancestors = []
    parent = call.parent
    while parent is not None and parent.span_id in by_id:
        ancestors.append(by_id[parent.span_id])
        parent = ancestors[-1].parent
    servers = [span for span in ancestors if span.kind is SpanKind.SERVER]
    assert servers, [span.name for span in ancestors]
    assert servers[0].parent is not None
    assert f"{servers[0].parent.span_id:016x}" == "00f067aa0ba902b7"
    if framework == "starlette":
        assert ancestors[0] is servers[0]  # (the handler runs in the server span itself)


# -- tracing off ----------------------------------------------------------------------------------

_OFF = """
import sys, anyio
{setup}
from aerostack_async import AsyncAerostack, _tracing

async def main(url, key):
    seen = []
    hooks = {{"request": [lambda request: seen.append(request.headers.get("traceparent"))]}}
    async with AsyncAerostack(api_key=key, base_url=url, event_hooks=hooks) as client:
        await client.cache.get("k")
    print(_tracing.tracer(), seen, "opentelemetry.trace" in sys.modules)

anyio.run(main, sys.argv[1], sys.argv[2])
"""


@pytest.mark.parametrize(
    ("setup", "otel_imported"),
    [
        pytest.param("sys.modules['opentelemetry'] = None", False, id="extra-absent"),
        pytest.param("import opentelemetry.trace", True, id="no-provider"),
        pytest.param(
            "from opentelemetry import trace\n"
            "trace.set_tracer_provider(trace.NoOpTracerProvider())",
            True,
            id="no-op-provider",
        ),
    ],
)
def test_without_a_provider_nothing_is_traced_or_imported(
    emulator: Emulator, setup: str, otel_imported: bool
) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("OTEL_")}
    done = subprocess.run(
        [sys.executable, "-c", _OFF.format(setup=setup), emulator.base_url, emulator.api_key],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["None", "[None]", str(otel_imported)]
