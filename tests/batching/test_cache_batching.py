"""cache.get_many / set_many / delete_many against the emulator: chunks, order, failures."""

from __future__ import annotations

import json

import anyio
import httpx
import pytest

from aerostack_async import AsyncAerostack, Limits, Timeout
from aerostack_async.batching import InvalidItemError
from aerostack_async.errors import BatchError, InvalidRequestError, ResponseValidationError
from aerostack_async.models import CacheEntry
from aerostack_async.testing import Emulator

from .conftest import ClientFactory, CountingTransport

pytestmark = pytest.mark.anyio


async def test_ten_thousand_keys_round_trip_in_order(client: AsyncAerostack, unique: str) -> None:
    keys = [f"{unique}:{n}" for n in range(10_000)]
    values = [{"n": n, "tags": ["a", n % 7]} for n in range(10_000)]

    written = await client.cache.set_many(dict(zip(keys, values, strict=True)))
    entries = await client.cache.get_many(keys)

    assert written.count == 10_000
    assert [entry.key for entry in entries] == keys
    assert [entry.value for entry in entries] == values
    assert all(entry.exists for entry in entries)


async def test_missing_keys_are_reported_as_missing_in_their_place(
    client: AsyncAerostack, unique: str
) -> None:
    present = [f"{unique}:{n}" for n in range(0, 300, 2)]
    await client.cache.set_many({key: key.upper() for key in present})
    asked = [f"{unique}:{n}" for n in range(300)]

    entries = await client.cache.get_many(asked)

    assert [entry.exists for entry in entries] == [n % 2 == 0 for n in range(300)]
    assert [entry.value for entry in entries] == [
        key.upper() if n % 2 == 0 else None for n, key in enumerate(asked)
    ]


async def test_set_many_takes_entries_dicts_and_pairs(client: AsyncAerostack, unique: str) -> None:
    await client.cache.set_many(
        [
            CacheEntry(key=f"{unique}:a", value=1),
            {"key": f"{unique}:b", "value": [2], "ttl": 3600},
            (f"{unique}:c", {"three": 3}),
        ],
        ttl=600,
    )

    entries = await client.cache.get_many([f"{unique}:a", f"{unique}:b", f"{unique}:c"])

    assert [entry.value for entry in entries] == [1, [2], {"three": 3}]


async def test_delete_many_counts_what_was_asked_and_what_was_deleted(
    client: AsyncAerostack, unique: str
) -> None:
    keys = [f"{unique}:{n}" for n in range(1_200)]
    await client.cache.set_many({key: 1 for key in keys[:1_000]})

    result = await client.cache.delete_many(keys)

    assert (result.count, result.deleted) == (1_200, 1_000)
    assert not any(entry.exists for entry in await client.cache.get_many(keys))


async def test_a_bad_key_fails_get_many_before_anything_is_sent(
    counted_client: AsyncAerostack, counting: CountingTransport, unique: str
) -> None:
    keys = [f"{unique}:{n}" for n in range(300)]
    keys[150] = ""

    with pytest.raises(InvalidItemError) as caught:
        await counted_client.cache.get_many(keys)

    assert (caught.value.index, caught.value.item) == (150, "")
    assert isinstance(caught.value.__cause__, InvalidRequestError)
    assert "keys[150]" in str(caught.value)
    assert counting.requests == []


async def test_a_bad_entry_fails_set_many_and_nothing_is_stored(
    client: AsyncAerostack, unique: str
) -> None:
    entries = [(f"{unique}:{n}", n) for n in range(300)]
    entries[250] = ("x" * 600, 250)  # over the 512-byte key limit

    with pytest.raises(BatchError) as caught:
        await client.cache.set_many(entries)

    assert caught.value.index == 250
    stored = await client.cache.get_many([key for key, _ in entries[:250]])
    assert not any(entry.exists for entry in stored)


async def test_bad_entries_get_their_error_and_the_rest_are_stored_when_returning_exceptions(
    client: AsyncAerostack, unique: str
) -> None:
    entries: list[tuple[object, object]] = [(f"{unique}:{n}", n) for n in range(250)]
    entries[10] = ("", 10)
    entries[200] = (f"{unique}:200", object())  # not JSON

    outcome = await client.cache.set_many(entries, return_exceptions=True)  # type: ignore[arg-type]

    failed = [n for n, slot in enumerate(outcome) if isinstance(slot, Exception)]
    assert failed == [10, 200]
    assert [slot for n, slot in enumerate(outcome) if n not in failed] == [None] * 248
    good = [str(key) for n, (key, _) in enumerate(entries) if n not in failed]
    assert all(entry.exists for entry in await client.cache.get_many(good))


async def test_bad_keys_get_their_error_in_place_when_returning_exceptions(
    client: AsyncAerostack, unique: str
) -> None:
    await client.cache.set_many({f"{unique}:a": "A", f"{unique}:b": "B"})

    entries = await client.cache.get_many(
        [f"{unique}:a", 42, f"{unique}:b"],  # type: ignore[list-item]
        return_exceptions=True,
    )

    assert isinstance(entries[1], TypeError)
    assert [getattr(entry, "value", None) for entry in entries] == ["A", None, "B"]


