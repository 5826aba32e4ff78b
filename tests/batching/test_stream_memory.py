"""A stream's memory stays flat: a million keys through ``get_many_stream`` against the emulator.

The client's resident memory is sampled as results arrive; its peak may not grow by more than
32 MB over what it was just before the stream started (after a warm-up batch, so that the
connections, the decoders and the allocator's pools already exist). A list-returning
``get_many`` of the same keys would hold a million results (hundreds of MB).
"""

from __future__ import annotations

import gc

import psutil
import pytest

from aerostack_async import AsyncAerostack

pytestmark = [pytest.mark.anyio, pytest.mark.slow]

KEYS = 1_000_000
MIB = 1 << 20


async def test_a_million_keys_stream_through_in_constant_memory(
    client: AsyncAerostack, unique: str
) -> None:
    present = {f"{unique}:{n}": {"n": n} for n in range(0, 1_000)}
    await client.cache.set_many(present)
    await client.cache.get_many(list(present) * 5)  # warm-up: connections, decoders, pools
    process = psutil.Process()
    gc.collect()
    before = process.memory_info().rss
    peak = before
    count = hits = 0

    async with client.cache.get_many_stream(f"{unique}:{n}" for n in range(KEYS)) as entries:
        async for entry in entries:
            if entry.exists:
                hits += 1
                assert entry.value == {"n": int(entry.key.rsplit(":", 1)[1])}
            count += 1
            if count % 20_000 == 0:
                peak = max(peak, process.memory_info().rss)
    peak = max(peak, process.memory_info().rss)

    assert count == KEYS
    assert hits == len(present)
    growth = (peak - before) / MIB
    assert growth < 32, f"RSS grew by {growth:.1f} MB over {KEYS:,} keys"
