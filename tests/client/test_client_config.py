"""Building, configuring and closing AsyncAerostack."""

from __future__ import annotations

import gc

import httpx
import pytest

from aerostack_async import AsyncAerostack, RetryPolicy, Timeout
from aerostack_async.errors import (
    APITimeoutError,
    ConfigurationError,
    InternalServerError,
    InvalidRequestError,
)
from aerostack_async.testing import DEFAULT_API_KEY, Emulator

from ._servers import Reply, scripted_server
from .conftest import ClientFactory

pytestmark = pytest.mark.anyio

OK_GET = b'{"exists": true, "value": 1}'


@pytest.fixture(autouse=True)
def _no_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AEROSTACK_API_KEY", raising=False)
    monkeypatch.delenv("AEROSTACK_BASE_URL", raising=False)


async def test_a_missing_key_is_a_configuration_error_at_construction() -> None:
    with pytest.raises(ConfigurationError, match="AEROSTACK_API_KEY"):
        AsyncAerostack()


async def test_the_key_and_base_url_come_from_the_environment(
    monkeypatch: pytest.MonkeyPatch, emulator: Emulator
) -> None:
    monkeypatch.setenv("AEROSTACK_API_KEY", emulator.api_key)
    monkeypatch.setenv("AEROSTACK_BASE_URL", emulator.base_url)
    async with AsyncAerostack() as client:
        assert client.base_url == emulator.base_url
        assert not (await client.cache.get("env-missing")).exists


@pytest.mark.parametrize(
    ("kwargs", "expected"),
    [
        ({}, "https://api.aerostack.dev/v1"),
        ({"environment": "local"}, "http://localhost:8787/v1"),
        ({"server_idx": 0}, "https://api.aerostack.ai/v1"),
        ({"server_idx": 1}, "http://localhost:8787/v1"),
        ({"base_url": "http://example.test/v1/"}, "http://example.test/v1"),
    ],
)
async def test_base_url_selection(kwargs: dict[str, object], expected: str) -> None:
    async with AsyncAerostack(api_key="sk_test", **kwargs) as client:  # type: ignore[arg-type]
        assert client.base_url == expected


@pytest.mark.parametrize(
    "kwargs",
    [
        {"server_idx": 2},
        {"environment": "staging"},
        {"base_url": "ftp://example.test/v1"},
        {"base_url": "http://a/v1", "server_idx": 0},
        {"retry": 3},
    ],
)
async def test_bad_configuration_is_refused(kwargs: dict[str, object]) -> None:
    with pytest.raises(ConfigurationError):
        AsyncAerostack(api_key="sk_test", **kwargs)  # type: ignore[arg-type]


async def test_an_async_callable_key_is_called_per_request(
    emulator: Emulator, make_client: ClientFactory
) -> None:
    calls = 0

    async def key() -> str:
        nonlocal calls
        calls += 1
        return emulator.api_key

    client = make_client(api_key=key)
    await client.cache.get("k")
    await client.cache.get("k")
    assert calls == 2


async def test_a_sync_callable_key_works(emulator: Emulator, make_client: ClientFactory) -> None:
    client = make_client(api_key=lambda: emulator.api_key)
    assert not (await client.cache.get("callable-missing")).exists


async def test_with_options_shares_the_pool_and_changes_only_what_is_given(
    client: AsyncAerostack,
) -> None:
    copy = client.with_options(retry=None, timeout=Timeout(read=1))
    assert copy._transport.http_client is client._transport.http_client
    assert copy.base_url == client.base_url
    assert not (await copy.cache.get("copy-missing")).exists


async def test_closing_the_copy_leaves_the_pool_open(client: AsyncAerostack) -> None:
    copy = client.with_options(default_headers={"X-Trace": "1"})
    await copy.aclose()
    assert not (await client.cache.get("still-open")).exists


async def test_aclose_twice_is_harmless(emulator: Emulator) -> None:
    client = AsyncAerostack(api_key=emulator.api_key, base_url=emulator.base_url)
    await client.aclose()
    await client.aclose()
    assert client.is_closed


