"""Building, configuring and closing AsyncAerostack."""

from __future__ import annotations

import gc
import os
import subprocess
import sys

import anyio
import httpx
import pytest

from aerostack_async import AsyncAerostack, Limits, RetryPolicy, Timeout
from aerostack_async.errors import (
    APITimeoutError,
    ConfigurationError,
    InternalServerError,
    InvalidRequestError,
)
from aerostack_async.testing import DEFAULT_API_KEY, Emulator

from .._loopback import Peer, Reply, response, scripted_server, serve
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


async def test_with_options_shares_the_pool_and_changes_only_what_is_given() -> None:
    async with (
        scripted_server(Reply(body=b'{"exists": false}')) as server,
        AsyncAerostack(api_key="sk_x", base_url=server.base_url) as client,
    ):
        copy = client.with_options(retry=None, timeout=Timeout(read=1))
        assert copy.base_url == client.base_url
        assert not (await client.cache.get("a")).exists
        assert not (await copy.cache.get("b")).exists
    # The copy's call went out on the connection the original's call left in the pool.
    assert server.server.connections == 1
    assert [r.path for r in server.received] == ["/v1/cache/get"] * 2


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


# -- where settings come from: an argument, else the environment variable, else the default ----

ELSEWHERE = "http://127.0.0.1:9/v1"  # port 9 (discard) is closed: a call sent there fails


@pytest.mark.parametrize(
    ("kwargs", "expected"),
    [
        ({"environment": "local"}, "http://localhost:8787/v1"),
        ({"environment": "production"}, "https://api.aerostack.dev/v1"),
        ({"server_idx": 1}, "http://localhost:8787/v1"),
        ({"base_url": "http://example.test/v1"}, "http://example.test/v1"),
        ({}, ELSEWHERE),
        ({"environment": None}, ELSEWHERE),
    ],
)
async def test_an_explicit_argument_beats_aerostack_base_url(
    monkeypatch: pytest.MonkeyPatch, kwargs: dict[str, object], expected: str
) -> None:
    monkeypatch.setenv("AEROSTACK_BASE_URL", ELSEWHERE)
    async with AsyncAerostack(api_key="sk_test", **kwargs) as client:  # type: ignore[arg-type]
        assert client.base_url == expected


