"""Retries against real misbehaving servers on 127.0.0.1: what is retried, and what is not."""

from __future__ import annotations

import json
import logging
import os
import re
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import anyio
import pytest
import stamina
import stamina.instrumentation

from aerostack_async import RetryPolicy
from aerostack_async.errors import (
    APIConnectionError,
    BadRequestError,
    InternalServerError,
    RateLimitError,
)
from aerostack_async.testing import Emulator

from .._loopback import Reply, dropping_proxy, free_port, scripted_server
from .conftest import FAST_RETRY, ClientFactory

pytestmark = pytest.mark.anyio

OK_GET = b'{"exists": true, "value": 1}'
RATE_LIMITED = b'{"code": "RATE_LIMIT_EXCEEDED", "message": "slow down"}'


async def test_429_with_retry_after_then_success_is_retried(make_client: ClientFactory) -> None:
    async with scripted_server(
        Reply(429, RATE_LIMITED, [("retry-after", "0")]), Reply(200, OK_GET)
    ) as server:
        client = make_client(base_url=server.base_url)
        result = await client.cache.get("k")
    assert result.value == 1
    assert len(server.received) == 2


async def test_retry_after_longer_than_the_cap_is_raised_at_once(
    make_client: ClientFactory,
) -> None:
    policy = RetryPolicy(attempts=3, max_retry_after=5)
    async with scripted_server(Reply(429, RATE_LIMITED, [("retry-after", "3600")])) as server:
        client = make_client(base_url=server.base_url, retry=policy)
        with pytest.raises(RateLimitError) as caught:
            await client.cache.get("k")
    assert caught.value.retry_after == 3600
    assert len(server.received) == 1


async def test_503_then_success_is_retried(make_client: ClientFactory) -> None:
    async with scripted_server(
        Reply(503, b'{"code": "UNAVAILABLE", "message": "busy"}'), Reply(200, OK_GET)
    ) as server:
        client = make_client(base_url=server.base_url)
        result = await client.cache.get("k")
    assert result.exists
    assert len(server.received) == 2


async def test_5xx_on_every_attempt_raises_after_all_attempts(make_client: ClientFactory) -> None:
    async with scripted_server(Reply(500, b'{"code": "INTERNAL_ERROR", "message": "x"}')) as server:
        client = make_client(base_url=server.base_url)
        with pytest.raises(InternalServerError):
            await client.cache.get("k")
    assert len(server.received) == FAST_RETRY.attempts


async def test_4xx_is_not_retried(make_client: ClientFactory) -> None:
    async with scripted_server(Reply(400, b'{"code": "VALIDATION_ERROR", "message": "no"}')) as s:
        client = make_client(base_url=s.base_url)
        with pytest.raises(BadRequestError):
            await client.cache.get("k")
    assert len(s.received) == 1


async def test_retry_none_makes_a_single_attempt(make_client: ClientFactory) -> None:
    async with scripted_server(Reply(503, b"{}"), Reply(200, OK_GET)) as server:
        client = make_client(base_url=server.base_url)
        with pytest.raises(InternalServerError):
            await client.cache.get("k", retry=None)
    assert len(server.received) == 1


class _OnRecord(logging.Handler):
    """Calls ``action`` with each record our logger emits (in the thread that logs it)."""

    def __init__(self, action: Callable[[logging.LogRecord], object]) -> None:
        super().__init__(logging.INFO)
        self.action = action

    def emit(self, record: logging.LogRecord) -> None:
        self.action(record)


@contextmanager
def _on_package_records(action: Callable[[logging.LogRecord], object]) -> Iterator[None]:
    package = logging.getLogger("aerostack_async")
    handler = _OnRecord(action)
    level = package.level
    package.setLevel(logging.INFO)
    package.addHandler(handler)
    try:
        yield
    finally:
        package.removeHandler(handler)
        package.setLevel(level)


