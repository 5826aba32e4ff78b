"""map_chunked and run_prepared_chunks: per-item results from per-chunk calls."""

from __future__ import annotations

from collections.abc import Sequence

import pytest
from anyio.lowlevel import checkpoint

from aerostack_async._batching import run_prepared
from aerostack_async.batching import ChunkItemError, InvalidItemError, map_chunked
from aerostack_async.errors import BatchError, InvalidRequestError

pytestmark = pytest.mark.anyio


class Chunks:
    """A chunked call that squares numbers and remembers the chunks it was given."""

    def __init__(self, fail_on: int | None = None) -> None:
        self.seen: list[list[int]] = []
        self.fail_on = fail_on
        self.error = RuntimeError("chunk failed")

    async def call(self, chunk: list[int]) -> list[int]:
        self.seen.append(chunk)
        await checkpoint()
        if self.fail_on is not None and self.fail_on in chunk:
            raise self.error
        return [n * n for n in chunk]


async def test_results_are_one_per_item_in_input_order() -> None:
    chunks = Chunks()

    results = await map_chunked(chunks.call, range(25), chunk_size=10, concurrency=3)

    assert results == [n * n for n in range(25)]
    assert sorted(len(chunk) for chunk in chunks.seen) == [5, 10, 10]


async def test_progress_advances_by_items_not_chunks() -> None:
    reports: list[tuple[int, int]] = []

    await map_chunked(
        Chunks().call,
        range(25),
        chunk_size=10,
        concurrency=1,
        on_progress=lambda done, total: reports.append((done, total)),
    )

    assert reports == [(10, 25), (20, 25), (25, 25)]


async def test_a_failed_chunk_is_named_by_its_first_item_and_its_items() -> None:
    chunks = Chunks(fail_on=13)

    with pytest.raises(BatchError) as caught:
        await map_chunked(chunks.call, range(25), chunk_size=10, concurrency=1)

    assert caught.value.index == 10
    assert caught.value.item == list(range(10, 20))
    assert caught.value.__cause__ is chunks.error


async def test_return_exceptions_gives_each_item_of_a_failed_chunk_its_error() -> None:
    chunks = Chunks(fail_on=13)

    results = await map_chunked(
        chunks.call, range(25), chunk_size=10, concurrency=2, return_exceptions=True
    )

    assert results[:10] == [n * n for n in range(10)]
    assert results[10:20] == [chunks.error] * 10
    assert results[20:] == [n * n for n in range(20, 25)]


async def test_a_chunk_returning_the_wrong_number_of_results_fails() -> None:
    async def short(chunk: list[int]) -> Sequence[int]:
        return chunk[:-1]

    with pytest.raises(BatchError) as caught:
        await map_chunked(short, range(5), chunk_size=5, concurrency=1)

    assert isinstance(caught.value.__cause__, ValueError)


@pytest.mark.parametrize("chunk_size", [0, -3, 1.5, True])
async def test_chunk_size_must_be_a_positive_int(chunk_size: object) -> None:
    with pytest.raises(InvalidRequestError):
        await map_chunked(Chunks().call, [1], chunk_size=chunk_size, concurrency=1)  # type: ignore[arg-type]


def _must_be_even(n: int) -> int:
    if n % 2:
        raise InvalidRequestError(f"{n} is odd")
    return n


async def test_a_bad_item_fails_the_batch_before_anything_is_sent() -> None:
    chunks = Chunks()

    with pytest.raises(BatchError) as caught:
        await run_prepared(
            chunks.call,
            [2, 4, 7, 8],
            _must_be_even,
            name="numbers",
            chunk_size=2,
            concurrency=2,
            return_exceptions=False,
            on_progress=None,
        )

    assert (caught.value.index, caught.value.item) == (2, 7)
    assert isinstance(caught.value.__cause__, InvalidRequestError)
    assert chunks.seen == []


async def test_a_bad_item_is_also_an_invalid_request_naming_its_position() -> None:
    with pytest.raises(InvalidRequestError, match=r"numbers\[1\]: 3 is odd") as caught:
        await run_prepared(
            Chunks().call,
            [2, 3],
            _must_be_even,
            name="numbers",
            chunk_size=2,
            concurrency=1,
            return_exceptions=False,
            on_progress=None,
        )

    assert isinstance(caught.value, InvalidItemError)


