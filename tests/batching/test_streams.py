"""The ``*_stream`` batch methods and ``stream_concurrently``: lazy input, ordered results,
bounded read-ahead, failures, progress, and leaving the loop early."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any

import anyio
import httpx
import pytest

from aerostack_async import AsyncAerostack
from aerostack_async.batching import (
    InvalidItemError,
    stream_chunked,
    stream_concurrently,
)
from aerostack_async.errors import BatchError, InvalidArgumentTypeError, InvalidRequestError

from .conftest import ClientFactory, CountingTransport

pytestmark = pytest.mark.anyio


class Counted:
    """An input that counts how many items were taken from it."""

    def __init__(self, items: Iterator[Any]) -> None:
        self._items = items
        self.taken = 0

    def __iter__(self) -> Iterator[Any]:
        for item in self._items:
            self.taken += 1
            yield item


async def drain(stream: Any, seen: list[Any]) -> None:
    """Enter ``stream`` and collect what it yields into ``seen`` until it ends or raises."""
    async with stream as results:
        async for result in results:
            seen.append(result)


def pool_in_use(client: AsyncAerostack) -> int:
    """Connections lent out to a request right now: our pool's, or httpcore's (the suite's
    second pass runs on httpx's own transport). A connection still lent out has no public
    view: the pool's own count is what this checks."""
    transport: Any = client._transport.http_client._transport  # type: ignore[attr-defined]
    if hasattr(transport, "slots"):
        return transport.slots.in_use  # type: ignore[no-any-return]
    return sum(1 for connection in transport._pool.connections if not connection.is_idle())


# --- against the emulator --------------------------------------------------------------------


async def test_get_many_stream_reads_a_generator_and_yields_in_key_order(
    client: AsyncAerostack, unique: str
) -> None:
    await client.cache.set_many({f"{unique}:{n}": n for n in range(0, 5_000, 2)})
    keys = Counted(f"{unique}:{n}" for n in range(5_000))

    async with client.cache.get_many_stream(keys) as entries:
        got = [(entry.key, entry.exists, entry.value) async for entry in entries]

    assert got == [(f"{unique}:{n}", n % 2 == 0, n if n % 2 == 0 else None) for n in range(5_000)]
    assert keys.taken == 5_000


async def test_set_and_delete_streams_yield_each_key_once_done(
    client: AsyncAerostack, unique: str
) -> None:
    entries = ((f"{unique}:{n}", {"n": n}) for n in range(1_050))

    async with client.cache.set_many_stream(entries, ttl=600) as written:
        written_keys = [key async for key in written]
    stored = await client.cache.get_many(written_keys)
    async with client.cache.delete_many_stream(iter(written_keys[:600])) as removed:
        removed_keys = [key async for key in removed]
    after = await client.cache.get_many(written_keys)

    assert written_keys == [f"{unique}:{n}" for n in range(1_050)]
    assert [entry.value for entry in stored] == [{"n": n} for n in range(1_050)]
    assert removed_keys == written_keys[:600]
    assert [entry.exists for entry in after] == [n >= 600 for n in range(1_050)]


async def test_enqueue_many_stream_takes_an_async_iterable(client: AsyncAerostack) -> None:
    async def jobs() -> AsyncIterator[tuple[str, dict[str, int]]]:
        for n in range(150):
            await anyio.lowlevel.checkpoint()
            yield ("stream-test", {"n": n})

    async with client.queue.enqueue_many_stream(jobs(), concurrency=8) as results:
        ids = [result.job_id async for result in results]
    looked_up = [await client.queue.get_job(job_id) for job_id in ids[:: len(ids) // 5]]

    assert len(set(ids)) == 150
    assert [found.job.data for found in looked_up if found.job is not None] == [
        {"n": n} for n in range(0, 150, 30)
    ]


async def test_database_batch_stream_stops_at_the_failing_statement(
    client: AsyncAerostack, unique: str
) -> None:
    table = f"t_{unique}"
    await client.database.query(f"CREATE TABLE {table} (n INTEGER PRIMARY KEY)")
    statements = [f"INSERT INTO {table} (n) VALUES ({n})" for n in range(60)]
    statements[30] = f"INSERT INTO {table} (n) VALUES (0)"  # a duplicate: the 2nd call fails

    seen: list[Any] = []
    with pytest.raises(BatchError) as caught:
        await drain(client.database.batch_stream(iter(statements)), seen)
    rows = await client.database.query(f"SELECT count(*) AS c FROM {table}")

    assert (caught.value.index, caught.value.item) == (30, statements[30])
    assert len(seen) == 25  # the first transaction; the second was rolled back
    assert rows.results == [{"c": 25}]


async def test_a_bad_key_stops_the_stream_at_its_position(
    counted_client: AsyncAerostack, counting: CountingTransport, unique: str
) -> None:
    keys = Counted(f"{unique}:{n}" if n != 250 else "" for n in range(10_000))
    seen: list[Any] = []

    with pytest.raises(InvalidItemError) as caught:
        await drain(counted_client.cache.get_many_stream(keys, read_ahead=300), seen)

    assert caught.value.index == 250
    assert "keys[250]" in str(caught.value)
    assert [entry.key for entry in seen] == [f"{unique}:{n}" for n in range(250)]
    assert keys.taken <= 252  # nothing read past the bad key (and the one read ahead)
    assert counting.now == 0


async def test_with_return_exceptions_a_bad_key_takes_its_error_in_place(
    client: AsyncAerostack, unique: str
) -> None:
    keys = [f"{unique}:a", "", f"{unique}:b"]

    async with client.cache.get_many_stream(iter(keys), return_exceptions=True) as entries:
        got = [entry async for entry in entries]

    assert isinstance(got[1], InvalidRequestError)
    assert [getattr(entry, "key", None) for entry in got] == [keys[0], None, keys[2]]


async def test_concurrency_bounds_the_calls_in_flight(
    counted_client: AsyncAerostack, counting: CountingTransport, unique: str
) -> None:
    async with counted_client.cache.get_many_stream(
        (f"{unique}:{n}" for n in range(3_000)), concurrency=3
    ) as entries:
        count = sum([1 async for _ in entries])

    assert count == 3_000
    assert 1 <= counting.most <= 3
    assert len(counting.requests) == 30  # full chunks of 100 from a generator that keeps up


class SlowAfterFirst(CountingTransport):
    """Answers the first request; every later one hangs until it is cancelled."""

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if self.requests:
            self.requests.append(request)
            self.now += 1
            self.most = max(self.most, self.now)
            try:
                await anyio.sleep_forever()
            finally:
                self.now -= 1
        return await super().handle_async_request(request)


async def test_leaving_the_loop_early_cancels_the_calls_in_flight(
    make_client: ClientFactory, unique: str
) -> None:
    transport = SlowAfterFirst()
    keys = Counted(f"{unique}:{n}" for n in range(1_000_000))
    async with httpx.AsyncClient(transport=transport) as http:
        client = make_client(http_client=http)
        with anyio.fail_after(10):  # a call left hanging would fail here, not hang the suite
            async with client.cache.get_many_stream(keys, concurrency=4) as entries:
                async for entry in entries:
                    assert entry.key == f"{unique}:0"
                    break
            in_flight_after = transport.now
        requests_made = len(transport.requests)
    await transport.aclose()

    assert requests_made >= 2  # calls were hanging when the loop was left
    assert in_flight_after == 0
    assert keys.taken <= 2 * 4 * 100 + 1  # read-ahead bounded: not the million


async def test_our_pool_is_idle_and_usable_after_leaving_early(
    client: AsyncAerostack, unique: str
) -> None:
    await client.cache.set(f"{unique}:x", 1)
    keys = (f"{unique}:{n % 3}" for n in range(10_000_000))

    taken = 0
    async with client.cache.get_many_stream(keys) as entries:
        async for _ in entries:
            taken += 1
            if taken == 1_000:
                break
    in_use = pool_in_use(client)

    assert in_use == 0
    assert (await client.cache.get(f"{unique}:x")).value == 1
    entries_after = await client.cache.get_many([f"{unique}:x"] * 500)
    assert {entry.value for entry in entries_after} == {1}


async def test_misuse_is_refused_before_anything_starts(client: AsyncAerostack) -> None:
    stream = client.cache.get_many_stream(["a"])
    with pytest.raises(RuntimeError, match="async with"):
        async for _ in stream:
            pass
    with pytest.raises(InvalidArgumentTypeError):
        client.cache.get_many_stream("abc")
    with pytest.raises(InvalidRequestError, match="read_ahead"):
        client.cache.get_many_stream(["a"], read_ahead=0)
    with pytest.raises(InvalidRequestError, match="idempotency_key"):
        client.queue.enqueue_many_stream([("t", {})], idempotency_key="k")  # type: ignore[call-overload]
    async with stream as entries:
        assert [entry.key async for entry in entries] == ["a"]
    with pytest.raises(RuntimeError, match="already"):
        async with stream:
            pass


# --- the mechanism, without a server ---------------------------------------------------------


async def test_read_ahead_bounds_what_is_read_but_not_yet_yielded() -> None:
    source = Counted(iter(range(10_000)))
    gaps = []

    async def double(item: int) -> int:
        await anyio.lowlevel.checkpoint()
        return item * 2

    async with stream_concurrently(double, source, concurrency=4, read_ahead=10) as results:
        position = 0
        async for result in results:
            assert result == position * 2
            position += 1
            gaps.append(source.taken - position)
            await anyio.lowlevel.checkpoint()  # a loop body that lets the workers run

    assert position == 10_000
    assert max(gaps) <= 10 + 1  # the window, plus the one item read to see the end


async def test_an_earlier_slow_item_is_yielded_before_a_later_failure() -> None:
    failed = anyio.Event()

    async def work(item: int) -> int:
        if item == 3:
            failed.set()
            raise KeyError(item)
        if item == 1:
            await failed.wait()  # finishes only after item 3 has failed
        if item > 3:
            await anyio.sleep_forever()  # must be cancelled by the failure
        return item

    seen: list[Any] = []
    with anyio.fail_after(10), pytest.raises(BatchError) as caught:
        await drain(stream_concurrently(work, range(8), concurrency=8), seen)

    assert seen == [0, 1, 2]
    assert caught.value.index == 3
    assert isinstance(caught.value.__cause__, KeyError)


async def test_return_exceptions_yields_every_outcome_in_place() -> None:
    async def work(item: int) -> int:
        if item % 3 == 0:
            raise ValueError(item)
        return item

    async with stream_concurrently(work, range(9), concurrency=3, return_exceptions=True) as out:
        got = [result async for result in out]

    assert [type(r).__name__ if isinstance(r, Exception) else r for r in got] == [
        "ValueError", 1, 2, "ValueError", 4, 5, "ValueError", 7, 8
    ]  # fmt: skip


async def test_progress_counts_items_and_learns_the_total_at_the_end() -> None:
    calls: list[tuple[int, int | None]] = []

    async def chunk(items: list[int]) -> list[int]:
        await anyio.lowlevel.checkpoint()
        return items

    def record(into: list[tuple[int, int | None]]) -> Any:
        return lambda done, total: into.append((done, total))

    lazy: list[Any] = []
    await drain(
        stream_chunked(
            chunk, iter(range(250)), chunk_size=100, concurrency=2, on_progress=record(calls)
        ),
        lazy,
    )
    sized: list[tuple[int, int | None]] = []
    await drain(
        stream_chunked(chunk, range(250), chunk_size=100, concurrency=2, on_progress=record(sized)),
        [],
    )

    assert lazy == list(range(250))

    assert [done for done, _ in calls] == sorted(done for done, _ in calls)
    assert calls[-1] == (250, 250)
    assert {total for _, total in sized} == {250}
    assert sized[-1] == (250, 250)


async def test_a_failing_progress_callback_is_raised_unchanged() -> None:
    class Stop(Exception):
        pass

    def progress(done: int, total: int | None) -> None:
        if done == 5:
            raise Stop

    async def work(item: int) -> int:
        await anyio.lowlevel.checkpoint()
        return item

    with anyio.fail_after(10), pytest.raises(Stop):
        await drain(
            stream_concurrently(work, range(1_000_000), concurrency=2, on_progress=progress), []
        )


async def test_a_failing_input_ends_the_stream_with_its_own_error() -> None:
    def source() -> Iterator[int]:
        yield from range(7)
        raise OSError("the file went away")

    async def work(item: int) -> int:
        await anyio.lowlevel.checkpoint()
        return item

    seen: list[Any] = []
    with pytest.raises(OSError, match="went away"):
        await drain(stream_concurrently(work, source(), concurrency=3), seen)

    assert seen == list(range(7))


async def test_a_trickling_input_is_not_held_back_to_fill_a_chunk() -> None:
    first_seen = anyio.Event()

    async def feed() -> AsyncIterator[int]:
        yield 1
        yield 2
        await first_seen.wait()  # the rest only comes once the first result is out
        yield 3

    async def chunk(items: list[int]) -> list[int]:
        return [item * 10 for item in items]

    got = []
    with anyio.fail_after(10):
        async with stream_chunked(chunk, feed(), chunk_size=100, concurrency=2) as results:
            async for result in results:
                got.append(result)
                first_seen.set()

    assert got == [10, 20, 30]


async def test_the_body_s_own_exception_propagates_unwrapped() -> None:
    async def work(item: int) -> int:
        await anyio.sleep(0.01 * item)
        return item

    async def body() -> None:
        async with stream_concurrently(work, range(100), concurrency=10) as results:
            async for _ in results:
                raise LookupError

    with anyio.fail_after(10), pytest.raises(LookupError):
        await body()


async def test_an_async_generator_left_unfinished_is_closed_with_the_block() -> None:
    closed = []

    async def feed() -> AsyncIterator[int]:
        try:
            n = 0
            while True:
                await anyio.lowlevel.checkpoint()
                yield n
                n += 1
        finally:
            closed.append(True)

    async def work(item: int) -> int:
        await anyio.lowlevel.checkpoint()
        return item

    async with stream_concurrently(work, feed(), concurrency=4) as results:
        async for result in results:
            if result == 10:
                break
        assert closed == []  # still being read while the block runs
    assert closed == [True]


async def test_two_streams_share_one_limiter_and_an_async_progress_callback_works() -> None:
    limiter = anyio.CapacityLimiter(3)
    running = most = 0
    reports: list[tuple[int, int | None]] = []

    async def work(item: int) -> int:
        nonlocal running, most
        running += 1
        most = max(most, running)
        await anyio.sleep(0.001)
        running -= 1
        return item

    async def progress(done: int, total: int | None) -> None:
        await anyio.lowlevel.checkpoint()
        reports.append((done, total))

    async with (
        stream_concurrently(work, range(40), concurrency=limiter, on_progress=progress) as a,
        stream_concurrently(work, iter(range(40)), concurrency=limiter) as b,
    ):
        first = [r async for r in a]
        second = [r async for r in b]

    assert first == second == list(range(40))
    assert most <= 3
    assert [done for done, _ in reports] == list(range(1, 41))
    assert {total for _, total in reports} == {40}
