"""Which transport a client the library builds uses: our pool by default, httpx's where asked."""

from __future__ import annotations

import logging

import httpx
import pytest

from aerostack_async import AsyncAerostack
from aerostack_async._http import TRANSPORT_ENV
from aerostack_async._pool import AsyncPoolTransport
from aerostack_async.errors import APIConnectionError, NotFoundError, ResponseValidationError

from .._loopback import Reply, scripted_server

pytestmark = pytest.mark.anyio


def _transport_of(client: AsyncAerostack) -> object:
    # Which adapter a built client sends through has no public view: that choice is under test.
    return client._transport.http_client._transport


async def test_clients_we_build_use_our_pool_by_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(TRANSPORT_ENV, raising=False)
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy"):
        monkeypatch.delenv(name, raising=False)
    async with AsyncAerostack(api_key="sk_x", environment="local") as client:
        assert isinstance(_transport_of(client), AsyncPoolTransport)


async def test_environment_variable_selects_httpx_transport(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv(TRANSPORT_ENV, "httpx")
    async with AsyncAerostack(api_key="sk_x", environment="local") as client:
        assert isinstance(_transport_of(client), httpx.AsyncHTTPTransport)


async def test_proxy_from_environment_keeps_httpx_transport(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv(TRANSPORT_ENV, raising=False)
    monkeypatch.setenv("HTTPS_PROXY", "http://127.0.0.1:9")
    async with AsyncAerostack(api_key="sk_x", environment="local") as client:
        assert not isinstance(_transport_of(client), AsyncPoolTransport)


async def test_callers_http_client_is_used_as_given() -> None:
    sent: list[httpx.Request] = []

    async def record(request: httpx.Request) -> None:
        sent.append(request)

    async with (
        scripted_server(Reply(body=b'{"exists": false}')) as server,
        httpx.AsyncClient(event_hooks={"request": [record]}) as http,
        AsyncAerostack(api_key="sk_x", base_url=server.base_url, http_client=http) as client,
    ):
        assert not (await client.cache.get("a")).exists
    assert [str(request.url) for request in sent] == [f"{server.base_url}/cache/get"]


def test_unknown_transport_name_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(TRANSPORT_ENV, "carrier-pigeon")
    with pytest.raises(ValueError, match=TRANSPORT_ENV):
        AsyncAerostack(api_key="sk_x", environment="local")


async def test_calls_on_our_pool_give_the_response_httpx_would(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The library's JSON calls skip AsyncClient.send() on our pool; what an error carries must
    # not show it: the request (key masked), the elapsed time, the version, decoded headers.
    monkeypatch.delenv(TRANSPORT_ENV, raising=False)
    reply = Reply(
        status=404,
        body=b'{"code":"NOT_FOUND","message":"nope"}',
        headers=[("Content-Type", "application/json")],
    )
    async with (
        scripted_server(reply) as server,
        AsyncAerostack(api_key="sk_live_secret_value", base_url=server.base_url) as client,
    ):
        with pytest.raises(NotFoundError) as caught:
            await client.cache.get("k")
    response = caught.value.raw_response
    assert response.status_code == 404
    assert response.http_version == "HTTP/1.1"
    assert response.elapsed.total_seconds() > 0
    assert response.request.url == server.base_url + "/cache/get"
    assert "secret_value" not in response.request.headers["X-Aerostack-Key"]
    assert response.json()["code"] == "NOT_FOUND"


@pytest.mark.parametrize("transport", ["pool", "httpx"])
async def test_clients_we_build_send_no_cookies(
    monkeypatch: pytest.MonkeyPatch, transport: str
) -> None:
    # The API authenticates by key; a cookie set by something in between (a load balancer)
    # does not ride along on later calls, on either transport.
    monkeypatch.setenv(TRANSPORT_ENV, transport)
    reply = Reply(body=b'{"exists":false}', headers=[("Set-Cookie", "lb=node-7; Path=/")])
    async with (
        scripted_server(reply) as server,
        AsyncAerostack(api_key="sk_x", base_url=server.base_url) as client,
    ):
        await client.cache.get("a")
        await client.cache.get("b")
    assert [r.headers.get("cookie") for r in server.received] == [None, None]


@pytest.mark.parametrize("transport", ["pool", "httpx"])
async def test_a_call_on_a_closed_client_raises_runtime_error(
    monkeypatch: pytest.MonkeyPatch, transport: str
) -> None:
    monkeypatch.setenv(TRANSPORT_ENV, transport)
    async with scripted_server(Reply(body=b'{"exists":false}')) as server:
        client = AsyncAerostack(api_key="sk_x", base_url=server.base_url)
        await client.cache.get("a")
        await client.aclose()
        with pytest.raises(RuntimeError, match="client has been closed"):
            await client.cache.get("a")


@pytest.mark.parametrize("transport", ["pool", "httpx"])
async def test_the_httpx_logger_gets_its_request_line_on_either_path(
    monkeypatch: pytest.MonkeyPatch, transport: str, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setenv(TRANSPORT_ENV, transport)
    async with (
        scripted_server(Reply(body=b'{"exists":false}')) as server,
        AsyncAerostack(api_key="sk_x", base_url=server.base_url) as client,
    ):
        with caplog.at_level(logging.INFO, logger="httpx"):
            await client.cache.get("a")
    lines = [r.getMessage() for r in caplog.records if r.name == "httpx"]
    # (the scripted server sends no reason phrase)
    assert lines == [f'HTTP Request: POST {server.base_url}/cache/get "HTTP/1.1 200 "']


@pytest.mark.filterwarnings(
    # httpx leaves httpcore's body generators unfinished when decoding fails; trio's GC hook
    # then warns about them (httpx's transport only, not a leak of ours).
    "ignore:Exception ignored in. <async_generator object:pytest.PytestUnraisableExceptionWarning"
)
@pytest.mark.parametrize("transport", ["pool", "httpx"])
async def test_a_body_that_cannot_be_decoded_is_a_connection_error(
    monkeypatch: pytest.MonkeyPatch, transport: str
) -> None:
    monkeypatch.setenv(TRANSPORT_ENV, transport)
    reply = Reply(body=b"not gzip at all", headers=[("Content-Encoding", "gzip")])
    async with (
        scripted_server(reply) as server,
        AsyncAerostack(api_key="sk_x", base_url=server.base_url) as client,
    ):
        with pytest.raises(APIConnectionError, match="could not be decoded"):
            await client.cache.get("a")
    assert len(server.received) == 1  # not retried: the same body would come back


@pytest.mark.parametrize("transport", ["pool", "httpx"])
async def test_a_reply_that_does_not_match_its_model_carries_the_whole_response(
    monkeypatch: pytest.MonkeyPatch, transport: str
) -> None:
    monkeypatch.setenv(TRANSPORT_ENV, transport)
    async with (
        scripted_server(Reply(body=b'{"exists":"not a bool"}')) as server,
        AsyncAerostack(api_key="sk_live_secret_value", base_url=server.base_url) as client,
    ):
        with pytest.raises(ResponseValidationError) as caught:
            await client.cache.get("a")
    response = caught.value.raw_response
    assert response.content == b'{"exists":"not a bool"}'
    assert response.elapsed.total_seconds() > 0
    assert "secret_value" not in response.request.headers["X-Aerostack-Key"]
