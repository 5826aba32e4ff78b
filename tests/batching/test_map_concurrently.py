"""map_concurrently: order, bounded concurrency, failure modes, progress and cancellation."""

from __future__ import annotations

from collections.abc import Iterator

import anyio
import pytest
from anyio.lowlevel import checkpoint

from aerostack_async import Limits
from aerostack_async._batching import client_concurrency
from aerostack_async.batching import map_concurrently
from aerostack_async.errors import BatchError, InvalidArgumentTypeError, InvalidRequestError

pytestmark = pytest.mark.anyio


class InFlight:
    """Counts calls running right now and remembers the most seen at once."""

    def __init__(self) -> None:
        self.now = 0
        self.most = 0
        self.started: list[int] = []
        self.cancelled: list[int] = []

    async def call(self, item: int) -> int:
        self.now += 1
        self.most = max(self.most, self.now)
        self.started.append(item)
        try:
            for _ in range(3):  # yield a few times so other calls interleave
                await checkpoint()
            return item * 10
        finally:
            self.now -= 1


async def test_results_come_back_in_input_order_when_calls_finish_in_reverse() -> None:
    finished = [anyio.Event() for _ in range(6)]
    order: list[int] = []

    async def call(item: int) -> str:
        if item + 1 < len(finished):
            await finished[item + 1].wait()  # the last item finishes first
        order.append(item)
        finished[item].set()
        return f"r{item}"

    results = await map_concurrently(call, range(6), concurrency=6)

    assert order == [5, 4, 3, 2, 1, 0]
    assert results == ["r0", "r1", "r2", "r3", "r4", "r5"]


async def test_calls_in_flight_never_exceed_the_limit() -> None:
    counter = InFlight()

    results = await map_concurrently(counter.call, range(200), concurrency=7)

    assert counter.most == 7
    assert results == [i * 10 for i in range(200)]


async def test_a_shared_limiter_bounds_two_batches_together() -> None:
    counter = InFlight()
    limiter = anyio.CapacityLimiter(5)

    async with anyio.create_task_group() as group:
        group.start_soon(lambda: map_concurrently(counter.call, range(100), concurrency=limiter))
        group.start_soon(lambda: map_concurrently(counter.call, range(100), concurrency=limiter))

    assert counter.most == 5
    assert len(counter.started) == 200


async def test_empty_input_returns_empty_list_without_calling_anything() -> None:
    calls: list[object] = []

    async def call(item: object) -> None:
        calls.append(item)

    results = await map_concurrently(call, [], concurrency=4, on_progress=calls.append)

    assert results == []
    assert calls == []


async def test_any_iterable_is_accepted() -> None:
    def numbers() -> Iterator[int]:
        yield from range(5)

    async def double(item: int) -> int:
        return item * 2

    assert await map_concurrently(double, numbers(), concurrency=2) == [0, 2, 4, 6, 8]


@pytest.mark.parametrize("concurrency", [0, -1])
async def test_concurrency_below_one_is_refused(concurrency: int) -> None:
    async def call(item: int) -> int:
        raise AssertionError("must not be called")

    with pytest.raises(InvalidRequestError, match="at least 1"):
        await map_concurrently(call, [1], concurrency=concurrency)


@pytest.mark.parametrize("concurrency", [2.5, "4", True, None])
async def test_concurrency_of_the_wrong_type_is_refused(concurrency: object) -> None:
    async def call(item: int) -> int:
        raise AssertionError("must not be called")

    with pytest.raises(InvalidArgumentTypeError):
        await map_concurrently(call, [1], concurrency=concurrency)  # type: ignore[arg-type]


async def test_invalid_concurrency_is_refused_even_for_empty_input() -> None:
    async def call(item: int) -> int:
        return item

    with pytest.raises(InvalidRequestError):
        await map_concurrently(call, [], concurrency=0)


async def test_first_failure_cancels_calls_in_flight_and_names_the_item() -> None:
    cancelled: list[int] = []
    others_waiting = anyio.Event()
    waiting = 0
    boom = KeyError("item two is broken")

    async def call(item: str) -> str:
        nonlocal waiting
        if item == "c":
            await others_waiting.wait()
            raise boom
        waiting += 1
        if waiting == 3:
            others_waiting.set()
        try:
            await anyio.sleep_forever()
        except anyio.get_cancelled_exc_class():
            cancelled.append(item)
            raise
        return item

    with pytest.raises(BatchError) as caught:
        await map_concurrently(call, ["a", "b", "c", "d"], concurrency=4)

    assert caught.value.index == 2
    assert caught.value.item == "c"
    assert caught.value.__cause__ is boom
    assert sorted(cancelled) == ["a", "b", "d"]