@pytest.mark.async_only  # the retry's log record sets an anyio.Event in the client's loop
async def test_connection_refused_then_success_is_retried(make_client: ClientFactory) -> None:
    port = free_port()
    first_retry_scheduled = anyio.Event()

    # The server comes up only once the first attempt has been refused and a retry scheduled.
    policy = RetryPolicy(attempts=50, wait_initial=0.05, wait_max=0.2, wait_jitter=0.0)
    client = make_client(base_url=f"http://127.0.0.1:{port}/v1", retry=policy)
    with _on_package_records(lambda record: first_retry_scheduled.set()):
        result = None
        answered = anyio.Event()
        async with anyio.create_task_group() as tg:

            async def call() -> None:
                nonlocal result
                result = await client.cache.get("k")
                answered.set()

            tg.start_soon(call)
            await first_retry_scheduled.wait()
            async with scripted_server(Reply(200, OK_GET), port=port) as server:
                with anyio.fail_after(30):
                    await answered.wait()
    assert result is not None
    assert result.value == 1
    assert len(server.received) == 1


async def test_connection_refused_on_every_attempt_raises_api_connection_error(
    make_client: ClientFactory,
) -> None:
    client = make_client(base_url=f"http://127.0.0.1:{free_port()}/v1")
    with pytest.raises(APIConnectionError):
        await client.cache.get("k")


async def test_lost_response_is_retried_with_the_same_key_and_enqueues_once(
    emulator: Emulator, make_client: ClientFactory, unique: str
) -> None:
    port = int(emulator.origin.rsplit(":", 1)[1])
    async with dropping_proxy(port, drop_first=1) as proxy:
        client = make_client(base_url=proxy.base_url)
        enqueued = await client.queue.enqueue(unique, {"n": 1})
    assert proxy.dropped == 1
    keys = re.findall(rb"(?i)idempotency-key: ([^\r\n]+)", bytes(proxy.forwarded))
    assert len(keys) == 2
    assert keys[0] == keys[1]
    jobs = [job async for job in make_client().queue.list_jobs(type=unique)]
    assert [job.id for job in jobs] == [enqueued.job_id]


async def test_mutating_calls_get_a_fresh_idempotency_key_each(make_client: ClientFactory) -> None:
    async with scripted_server(Reply(200, b'{"success": true}')) as server:
        client = make_client(base_url=server.base_url)
        await client.cache.set("k", 1)
        await client.cache.set("k", 1)
    first, second = (r.headers["idempotency-key"] for r in server.received)
    assert first != second


async def test_read_only_calls_carry_no_idempotency_key(make_client: ClientFactory) -> None:
    async with scripted_server(Reply(200, OK_GET)) as server:
        client = make_client(base_url=server.base_url)
        await client.cache.get("k")
    assert "idempotency-key" not in server.received[0].headers


async def test_a_given_idempotency_key_is_sent(make_client: ClientFactory) -> None:
    async with scripted_server(Reply(200, b'{"success": true}')) as server:
        client = make_client(base_url=server.base_url)
        await client.cache.set("k", 1, idempotency_key="order-42")
    assert server.received[0].headers["idempotency-key"] == "order-42"


async def test_a_retried_mutating_call_reuses_its_idempotency_key(
    make_client: ClientFactory,
) -> None:
    async with scripted_server(Reply(503, b"{}"), Reply(200, b'{"success": true}')) as server:
        client = make_client(base_url=server.base_url)
        await client.cache.set("k", 1)
    first, second = (r.headers["idempotency-key"] for r in server.received)
    assert first == second


# -- retries are quiet: our logger reports them, stamina's own instrumentation does not ------

SECRET = "sk_live_retrysecret123456"
UNAVAILABLE = Reply(503, b'{"code": "UNAVAILABLE", "message": "busy"}')

# A user's script, as a user would write it: one retried call, no logging set up unless asked.
_SCRIPT = """
import json, logging, sys
import anyio
from aerostack_async import Aerostack, AsyncAerostack, RetryPolicy

base_url, backend, configured, key, kind = sys.argv[1:]
records = []
if configured == "yes":
    class Keep(logging.Handler):
        def emit(self, record):
            records.append({name: getattr(record, name, None) for name in
                            ("name", "levelname", "method", "path", "attempt", "wait", "reason")}
                           | {"message": record.getMessage()})
    logging.basicConfig(level=logging.INFO)  # the application's choice: INFO, on stderr
    logging.getLogger("aerostack_async").addHandler(Keep())

policy = RetryPolicy(attempts=3, wait_initial=0.01, wait_max=0.02, wait_jitter=0.0)

async def main():
    async with AsyncAerostack(api_key=key, base_url=base_url, retry=policy) as client:
        return (await client.cache.get("k")).value

if kind == "async":
    value = anyio.run(main, backend=backend)
else:
    with Aerostack(api_key=key, base_url=base_url, retry=policy, backend=backend) as client:
        value = client.cache.get("k").value
print(json.dumps({"value": value, "records": records}))
"""


