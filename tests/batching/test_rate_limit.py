"""A batch against a rate-limited server: the 429s are retried after their Retry-After, so
2,000 enqueues against ``--rate-limit 200`` all land, none fails, none is enqueued twice."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterator

import pytest

from aerostack_async import AsyncAerostack
from aerostack_async.testing import Emulator, run_emulator

pytestmark = [pytest.mark.anyio, pytest.mark.slow]

JOBS = 2_000


@pytest.fixture(scope="module")
def limited() -> Iterator[Emulator]:
    """An emulator that answers 429 (with Retry-After) past 200 requests a second per key."""
    with run_emulator("--rate-limit", "200") as running:
        yield running


async def test_enqueue_many_rides_out_the_rate_limit(
    limited: Emulator, caplog: pytest.LogCaptureFixture
) -> None:
    kind = f"limited-{uuid.uuid4().hex[:8]}"
    jobs = [(kind, {"n": n}) for n in range(JOBS)]

    with caplog.at_level(logging.INFO, logger="aerostack_async"):
        async with AsyncAerostack(api_key=limited.api_key, base_url=limited.base_url) as client:
            results = await client.queue.enqueue_many(jobs, return_exceptions=True)
            stored = [job async for job in client.queue.list_jobs(type=kind, limit=200)]

    refused = [record for record in caplog.records if "429" in record.getMessage()]
    assert refused, "the server never said 429: the rate limit was not exercised"
    assert [r for r in results if isinstance(r, Exception)] == []
    ids = [result.job_id for result in results if not isinstance(result, Exception)]
    assert len(set(ids)) == JOBS
    assert sorted(job.data["n"] for job in stored) == list(range(JOBS))  # each exactly once
    assert {job.id for job in stored} == set(ids)