async def test_items_not_yet_started_never_start_after_a_failure() -> None:
    started: list[int] = []

    async def call(item: int) -> int:
        started.append(item)
        await checkpoint()
        if item == 1:
            raise ValueError("bad")
        return item

    with pytest.raises(BatchError) as caught:
        await map_concurrently(call, range(50), concurrency=2)

    assert caught.value.index == 1
    assert max(started) <= 3  # at most the calls already running beside item 1


async def test_calls_that_never_yield_stop_at_the_failure() -> None:
    started: list[int] = []

    async def call(item: int) -> int:
        started.append(item)  # no await at all: cancellation cannot reach it
        if item == 3:
            raise ValueError("bad")
        return item

    with pytest.raises(BatchError):
        await map_concurrently(call, range(20), concurrency=2)

    assert started == [0, 1, 2, 3]


async def test_return_exceptions_gives_every_item_its_result_or_its_exception() -> None:
    errors = {i: ValueError(f"bad {i}") for i in (1, 4)}
    completed: list[int] = []

    async def call(item: int) -> int:
        await checkpoint()
        if item in errors:
            raise errors[item]
        completed.append(item)
        return item * 10

    results = await map_concurrently(call, range(6), concurrency=3, return_exceptions=True)

    assert results == [0, errors[1], 20, 30, errors[4], 50]
    assert sorted(completed) == [0, 2, 3, 5]


async def test_progress_counts_up_by_one_and_ends_at_total() -> None:
    reports: list[tuple[int, int]] = []

    await map_concurrently(
        InFlight().call,
        range(30),
        concurrency=4,
        on_progress=lambda done, total: reports.append((done, total)),
    )

    assert reports == [(done, 30) for done in range(1, 31)]


async def test_async_progress_callbacks_are_awaited_in_order() -> None:
    reports: list[int] = []

    async def on_progress(done: int, total: int) -> None:
        await checkpoint()  # a suspended report must not be overtaken by the next one
        reports.append(done)

    await map_concurrently(InFlight().call, range(30), concurrency=8, on_progress=on_progress)

    assert reports == list(range(1, 31))


async def test_progress_counts_failed_items_when_returning_exceptions() -> None:
    reports: list[tuple[int, int]] = []

    async def call(item: int) -> int:
        if item % 2:
            raise ValueError(item)
        return item

    await map_concurrently(
        call,
        range(10),
        concurrency=3,
        return_exceptions=True,
        on_progress=lambda done, total: reports.append((done, total)),
    )

    assert reports[-1] == (10, 10)
    assert len(reports) == 10


async def test_an_error_in_the_progress_callback_stops_the_batch_and_propagates() -> None:
    counter = InFlight()

    def on_progress(done: int, total: int) -> None:
        if done == 5:
            raise RuntimeError("progress bar broke")

    with pytest.raises(RuntimeError, match="progress bar broke"):
        await map_concurrently(counter.call, range(100), concurrency=4, on_progress=on_progress)

    assert len(counter.started) < 100
    assert counter.now == 0


async def test_cancelling_the_caller_cancels_every_call_in_flight() -> None:
    cancelled: list[int] = []
    started: list[int] = []
    returned = False

    async def call(item: int) -> int:
        started.append(item)
        if len(started) == 4:
            scope.cancel()  # every worker is now inside a call
        try:
            await anyio.sleep_forever()
        except anyio.get_cancelled_exc_class():
            cancelled.append(item)
            raise
        return item

    with anyio.move_on_after(60) as scope:
        await map_concurrently(call, range(100), concurrency=4)
        returned = True

    assert scope.cancelled_caught
    assert not returned
    assert sorted(started) == [0, 1, 2, 3]
    assert sorted(cancelled) == [0, 1, 2, 3]


def test_client_batches_default_to_the_pools_keepalive_size() -> None:
    pool = Limits(max_connections=8, max_keepalive_connections=3)

    assert client_concurrency(None, pool) == 3


def test_client_batches_never_exceed_the_pools_connections() -> None:
    pool = Limits(max_connections=8, max_keepalive_connections=3)

    assert client_concurrency(5, pool) == 5
    assert client_concurrency(50, pool) == 8


def test_a_limiter_is_used_as_given() -> None:
    async def check() -> None:
        limiter = anyio.CapacityLimiter(500)
        assert client_concurrency(limiter, Limits()) is limiter

    anyio.run(check)


def test_without_known_limits_the_default_limits_apply() -> None:
    assert client_concurrency(None, None) == 20
    assert client_concurrency(1_000, None) == 100
