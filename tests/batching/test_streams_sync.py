"""The streams through the sync facade: ``with client.cache.get_many_stream(...) as s: for ...``."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from aerostack_async import Aerostack
from aerostack_async.errors import BatchError
from aerostack_async.testing import Emulator


@pytest.fixture
def sync_client(emulator: Emulator) -> Iterator[Aerostack]:
    with Aerostack(api_key=emulator.api_key, base_url=emulator.base_url) as client:
        yield client


def test_sync_get_many_stream_yields_in_order_from_a_generator(
    sync_client: Aerostack, unique: str
) -> None:
    sync_client.cache.set_many({f"{unique}:{n}": n for n in range(0, 3_000, 3)})

    with sync_client.cache.get_many_stream(f"{unique}:{n}" for n in range(3_000)) as entries:
        got = [(entry.key, entry.value) for entry in entries]

    assert got == [(f"{unique}:{n}", n if n % 3 == 0 else None) for n in range(3_000)]


def test_sync_break_leaves_the_client_usable(sync_client: Aerostack, unique: str) -> None:
    jobs = (("sync-stream", {"n": n}) for n in range(1_000_000))

    ids = []
    with sync_client.queue.enqueue_many_stream(jobs) as results:
        for result in results:
            ids.append(result.job_id)
            if len(ids) == 50:
                break
    sync_client.cache.set(f"{unique}:after", "ok")

    assert len(set(ids)) == 50
    assert sync_client.cache.get(f"{unique}:after").value == "ok"
    with sync_client.cache.set_many_stream({f"{unique}:{n}": n for n in range(250)}) as keys:
        assert list(keys) == [f"{unique}:{n}" for n in range(250)]


def test_sync_stream_failure_is_the_batch_error(sync_client: Aerostack, unique: str) -> None:
    keys = [f"{unique}:{n}" for n in range(500)]
    keys[321] = "x" * 600  # too long

    seen: list[object] = []

    def drain() -> None:
        with sync_client.cache.get_many_stream(iter(keys)) as entries:
            seen.extend(entries)

    with pytest.raises(BatchError) as caught:
        drain()

    assert (caught.value.index, len(seen)) == (321, 321)
