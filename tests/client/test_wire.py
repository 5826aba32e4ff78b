"""The wire boundary: both adapters (our pool, httpx) give the same errors, logs and responses."""

from __future__ import annotations

import logging

import httpx
import pytest

from aerostack_async import AsyncAerostack, Timeout
from aerostack_async._http import TRANSPORT_ENV
from aerostack_async._wire import WireRequest
from aerostack_async.errors import APIConnectionError, APITimeoutError, NotFoundError

from .._loopback import Reply, scripted_server

pytestmark = pytest.mark.anyio

KEY = "sk_live_0123456789abcdef"
BOTH = pytest.mark.parametrize("transport", ["pool", "httpx"])


def _client(base_url: str, **kwargs: object) -> AsyncAerostack:
    return AsyncAerostack(api_key=KEY, base_url=base_url, retry=None, **kwargs)  # type: ignore[arg-type]


def _cause_request(error: BaseException) -> httpx.Request:
    cause = error.__cause__
    assert isinstance(cause, httpx.HTTPError)
    return cause.request


@BOTH
async def test_a_dropped_connection_is_a_retryable_connection_error_with_the_key_masked(
    monkeypatch: pytest.MonkeyPatch, transport: str
) -> None:
    monkeypatch.setenv(TRANSPORT_ENV, transport)
    async with scripted_server(Reply(drop=True)) as server, _client(server.base_url) as client:
        with pytest.raises(APIConnectionError) as caught:
            await client.cache.get("a")
    error = caught.value
    assert type(error) is APIConnectionError
    assert error.retryable is True
    assert str(error).startswith("POST /cache/get: ")
    assert KEY not in str(error)
    sent = _cause_request(error)
    assert sent.headers["x-aerostack-key"] != KEY  # masked once the request went out
    assert sent.headers["x-aerostack-key"].startswith("sk_")


@pytest.mark.filterwarnings(
    # httpx leaves httpcore's body generators unfinished when decoding fails; trio's GC hook
    # then warns about them (httpx's transport only, not a leak of ours).
    "ignore:Exception ignored in. <async_generator object:pytest.PytestUnraisableExceptionWarning"
)
@BOTH
async def test_a_body_that_cannot_be_decoded_is_not_retryable(
    monkeypatch: pytest.MonkeyPatch, transport: str
) -> None:
    monkeypatch.setenv(TRANSPORT_ENV, transport)
    reply = Reply(body=b"not gzip", headers=[("Content-Encoding", "gzip")])
    async with scripted_server(reply) as server, _client(server.base_url) as client:
        with pytest.raises(APIConnectionError, match="could not be decoded") as caught:
            await client.cache.get("a")
    assert caught.value.retryable is False


@BOTH
async def test_a_read_timeout_is_a_retryable_timeout_error(
    monkeypatch: pytest.MonkeyPatch, transport: str
) -> None:
    monkeypatch.setenv(TRANSPORT_ENV, transport)
    timeout = Timeout(connect=5, read=0.2, write=5, pool=5, total=None)
    async with (
        scripted_server(Reply(hang=True)) as server,
        _client(server.base_url, timeout=timeout) as client,
    ):
        with pytest.raises(APITimeoutError) as caught:
            await client.cache.get("a")
    assert caught.value.retryable is True
    assert "ReadTimeout" in str(caught.value)


@BOTH
async def test_a_status_error_carries_the_whole_response_with_the_key_masked(
    monkeypatch: pytest.MonkeyPatch, transport: str
) -> None:
    monkeypatch.setenv(TRANSPORT_ENV, transport)
    body = b'{"code":"NOT_FOUND","message":"no such key"}'
    reply = Reply(status=404, body=body, headers=[("X-Request-ID", "req-1")])
    async with scripted_server(reply) as server, _client(server.base_url) as client:
        with pytest.raises(NotFoundError) as caught:
            await client.cache.get("a")
    response = caught.value.raw_response
    assert isinstance(response, httpx.Response)
    assert response.status_code == 404
    assert response.headers["x-request-id"] == "req-1"
    assert response.content == body
    assert response.elapsed.total_seconds() > 0
    assert response.http_version == "HTTP/1.1"
    assert response.request.headers["x-aerostack-key"] != KEY
    assert server.received[0].headers["x-aerostack-key"] == KEY  # the server got the real one


@BOTH
async def test_the_debug_line_is_the_same_on_both_adapters(
    monkeypatch: pytest.MonkeyPatch, transport: str, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setenv(TRANSPORT_ENV, transport)
    reply = Reply(body=b'{"exists":false}', headers=[("X-Request-ID", "req-9")])
    async with scripted_server(reply) as server, _client(server.base_url) as client:
        with caplog.at_level(logging.DEBUG, logger="aerostack_async"):
            await client.cache.get("a")
    lines = [r.getMessage() for r in caplog.records if r.name == "aerostack_async"]
    assert len(lines) == 1
    assert lines[0].startswith("POST /cache/get -> 200 in ")
    assert "(request req-9, idempotency key -)" in lines[0]


def test_a_wire_request_shows_its_headers_with_the_key_masked() -> None:
    request = WireRequest(
        "POST",
        httpx.URL("http://127.0.0.1/v1/cache/get"),
        "/cache/get",
        httpx.Headers({"X-Aerostack-Key": KEY, "Accept": "application/json"}),
        {"Idempotency-Key": "k-1"},
        b"{}",
        {},
    )
    shown = request.masked_headers()
    assert request.secret == KEY
    assert shown["Idempotency-Key"] == "k-1"
    assert shown["Accept"] == "application/json"
    masked = next(value for name, value in shown.items() if name.lower() == "x-aerostack-key")
    assert masked != KEY
    assert KEY not in repr(shown)
    sent = request.to_httpx()
    assert sent.headers["x-aerostack-key"] == KEY  # what goes down the wire is the real key
    assert sent.headers["content-length"] == "2"
