"""Which transport a client the library builds uses: our pool by default, httpx's where asked."""

from __future__ import annotations

import httpx
import pytest

from aerostack_async import AsyncAerostack
from aerostack_async._http import TRANSPORT_ENV
from aerostack_async._pool import AsyncPoolTransport

pytestmark = pytest.mark.anyio


def _transport_of(client: AsyncAerostack) -> object:
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
    async with (
        httpx.AsyncClient() as http,
        AsyncAerostack(api_key="sk_x", environment="local", http_client=http) as client,
    ):
        assert client._transport.http_client is http


def test_unknown_transport_name_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(TRANSPORT_ENV, "carrier-pigeon")
    with pytest.raises(ValueError, match=TRANSPORT_ENV):
        AsyncAerostack(api_key="sk_x", environment="local")