async def _run_script(
    server_url: str, backend: str, configured: bool, kind: str
) -> tuple[dict[str, Any], str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AEROSTACK_LOG", "PYTHONWARN"))}
    done = await anyio.run_process(
        [
            sys.executable,
            "-c",
            _SCRIPT,
            server_url,
            backend,
            "yes" if configured else "no",
            SECRET,
            kind,
        ],
        env=env,
        check=False,
    )
    err = done.stderr.decode()
    assert done.returncode == 0, err
    return json.loads(done.stdout), err


@pytest.mark.parametrize("kind", ["async", "sync"])
@pytest.mark.parametrize("configured", [False, True], ids=["no-logging", "logging"])
async def test_a_retried_call_says_nothing_on_stderr_unless_logging_is_configured(
    anyio_backend: tuple[str, object], configured: bool, kind: str
) -> None:
    async with scripted_server(UNAVAILABLE, UNAVAILABLE, Reply(200, OK_GET)) as server:
        out, err = await _run_script(server.base_url, anyio_backend[0], configured, kind)
    assert out["value"] == 1
    assert len(server.received) == 3
    assert "stamina" not in err
    assert SECRET not in err
    if not configured:
        assert err == ""
        assert out["records"] == []
        return
    retries = [r for r in out["records"] if r["attempt"] is not None]
    assert {r["name"] for r in retries} == {"aerostack_async"}
    assert [(r["method"], r["path"], r["attempt"]) for r in retries] == [
        ("POST", "/cache/get", 2),
        ("POST", "/cache/get", 3),
    ]
    for record in retries:
        assert record["levelname"] == "INFO"
        assert isinstance(record["wait"], float)
        assert record["wait"] >= 0
        assert record["reason"] == "503 UNAVAILABLE"
        assert SECRET not in json.dumps(record)
        assert "sk_live" not in json.dumps(record)
    # The application configured logging at INFO: our lines reach its handler, stamina's do not.
    assert err.count("retrying POST /cache/get") == 2


async def test_a_connection_failure_is_logged_with_its_cause(
    caplog: pytest.LogCaptureFixture, make_client: ClientFactory
) -> None:
    caplog.set_level(logging.INFO, logger="aerostack_async")
    client = make_client(base_url=f"http://127.0.0.1:{free_port()}/v1")
    with pytest.raises(APIConnectionError):
        await client.cache.get("k")
    retries = [r for r in caplog.records if r.name == "aerostack_async" and hasattr(r, "attempt")]
    assert [r.attempt for r in retries] == [2, 3]  # type: ignore[attr-defined]
    assert all(r.reason.startswith("ConnectError") for r in retries)  # type: ignore[attr-defined]
    assert not [r for r in caplog.records if r.name == "stamina"]


@pytest.mark.async_only  # the hooks run in the client's loop thread, where stamina calls them
async def test_the_applications_stamina_hooks_see_its_retries_but_not_ours(
    make_client: ClientFactory,
) -> None:
    seen: list[str] = []
    saved = stamina.instrumentation.get_on_retry_hooks()
    stamina.instrumentation.set_on_retry_hooks([lambda details: seen.append(details.name)])
    try:
        async with scripted_server(UNAVAILABLE, Reply(200, OK_GET)) as server:
            client = make_client(base_url=server.base_url)
            assert (await client.cache.get("k")).value == 1
        assert len(server.received) == 2
        assert seen == []  # our retry ran without the application's hooks

        async for attempt in stamina.retry_context(
            on=ValueError, attempts=2, wait_initial=0, wait_jitter=0
        ):
            with attempt:
                if attempt.num == 1:
                    raise ValueError("the application's own retry")
        assert seen == ["<context block>"]  # the application's own retry ran them
    finally:
        stamina.instrumentation.set_on_retry_hooks(saved)


async def test_stamina_testing_mode_still_governs_our_retries(make_client: ClientFactory) -> None:
    async with scripted_server(UNAVAILABLE) as server:
        client = make_client(base_url=server.base_url)
        with stamina.set_testing(True, attempts=2), pytest.raises(InternalServerError):
            await client.cache.get("k")
    assert len(server.received) == 2