async def test_bad_items_get_their_error_and_good_items_are_sent_when_returning_exceptions() -> (
    None
):
    chunks = Chunks()
    reports: list[tuple[int, int]] = []

    results = await run_prepared(
        chunks.call,
        [2, 3, 4, 5, 6],
        _must_be_even,
        name="numbers",
        chunk_size=2,
        concurrency=2,
        return_exceptions=True,
        on_progress=lambda done, total: reports.append((done, total)),
    )

    assert [r if isinstance(r, int) else "error" for r in results] == [4, "error", 16, "error", 36]
    assert sorted(n for chunk in chunks.seen for n in chunk) == [2, 4, 6]
    assert reports[0] == (2, 5)
    assert reports[-1] == (5, 5)


async def test_a_failed_chunk_of_prepared_items_is_named_by_the_callers_items() -> None:
    async def call(chunk: list[dict[str, int]]) -> list[int]:
        if {"n": 6} in chunk:
            raise RuntimeError("chunk failed")
        return [entry["n"] for entry in chunk]

    with pytest.raises(BatchError) as caught:
        await run_prepared(
            call,
            [2, 4, 6, 8, 10],
            lambda n: {"n": n},
            name="numbers",
            chunk_size=2,
            concurrency=1,
            return_exceptions=False,
            on_progress=None,
        )

    assert (caught.value.index, caught.value.item) == (2, [6, 8])


async def test_without_chunks_a_failed_call_is_named_by_the_callers_item() -> None:
    async def call(entry: dict[str, int]) -> int:
        if entry["n"] == 6:
            raise RuntimeError("call failed")
        return entry["n"]

    with pytest.raises(BatchError) as caught:
        await run_prepared(
            call,
            [2, 4, 6, 8],
            lambda n: {"n": n},
            name="numbers",
            chunk_size=None,
            concurrency=1,
            return_exceptions=False,
            on_progress=None,
        )

    assert (caught.value.index, caught.value.item) == (2, 6)


async def test_without_chunks_bad_and_failed_items_keep_their_places() -> None:
    async def call(n: int) -> int:
        if n == 4:
            raise RuntimeError("call failed")
        return n

    results = await run_prepared(
        call,
        [2, 3, 4, 6],
        _must_be_even,
        name="numbers",
        chunk_size=None,
        concurrency=2,
        return_exceptions=True,
        on_progress=None,
    )

    assert results[0] == 2
    assert isinstance(results[1], InvalidRequestError)
    assert isinstance(results[2], RuntimeError)
    assert results[3] == 6


class Transaction:
    """A chunked call that is all-or-nothing and blames the one item that broke it."""

    def __init__(self, bad: int) -> None:
        self.bad = bad
        self.error = RuntimeError("no such table")

    async def call(self, chunk: list[int]) -> list[int]:
        if self.bad in chunk:
            raise ChunkItemError(chunk.index(self.bad), self.error)
        return chunk


async def test_a_chunk_can_blame_one_of_its_items() -> None:
    transaction = Transaction(bad=13)

    with pytest.raises(BatchError) as caught:
        await map_chunked(transaction.call, range(25), chunk_size=10, concurrency=1)

    assert (caught.value.index, caught.value.item) == (13, 13)
    assert caught.value.__cause__ is transaction.error


async def test_a_blamed_item_fails_its_whole_chunk_when_returning_exceptions() -> None:
    transaction = Transaction(bad=13)

    results = await map_chunked(
        transaction.call, range(25), chunk_size=10, concurrency=1, return_exceptions=True
    )

    assert results[10:20] == [transaction.error] * 10
    assert results[:10] == list(range(10))


def test_invalid_item_error_belongs_to_the_error_tree() -> None:
    from aerostack_async import errors

    assert InvalidItemError is errors.InvalidItemError
    assert issubclass(InvalidItemError, errors.BatchError)
    assert issubclass(InvalidItemError, errors.InvalidRequestError)
