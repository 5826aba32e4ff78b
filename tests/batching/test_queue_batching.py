"""queue.enqueue_many against the emulator: bounded fan-out, one idempotency key per job."""

from __future__ import annotations

import anyio
import pytest

from aerostack_async import AsyncAerostack
from aerostack_async.batching import InvalidItemError
from aerostack_async.errors import InvalidRequestError
from aerostack_async.models import EnqueueRequest

from .conftest import CountingTransport

pytestmark = pytest.mark.anyio


async def test_each_job_gets_its_own_id_in_input_order(client: AsyncAerostack, unique: str) -> None:
    jobs = [{"type": unique, "data": {"n": n}} for n in range(200)]

    results = await client.queue.enqueue_many(jobs)

    assert len({result.job_id for result in results}) == 200
    for n in (0, 77, 199):
        found = await client.queue.get_job(results[n].job_id)
        assert found.job is not None
        assert found.job.data == {"n": n}


async def test_jobs_may_be_requests_dicts_or_pairs(client: AsyncAerostack, unique: str) -> None:
    results = await client.queue.enqueue_many(
        [
            EnqueueRequest(type=unique, data={"n": 0}, delay=60),
            {"type": unique, "data": {"n": 1}},
            (unique, {"n": 2}),
        ]
    )

    jobs = [await client.queue.get_job(result.job_id) for result in results]
    assert [found.job.data for found in jobs if found.job] == [{"n": 0}, {"n": 1}, {"n": 2}]


async def test_every_job_carries_a_distinct_idempotency_key(
    counted_client: AsyncAerostack, counting: CountingTransport, unique: str
) -> None:
    await counted_client.queue.enqueue_many([(unique, {"n": n}) for n in range(50)])

    keys = {request.headers["Idempotency-Key"] for request in counting.requests}
    assert len(counting.requests) == 50
    assert len(keys) == 50


async def test_calls_in_flight_never_exceed_the_concurrency(
    counted_client: AsyncAerostack, counting: CountingTransport, unique: str
) -> None:
    await counted_client.queue.enqueue_many([(unique, {"n": n}) for n in range(60)], concurrency=5)

    assert counting.most == 5


async def test_a_concurrency_above_the_pool_size_is_capped(
    counted_client: AsyncAerostack, counting: CountingTransport, unique: str
) -> None:
    await counted_client.queue.enqueue_many(
        [(unique, {"n": n}) for n in range(150)], concurrency=10_000
    )

    assert counting.most <= 100  # Limits().max_connections


async def test_a_bad_job_fails_the_batch_before_anything_is_sent(
    counted_client: AsyncAerostack, counting: CountingTransport, unique: str
) -> None:
    jobs: list[object] = [(unique, {"n": n}) for n in range(10)]
    jobs[7] = (unique, {"n": 7}, "extra")

    with pytest.raises(InvalidItemError) as caught:
        await counted_client.queue.enqueue_many(jobs)  # type: ignore[arg-type]

    assert (caught.value.index, caught.value.item) == (7, jobs[7])
    assert counting.requests == []


async def test_bad_jobs_get_their_error_and_good_ones_are_enqueued_when_returning_exceptions(
    client: AsyncAerostack, unique: str
) -> None:
    jobs: list[object] = [(unique, {"n": n}) for n in range(5)]
    jobs[1] = {"type": "", "data": {}}
    jobs[3] = {"type": unique, "data": {}, "delay": -1}

    results = await client.queue.enqueue_many(jobs, return_exceptions=True)  # type: ignore[arg-type]

    assert [isinstance(result, InvalidRequestError) for result in results] == [
        False,
        True,
        False,
        True,
        False,
    ]
    for n in (0, 2, 4):
        found = await client.queue.get_job(results[n].job_id)  # type: ignore[union-attr]
        assert found.exists


async def test_progress_reaches_the_total(client: AsyncAerostack, unique: str) -> None:
    reports: list[tuple[int, int]] = []

    await client.queue.enqueue_many(
        [(unique, {"n": n}) for n in range(40)],
        concurrency=4,
        on_progress=lambda done, total: reports.append((done, total)),
    )

    assert reports == [(done, 40) for done in range(1, 41)]


async def test_cancelling_mid_batch_leaves_the_client_working(
    client: AsyncAerostack, unique: str
) -> None:
    reports: list[int] = []

    async def stop_after_ten(done: int, total: int) -> None:
        reports.append(done)
        if done == 10:
            scope.cancel()

    with anyio.move_on_after(60) as scope:
        await client.queue.enqueue_many(
            [(unique, {"n": n}) for n in range(500)], concurrency=8, on_progress=stop_after_ten
        )

    assert scope.cancelled_caught
    assert reports[-1] < 500
    result = await client.queue.enqueue(unique, {"after": "cancel"})
    assert (await client.queue.get_job(result.job_id)).exists
