"""client.queue against the emulator."""

from __future__ import annotations

import pytest

from aerostack_async import AsyncAerostack
from aerostack_async.errors import InvalidArgumentTypeError, InvalidRequestError

pytestmark = pytest.mark.anyio


async def test_enqueue_returns_a_job_that_get_job_finds(
    client: AsyncAerostack, unique: str
) -> None:
    enqueued = await client.queue.enqueue(unique, {"to": "ada@example.com"}, delay=3600)
    found = await client.queue.get_job(enqueued.job_id)
    assert found.exists
    assert found.job is not None
    assert (found.job.id, found.job.type, found.job.status) == (enqueued.job_id, unique, "queued")
    assert found.job.data == {"to": "ada@example.com"}
    assert found.job.created_at is not None


async def test_get_job_of_an_unknown_id_says_it_does_not_exist(client: AsyncAerostack) -> None:
    found = await client.queue.get_job("no-such-job")
    assert not found.exists
    assert found.job is None


async def test_cancel_cancels_a_queued_job(client: AsyncAerostack, unique: str) -> None:
    job = await client.queue.enqueue(unique, {}, delay=3600)
    assert (await client.queue.cancel(job.job_id)).success
    found = await client.queue.get_job(job.job_id)
    assert found.job is not None
    assert found.job.status == "cancelled"


async def test_cancelling_a_cancelled_job_fails_with_a_note(
    client: AsyncAerostack, unique: str
) -> None:
    job = await client.queue.enqueue(unique, {}, delay=3600)
    await client.queue.cancel(job.job_id)
    again = await client.queue.cancel(job.job_id)
    assert not again.success
    assert again.note


async def test_list_jobs_iterates_across_pages(client: AsyncAerostack, unique: str) -> None:
    ids = {(await client.queue.enqueue(unique, {"i": i}, delay=3600)).job_id for i in range(5)}
    listed = [job.id async for job in client.queue.list_jobs(type=unique, limit=2)]
    assert sorted(listed) == sorted(ids)


async def test_list_jobs_filters_by_status(client: AsyncAerostack, unique: str) -> None:
    keep = await client.queue.enqueue(unique, {}, delay=3600)
    gone = await client.queue.enqueue(unique, {}, delay=3600)
    await client.queue.cancel(gone.job_id)
    queued = [job.id async for job in client.queue.list_jobs(type=unique, status="queued")]
    assert queued == [keep.job_id]


async def test_data_must_be_a_dict(client: AsyncAerostack) -> None:
    with pytest.raises(InvalidArgumentTypeError):
        await client.queue.enqueue("t", ["not", "an", "object"])  # type: ignore[arg-type]


async def test_a_negative_delay_is_refused(client: AsyncAerostack) -> None:
    with pytest.raises(InvalidRequestError):
        await client.queue.enqueue("t", {}, delay=-1)


async def test_list_jobs_limit_over_200_is_refused(client: AsyncAerostack) -> None:
    with pytest.raises(InvalidRequestError):
        client.queue.list_jobs(limit=201)
