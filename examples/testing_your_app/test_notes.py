"""The notes service's tests (anyio: each runs on asyncio and on trio).

Every test gets ``async_aerostack``: a client on a project of its own, so each one starts
empty whatever ran before it, or beside it under pytest-xdist.
"""

from __future__ import annotations

import httpx
import notes
import pytest

from aerostack_async import AsyncAerostack
from aerostack_async.testing import InProcessEmulator

pytestmark = pytest.mark.anyio


async def test_a_first_note_is_note_one(async_aerostack: AsyncAerostack) -> None:
    assert await notes.note_count(async_aerostack) == 0
    assert await notes.add_note(async_aerostack, "buy milk") == 1
    assert await notes.list_notes(async_aerostack) == ["buy milk"]


async def test_notes_keep_their_order(async_aerostack: AsyncAerostack) -> None:
    # The same table, cache key and queue as the test above: none of its notes are here.
    for body in ("one", "two", "three"):
        await notes.add_note(async_aerostack, body)
    assert await notes.list_notes(async_aerostack) == ["one", "two", "three"]
    assert await notes.note_count(async_aerostack) == 3
    jobs = [job async for job in async_aerostack.queue.list_jobs(type="note.added")]
    assert [job.data["body"] for job in jobs] == ["one", "two", "three"]


async def test_attachments_are_stored(async_aerostack: AsyncAerostack) -> None:
    url = await notes.attach(async_aerostack, "hello.txt", b"hello")
    assert "attachments/hello.txt" in url
    assert await async_aerostack.storage.get("attachments/hello.txt") == b"hello"


@pytest.mark.aerostack_in_process
async def test_in_process_emulator_for_a_fast_unit_test(async_aerostack: AsyncAerostack) -> None:
    # The marker puts this test's emulator in this process: no socket, no subprocess.
    assert async_aerostack.base_url.startswith("http://aerostack.in-process")
    assert await notes.add_note(async_aerostack, "quick") == 1


async def test_a_signed_url_fetched_from_the_in_process_emulator() -> None:
    # InProcessEmulator directly: its own HTTP client fetches what its URLs point at.
    async with InProcessEmulator() as emulator:
        url = await notes.attach(emulator.client(), "a.txt", b"abc")
        response = await emulator.http.get(url)
        assert response.status_code == 200
        assert response.content == b"abc"
        assert isinstance(emulator.http, httpx.AsyncClient)
