"""When a client may use our pool, and when it must keep httpx's own transport."""

from __future__ import annotations

import pytest

from aerostack_async._pool import pool_applies

PROXY_VARIABLES = [
    "HTTP_PROXY",
    "HTTPS_PROXY",
    "ALL_PROXY",
    "http_proxy",
    "https_proxy",
    "all_proxy",
]


@pytest.fixture
def no_proxy_environment(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    for name in PROXY_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    return monkeypatch


def test_plain_http1_client_uses_the_pool(no_proxy_environment: pytest.MonkeyPatch) -> None:
    assert pool_applies()


def test_http2_keeps_httpx_transport(no_proxy_environment: pytest.MonkeyPatch) -> None:
    assert not pool_applies(http2=True)


def test_proxy_argument_keeps_httpx_transport(no_proxy_environment: pytest.MonkeyPatch) -> None:
    assert not pool_applies(proxy="http://127.0.0.1:3128")


@pytest.mark.parametrize("variable", ["HTTPS_PROXY", "http_proxy", "ALL_PROXY"])
def test_proxy_environment_keeps_httpx_transport(
    no_proxy_environment: pytest.MonkeyPatch, variable: str
) -> None:
    no_proxy_environment.setenv(variable, "http://127.0.0.1:3128")
    assert not pool_applies()


def test_proxy_environment_is_ignored_without_trust_env(
    no_proxy_environment: pytest.MonkeyPatch,
) -> None:
    no_proxy_environment.setenv("HTTPS_PROXY", "http://127.0.0.1:3128")
    assert pool_applies(trust_env=False)