async def test_a_shared_idempotency_key_is_refused(client: AsyncAerostack, unique: str) -> None:
    with pytest.raises(InvalidRequestError, match="idempotency_key"):
        await client.cache.set_many({f"{unique}:a": 1}, idempotency_key="one-for-all")


async def test_a_single_string_is_not_taken_for_a_list_of_keys(client: AsyncAerostack) -> None:
    with pytest.raises(TypeError, match="keys must be an iterable"):
        await client.cache.get_many("abc")


async def test_calls_in_flight_never_exceed_the_concurrency(
    counted_client: AsyncAerostack, counting: CountingTransport, unique: str
) -> None:
    keys = [f"{unique}:{n}" for n in range(3_000)]

    await counted_client.cache.get_many(keys, concurrency=3)

    assert len(counting.requests) == 30
    assert counting.most == 3


async def test_by_default_as_many_calls_run_as_the_pool_keeps_alive(
    counted_client: AsyncAerostack, counting: CountingTransport, unique: str
) -> None:
    keys = [f"{unique}:{n}" for n in range(5_000)]

    await counted_client.cache.get_many(keys)

    assert counting.most == 20  # Limits().max_keepalive_connections


async def test_progress_is_reported_in_keys_up_to_the_total(
    client: AsyncAerostack, unique: str
) -> None:
    reports: list[tuple[int, int]] = []
    keys = [f"{unique}:{n}" for n in range(1_050)]

    await client.cache.get_many(keys, on_progress=lambda done, total: reports.append((done, total)))

    assert [done for done, _ in reports] == sorted(done for done, _ in reports)
    assert {total for _, total in reports} == {1_050}
    assert reports[-1] == (1_050, 1_050)
    assert len(reports) == 11  # one report per call of at most 100 keys


async def test_cancelling_mid_batch_leaves_the_client_working(
    make_client: ClientFactory, unique: str
) -> None:
    # A small pool with a short wait for a connection: a connection leaked by a cancelled call
    # would make the full batch below fail with a pool timeout instead of passing.
    client = make_client(
        limits=Limits(max_connections=4, max_keepalive_connections=4),
        timeout=Timeout(pool=5.0),
    )
    keys = [f"{unique}:{n}" for n in range(4_000)]
    await client.cache.set_many({key: n for n, key in enumerate(keys)})

    for _ in range(3):
        reports, cancelled = await _cancel_after_first_chunk(client, keys)
        assert cancelled
        assert reports[0] == 100
        assert reports[-1] < len(keys)

    entries = await client.cache.get_many(keys, concurrency=4)
    assert [entry.value for entry in entries] == list(range(4_000))
    assert (await client.cache.get(keys[0])).value == 0


async def _cancel_after_first_chunk(
    client: AsyncAerostack, keys: list[str]
) -> tuple[list[int], bool]:
    reports: list[int] = []

    def stop(done: int, total: int) -> None:
        reports.append(done)
        scope.cancel()  # other calls of the batch are still in flight

    with anyio.move_on_after(60) as scope:
        await client.cache.get_many(keys, concurrency=4, on_progress=stop)
    return reports, scope.cancelled_caught


async def test_the_call_ttl_applies_to_entries_without_their_own(
    client: AsyncAerostack, unique: str
) -> None:
    await client.cache.set_many(
        [(f"{unique}:call", 1), {"key": f"{unique}:own", "value": 2, "ttl": 86_400}], ttl=600
    )

    expiry = {info.key: info.expiration async for info in client.cache.list(unique)}

    assert expiry[f"{unique}:call"] is not None
    assert expiry[f"{unique}:own"] is not None
    assert expiry[f"{unique}:own"] - expiry[f"{unique}:call"] > 80_000


async def test_an_answer_for_other_keys_than_asked_is_refused() -> None:
    def reversed_answer(request: httpx.Request) -> httpx.Response:
        keys = json.loads(request.content)["keys"]
        results = [{"key": key, "value": None, "exists": False} for key in reversed(keys)]
        return httpx.Response(200, json={"results": results})

    async with (
        httpx.AsyncClient(transport=httpx.MockTransport(reversed_answer)) as http,
        AsyncAerostack(api_key="sk_test", base_url="http://127.0.0.1:9/v1", http_client=http) as c,
    ):
        with pytest.raises(BatchError) as caught:
            await c.cache.get_many(["a", "b", "c"])

    assert isinstance(caught.value.__cause__, ResponseValidationError)


async def test_default_fan_out_follows_the_clients_own_pool_size(emulator: Emulator) -> None:
    from aerostack_async._batching import client_concurrency

    small = Limits(max_connections=4, max_keepalive_connections=4)
    async with AsyncAerostack(
        api_key=emulator.api_key, base_url=emulator.base_url, limits=small
    ) as client:
        # client_concurrency (private) is under test; its input is the transport's limits.
        assert client_concurrency(None, client._transport.limits) == 4
        assert client_concurrency(50, client._transport.limits) == 4
        narrow = client.with_options(retry=None)
        assert client_concurrency(None, narrow._transport.limits) == 4