def test_the_sync_client_takes_an_explicit_environment_over_the_variable(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from aerostack_async import Aerostack

    monkeypatch.setenv("AEROSTACK_BASE_URL", ELSEWHERE)
    with Aerostack(api_key="sk_test", environment="local") as client:
        assert client.base_url == "http://localhost:8787/v1"


async def test_an_explicit_base_url_is_where_calls_go_whatever_the_variable_says(
    monkeypatch: pytest.MonkeyPatch, make_client: ClientFactory
) -> None:
    monkeypatch.setenv("AEROSTACK_BASE_URL", ELSEWHERE)
    client = make_client()  # base_url: the emulator's, passed explicitly
    assert not (await client.cache.get("explicit-url")).exists


async def test_an_explicit_key_beats_aerostack_api_key(
    monkeypatch: pytest.MonkeyPatch, make_client: ClientFactory
) -> None:
    monkeypatch.setenv("AEROSTACK_API_KEY", "sk_wrong_key_from_the_environment")
    client = make_client()  # api_key: the emulator's, passed explicitly
    assert not (await client.cache.get("explicit-key")).exists


def test_an_explicit_parser_beats_aerostack_http_parser(monkeypatch: pytest.MonkeyPatch) -> None:
    from aerostack_async._pool import AsyncPoolTransport
    from aerostack_async._pool._codec import PARSER_ENV

    monkeypatch.setenv(PARSER_ENV, "httptools")
    assert AsyncPoolTransport(parser="h11").parser == "h11"


async def test_an_explicit_http_client_beats_aerostack_http_transport(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from aerostack_async._http import TRANSPORT_ENV

    monkeypatch.setenv(TRANSPORT_ENV, "pool")
    sent: list[httpx.Request] = []

    async def record(request: httpx.Request) -> None:
        sent.append(request)

    async with (
        scripted_server(Reply(body=b'{"exists": false}')) as server,
        httpx.AsyncClient(event_hooks={"request": [record]}) as http,
        AsyncAerostack(api_key="sk_test", base_url=server.base_url, http_client=http) as client,
    ):
        assert not (await client.cache.get("a")).exists
    assert [str(request.url) for request in sent] == [f"{server.base_url}/cache/get"]


_LOG_PROBE = """
import logging, os
from aerostack_async import AsyncAerostack
package = logging.getLogger("aerostack_async")
if os.environ["CONFIGURE"] == "1":
    package.setLevel(logging.WARNING)  # the application's own choice
AsyncAerostack(api_key="sk_test", base_url="http://127.0.0.1:9/v1")
streams = [h for h in package.handlers if isinstance(h, logging.StreamHandler)]
print(logging.getLevelName(package.level), len(streams))
"""


@pytest.mark.parametrize(
    ("configure", "expected"), [("1", "WARNING 0"), ("0", "DEBUG 1")], ids=["app", "none"]
)
def test_aerostack_log_gives_way_to_the_applications_logging_config(
    configure: str, expected: str
) -> None:
    env = {**os.environ, "AEROSTACK_LOG": "debug", "CONFIGURE": configure}
    done = subprocess.run(
        [sys.executable, "-W", "ignore::ResourceWarning", "-c", _LOG_PROBE],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == expected.split()


# -- limits: ours or httpx's ------------------------------------------------------------------


@pytest.mark.parametrize(
    "limits",
    [
        httpx.Limits(max_connections=3, max_keepalive_connections=2, keepalive_expiry=1.5),
        Limits(max_connections=3, max_keepalive_connections=2, keepalive_expiry=1.5),
    ],
    ids=["httpx", "ours"],
)
async def test_limits_reach_the_pool_whichever_type_gives_them(limits: object) -> None:
    # The server holds the requests it reads until three are in, a moment more, so that a
    # fourth connection, were one allowed, would be seen at once.
    in_flight = peak = 0
    three_in = anyio.Event()

    async def hold_until_three(peer: Peer) -> None:
        nonlocal in_flight, peak
        while await peer.read_request() is not None:
            in_flight += 1
            peak = max(peak, in_flight)
            if in_flight == 3 and not three_in.is_set():
                await anyio.sleep(0.1)
                three_in.set()
            await three_in.wait()
            in_flight -= 1
            await peer.send(response(b'{"exists": false}', content_type="application/json"))

    async with (
        serve(hold_until_three) as server,
        AsyncAerostack(
            api_key="sk_x",
            base_url=server.base_url,
            limits=limits,  # type: ignore[arg-type]
            retry=None,
        ) as client,
    ):
        # max_keepalive_connections and keepalive_expiry have no public view: read them here.
        assert client._transport.limits == Limits(3, 2, 1.5)
        results: list[bool] = []

        async def get(n: int) -> None:
            results.append((await client.cache.get(f"limits-{n}")).exists)

        with anyio.fail_after(20):
            async with anyio.create_task_group() as tg:
                for n in range(6):
                    tg.start_soon(get, n)
    assert results == [False] * 6
    assert peak == 3  # three calls at once filled the three connections, and no more


async def test_httpx_limits_without_bounds_mean_no_bounds(emulator: Emulator) -> None:
    async with AsyncAerostack(
        api_key=emulator.api_key, base_url=emulator.base_url, limits=httpx.Limits()
    ) as client:
        # The limits as read (no public view) are what is under test.
        assert client._transport.limits == Limits(None, None, 5.0)
        assert not (await client.cache.get("unbounded")).exists


@pytest.mark.parametrize("limits", [10, {"max_connections": 10}, None])
def test_limits_of_another_type_are_refused(limits: object) -> None:
    with pytest.raises(ConfigurationError, match=r"httpx\.Limits"):
        AsyncAerostack(api_key="sk_test", limits=limits)  # type: ignore[arg-type]