async def test_a_caller_supplied_http_client_is_not_closed(emulator: Emulator) -> None:
    async with httpx.AsyncClient() as http:
        async with AsyncAerostack(
            api_key=emulator.api_key, base_url=emulator.base_url, http_client=http
        ) as client:
            await client.cache.get("k")
        assert not http.is_closed
        assert (await http.get(emulator.origin + "/health")).status_code == 200


def _drop_an_open_client() -> None:
    AsyncAerostack(api_key="sk_test")
    gc.collect()


async def test_a_client_dropped_while_open_warns() -> None:
    with pytest.warns(ResourceWarning, match="was not closed"):
        _drop_an_open_client()


async def test_a_closed_client_dropped_does_not_warn(recwarn: pytest.WarningsRecorder) -> None:
    client = AsyncAerostack(api_key="sk_test")
    await client.aclose()
    del client
    gc.collect()
    assert not [w for w in recwarn if issubclass(w.category, ResourceWarning)]


async def test_default_headers_and_user_agent_are_sent(make_client: ClientFactory) -> None:
    async with scripted_server(Reply(200, OK_GET)) as server:
        client = make_client(base_url=server.base_url, default_headers={"X-Team": "core"})
        await client.cache.get("k", extra_headers={"X-Call": "7"})
    headers = server.received[0].headers
    assert headers["x-team"] == "core"
    assert headers["x-call"] == "7"
    assert headers["user-agent"].startswith("aerostack-async/")
    assert headers["x-aerostack-key"]


async def test_extra_headers_cannot_replace_the_key(client: AsyncAerostack) -> None:
    with pytest.raises(InvalidRequestError):
        await client.cache.get("k", extra_headers={"X-Aerostack-Key": "sk_other"})


@pytest.mark.parametrize("name", ["Content-Length", "Transfer-Encoding", "Host"])
async def test_extra_headers_cannot_change_how_the_body_is_framed(
    client: AsyncAerostack, name: str
) -> None:
    # Content-Length and Transfer-Encoding together is how requests get smuggled.
    with pytest.raises(InvalidRequestError, match=name):
        await client.cache.set("k", "v", extra_headers={name: "chunked"})


async def test_a_per_call_read_timeout_bounds_a_silent_server(make_client: ClientFactory) -> None:
    async with scripted_server(Reply(hang=True)) as server:
        client = make_client(base_url=server.base_url, retry=None)
        with pytest.raises(APITimeoutError):
            await client.cache.get("k", timeout=Timeout(read=0.2))


async def test_the_total_deadline_stops_the_retries(make_client: ClientFactory) -> None:
    policy = RetryPolicy(attempts=100, wait_initial=0.01, wait_max=0.01, wait_jitter=0)
    async with scripted_server(Reply(503, b"{}")) as server:
        client = make_client(base_url=server.base_url, retry=policy)
        # Either the deadline cancels a backoff, or stamina sees it has passed and stops.
        with pytest.raises((APITimeoutError, InternalServerError)):
            await client.cache.get("k", timeout=Timeout(total=0.5))
    assert len(server.received) < 100


async def test_headers_of_a_caller_supplied_http_client_are_sent(
    make_client: ClientFactory,
) -> None:
    async with (
        scripted_server(Reply(200, OK_GET)) as server,
        httpx.AsyncClient(headers={"X-Trace": "abc"}) as http,
    ):
        client = make_client(base_url=server.base_url, http_client=http)
        await client.cache.get("k")
    headers = server.received[0].headers
    assert headers["x-trace"] == "abc"
    assert headers["user-agent"].startswith("aerostack-async/")


async def test_with_options_can_switch_the_key(make_client: ClientFactory) -> None:
    client = make_client(api_key="sk_not_a_real_key")
    fixed = client.with_options(api_key=DEFAULT_API_KEY)
    assert not (await fixed.cache.get("switched-key")).exists


@pytest.mark.parametrize("option", ["idempotencyKey", "timeout_s", "headers"])
async def test_an_unknown_call_option_is_refused_before_sending(option: str) -> None:
    from aerostack_async.errors import InvalidRequestError

    # Port 9 (discard) is closed here: had anything been sent, this would be a connection error.
    async with AsyncAerostack(api_key="sk_x", base_url="http://127.0.0.1:9/v1") as client:
        with pytest.raises(InvalidRequestError, match=option):
            await client.queue.enqueue("t", {}, **{option: "x"})  # type: ignore[arg-type]
