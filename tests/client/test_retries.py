"""Retries against real misbehaving servers on 127.0.0.1: what is retried, and what is not."""

from __future__ import annotations

import re

import anyio
import pytest
import stamina.instrumentation

from aerostack_async import RetryPolicy
from aerostack_async.errors import (
    APIConnectionError,
    BadRequestError,
    InternalServerError,
    RateLimitError,
)
from aerostack_async.testing import Emulator

from ._servers import Reply, dropping_proxy, free_port, scripted_server
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


@pytest.mark.async_only  # an in-loop stamina hook sets an anyio.Event
async def test_connection_refused_then_success_is_retried(make_client: ClientFactory) -> None:
    port = free_port()
    first_retry_scheduled = anyio.Event()

    def on_retry(details: object) -> None:
        first_retry_scheduled.set()

    # The server comes up only once the first attempt has been refused and a retry scheduled.
    policy = RetryPolicy(attempts=50, wait_initial=0.05, wait_max=0.2, wait_jitter=0.0)
    client = make_client(base_url=f"http://127.0.0.1:{port}/v1", retry=policy)
    hooks = stamina.instrumentation.get_on_retry_hooks()
    stamina.instrumentation.set_on_retry_hooks([*hooks, on_retry])
    try:
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
    finally:
        stamina.instrumentation.set_on_retry_hooks(hooks)
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
