"""Bounded, ordered fan-out of async calls: the one mechanism under every ``*_many`` method.

:func:`map_concurrently` runs ``await fn(item)`` for every item with at most ``concurrency`` calls
in flight and returns the results in input order. :func:`map_chunked` does the same for APIs that
take items in groups (``/cache/getMany`` takes 100 keys), handing out one result per item.

Both are structured: the calls run inside an anyio task group, so nothing outlives the ``await``.
By default the first failure cancels the calls still running and raises one
:class:`~aerostack_async.errors.BatchError` naming the item, with the original error as its
``__cause__``; with ``return_exceptions=True`` every item gets its result or its exception.
Cancelling the caller cancels every call in flight. Both work on asyncio and trio.

Example::

    from aerostack_async.batching import map_concurrently

    async def fetch(user_id: int) -> dict:
        rows = await client.database.query("SELECT * FROM users WHERE id = ?", [user_id])
        return rows.results[0]

    users = await map_concurrently(fetch, range(1_000), concurrency=16)

Why workers rather than one task per item: ``concurrency`` tasks pull items from one shared
iterator, so a batch of 10,000 items starts 16 tasks, not 10,000. Measured with 10,000 no-op
calls (``benchmarks/bench_batching.py``): about 3 µs per item against 80-100 µs for a task per
item waiting on a ``CapacityLimiter``, on asyncio and trio alike, and memory that does not grow
with the batch.
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from typing import Any, Literal, TypeVar, cast, overload

import anyio

from ._options import DEFAULT_LIMITS, CallOptions
from .errors import BatchError, InvalidArgumentTypeError, InvalidItemError, InvalidRequestError

__all__ = [
    "ChunkItemError",
    "Concurrency",
    "InvalidItemError",
    "ProgressCallback",
    "map_chunked",
    "map_concurrently",
]

T = TypeVar("T")
R = TypeVar("R")

ProgressCallback = Callable[[int, int], object]
"""``on_progress(done, total)``: a plain function or an ``async def``; called after each item."""

Concurrency = int | anyio.CapacityLimiter
"""How many calls may be in flight: a number, or a limiter shared with other batches."""


class _Progress:
    """Counts finished items and reports them, strictly increasing, to the user's callback."""

    def __init__(self, callback: ProgressCallback | None, total: int) -> None:
        self._callback = callback
        self._total = total
        self._done = 0
        # An async callback can be suspended mid-call; the lock keeps calls from overtaking.
        self._lock = anyio.Lock() if callback is not None and _is_async(callback) else None

    async def advance(self, count: int) -> None:
        if self._callback is None or count == 0:
            return
        if self._lock is None:
            self._done += count
            result = self._callback(self._done, self._total)
            if inspect.isawaitable(result):
                await result
            return
        async with self._lock:
            self._done += count
            result = self._callback(self._done, self._total)
            if inspect.isawaitable(result):
                await result


def _is_async(callback: Callable[..., object]) -> bool:
    call = getattr(callback, "__call__", None)  # noqa: B004 (async __call__ of a callable object)
    return inspect.iscoroutinefunction(callback) or inspect.iscoroutinefunction(call)


def _check_concurrency(concurrency: Concurrency) -> tuple[int, anyio.CapacityLimiter | None]:
    """Return (number of workers, limiter every call must hold or None)."""
    if isinstance(concurrency, anyio.CapacityLimiter):
        tokens = concurrency.total_tokens
        if tokens < 1:
            raise InvalidRequestError("concurrency limiter must have at least 1 token")
        return (2**31 if tokens == float("inf") else int(tokens)), concurrency
    if isinstance(concurrency, bool) or not isinstance(concurrency, int):
        raise InvalidArgumentTypeError(
            "concurrency must be an int or an anyio.CapacityLimiter, "
            f"not {type(concurrency).__name__}"
        )
    if concurrency < 1:
        raise InvalidRequestError(f"concurrency must be at least 1, got {concurrency}")
    return concurrency, None


class _Failure:
    """The first failure of a batch: which item, and what went wrong."""

    __slots__ = ("error", "index", "item")

    def __init__(self, index: int, item: object, error: Exception) -> None:
        self.index = index
        self.item = item
        self.error = error


async def _run(
    fn: Callable[[Any], Awaitable[Any]],
    items: Sequence[Any],
    *,
    concurrency: Concurrency,
    return_exceptions: bool,
    progress: _Progress,
    weight: Callable[[Any], int] | None = None,
) -> tuple[list[Any], _Failure | None]:
    """Run ``fn`` over ``items`` with bounded workers; results in order, plus the first failure.

    A failure in default mode is returned, not raised, so callers can name the item in their own
    terms (:func:`map_chunked` names the chunk's first item, not the chunk's position).
    """
    workers, limiter = _check_concurrency(concurrency)
    results: list[Any] = [None] * len(items)
    if not items:
        return results, None
    pending = iter(enumerate(items))  # shared: each worker takes the next item when it is free
    failure: _Failure | None = None
    callback_error: Exception | None = None

    async def worker(scope: anyio.CancelScope) -> None:
        nonlocal failure, callback_error
        for index, item in pending:
            if failure is not None or callback_error is not None:
                return  # a call that never yields would not see the cancellation
            try:
                if limiter is None:
                    result = await fn(item)
                else:
                    async with limiter:
                        result = await fn(item)
            except Exception as exc:
                if not return_exceptions:
                    if failure is None:
                        failure = _Failure(index, item, exc)
                        scope.cancel()
                    return
                result = exc
            results[index] = result
            try:
                await progress.advance(1 if weight is None else weight(item))
            except Exception as exc:
                # The callback is the caller's code, not the item's: stop and re-raise it as is.
                if callback_error is None:
                    callback_error = exc
                    scope.cancel()
                return

    async with anyio.create_task_group() as group:
        for _ in range(min(workers, len(items))):
            group.start_soon(worker, group.cancel_scope)
    if callback_error is not None:
        raise callback_error
    return results, failure


class ChunkItemError(Exception):
    """Raised by a :func:`map_chunked` call to blame one item of its chunk.

    ``offset`` is the item's position in the chunk and ``error`` what went wrong with it. The
    batch then reports that item (its input index and the item itself) rather than the whole
    chunk, while the rest of the chunk shares its fate: with ``return_exceptions=True`` every
    item of the chunk gets ``error``. Useful when one call is all-or-nothing, like a database
    transaction that one bad statement rolls back.
    """

    def __init__(self, offset: int, error: Exception) -> None:
        super().__init__(f"item {offset} of the chunk failed: {error}")
        self.offset = offset
        self.error = error


@overload
async def map_concurrently(
    fn: Callable[[T], Awaitable[R]],
    items: Iterable[T],
    *,
    concurrency: Concurrency,
    return_exceptions: Literal[False] = False,
    on_progress: ProgressCallback | None = None,
) -> list[R]: ...
@overload
async def map_concurrently(
    fn: Callable[[T], Awaitable[R]],
    items: Iterable[T],
    *,
    concurrency: Concurrency,
    return_exceptions: bool,
    on_progress: ProgressCallback | None = None,
) -> list[R | Exception]: ...
async def map_concurrently(
    fn: Callable[[T], Awaitable[R]],
    items: Iterable[T],
    *,
    concurrency: Concurrency,
    return_exceptions: bool = False,
    on_progress: ProgressCallback | None = None,
) -> list[R] | list[R | Exception]:
    """Await ``fn(item)`` for every item, at most ``concurrency`` at a time; results in input order.

    Args:
        fn: an async function of one item.
        items: any iterable; it is read to the end first (the total is needed for progress).
        concurrency: the most calls in flight, at least 1; or an :class:`anyio.CapacityLimiter`
            to share one limit between several batches (``fn`` must not acquire that limiter
            itself: each call already holds one of its tokens).
        return_exceptions: if false (the default) the first exception cancels the calls still
            running and is raised as a :class:`~aerostack_async.errors.BatchError` with ``index``
            and ``item`` set and the original exception as ``__cause__``. If true, nothing is
            cancelled and each failed item's slot holds its exception instead of a result.
        on_progress: called as ``on_progress(done, total)`` after each item finishes (failures
            included when ``return_exceptions`` is true); a plain or an ``async`` function.
            ``done`` increases by one per call and the last call is ``(total, total)``. If the
            callback raises, the batch is cancelled and that exception propagates unchanged.

    Cancelling the caller (``anyio.move_on_after``, a cancelled task group, trio or asyncio
    cancellation) cancels every call in flight before this returns. An empty ``items`` returns
    ``[]`` without starting anything. ``BaseException`` that is not ``Exception``
    (``KeyboardInterrupt``, cancellation) is never captured.

    Raises:
        BatchError: an item failed and ``return_exceptions`` is false.
        InvalidRequestError: ``concurrency`` is less than 1 (a ``ValueError``).
        InvalidArgumentTypeError: ``concurrency`` is not an ``int`` or a limiter (a ``TypeError``).
    """
    listed = items if isinstance(items, Sequence) else list(items)
    _check_concurrency(concurrency)
    results, failure = await _run(
        fn,
        listed,
        concurrency=concurrency,
        return_exceptions=return_exceptions,
        progress=_Progress(on_progress, len(listed)),
    )
    if failure is not None:
        raise BatchError(failure.index, failure.item, failure.error)
    return results


@overload
async def map_chunked(
    fn: Callable[[list[T]], Awaitable[Sequence[R]]],
    items: Iterable[T],
    *,
    chunk_size: int,
    concurrency: Concurrency,
    return_exceptions: Literal[False] = False,
    on_progress: ProgressCallback | None = None,
) -> list[R]: ...
@overload
async def map_chunked(
    fn: Callable[[list[T]], Awaitable[Sequence[R]]],
    items: Iterable[T],
    *,
    chunk_size: int,
    concurrency: Concurrency,
    return_exceptions: bool,
    on_progress: ProgressCallback | None = None,
) -> list[R | Exception]: ...
async def map_chunked(
    fn: Callable[[list[T]], Awaitable[Sequence[R]]],
    items: Iterable[T],
    *,
    chunk_size: int,
    concurrency: Concurrency,
    return_exceptions: bool = False,
    on_progress: ProgressCallback | None = None,
) -> list[R] | list[R | Exception]:
    """Split ``items`` into chunks of ``chunk_size``, await ``fn(chunk)`` for each concurrently,
    and return one result per item in input order.

    ``fn`` takes a list of consecutive items and must return exactly one result per item, in the
    same order (a chunk that returns the wrong number fails with ``ValueError``). It suits any API
    that accepts many items per call::

        entries = await map_chunked(fetch_100_keys, keys, chunk_size=100, concurrency=8)

    Failure, cancellation and progress work as in :func:`map_concurrently`, counted in items:
    ``on_progress`` advances by a chunk's length when that chunk finishes. When a chunk fails,
    the :class:`~aerostack_async.errors.BatchError` has ``index`` = the input position of the
    chunk's first item and ``item`` = the chunk (a list); with ``return_exceptions=True`` every
    item of the failed chunk gets that chunk's exception. ``fn`` may raise
    :class:`ChunkItemError` to blame one item of its chunk instead.
    """
    if isinstance(chunk_size, bool) or not isinstance(chunk_size, int) or chunk_size < 1:
        raise InvalidRequestError(f"chunk_size must be a positive int, got {chunk_size!r}")
    listed = items if isinstance(items, Sequence) else list(items)
    _check_concurrency(concurrency)
    return await _chunked(
        fn,
        listed,
        originals=listed,
        chunk_size=chunk_size,
        concurrency=concurrency,
        return_exceptions=return_exceptions,
        progress=_Progress(on_progress, len(listed)),
    )


async def _chunked(
    fn: Callable[[list[Any]], Awaitable[Sequence[Any]]],
    items: Sequence[Any],
    *,
    originals: Sequence[Any],
    chunk_size: int,
    concurrency: Concurrency,
    return_exceptions: bool,
    progress: _Progress,
) -> list[Any]:
    """:func:`map_chunked` without its argument checks; errors name ``originals``' items."""
    starts = range(0, len(items), chunk_size)
    chunks = [(start, list(items[start : start + chunk_size])) for start in starts]

    async def call(chunk: tuple[int, list[Any]]) -> Sequence[Any]:
        results = await fn(chunk[1])
        if len(results) != len(chunk[1]):
            raise ValueError(f"expected {len(chunk[1])} results for a chunk, got {len(results)}")
        return results

    per_chunk, failure = await _run(
        call,
        chunks,
        concurrency=concurrency,
        return_exceptions=return_exceptions,
        progress=progress,
        weight=lambda chunk: len(chunk[1]),
    )
    if failure is not None:
        start, failed = cast("tuple[int, list[Any]]", failure.item)
        if isinstance(failure.error, ChunkItemError):
            index = start + failure.error.offset
            raise BatchError(index, originals[index], failure.error.error)
        raise BatchError(start, list(originals[start : start + len(failed)]), failure.error)
    flat: list[Any] = []
    for (_, chunk_items), outcome in zip(chunks, per_chunk, strict=True):
        if isinstance(outcome, ChunkItemError):
            flat.extend([outcome.error] * len(chunk_items))
        elif isinstance(outcome, Exception):
            flat.extend([outcome] * len(chunk_items))
        else:
            flat.extend(outcome)
    return flat


async def run_prepared(
    fn: Callable[[Any], Awaitable[Any]],
    items: Iterable[T],
    prepare: Callable[[T], Any],
    *,
    name: str,
    chunk_size: int | None,
    concurrency: Concurrency,
    return_exceptions: bool,
    on_progress: ProgressCallback | None,
) -> list[Any]:
    """Check every item with ``prepare`` before sending anything, then fan out.

    For the client's own batch methods. ``prepare`` turns an item into what ``fn`` sends, or
    raises ``ValueError``/``TypeError`` for a bad item. In default mode the first bad item raises
    an :class:`InvalidItemError` (``name[index]`` in its message; the item; the cause) and
    nothing is sent; with ``return_exceptions=True`` bad items get their error in place and only
    the good ones are sent.
    With ``chunk_size`` set, ``fn`` takes a list of prepared items (see :func:`map_chunked`);
    otherwise one. A ``BatchError`` always names the caller's items, never the prepared ones.
    """
    listed = items if isinstance(items, Sequence) else list(items)
    _check_concurrency(concurrency)
    prepared: list[Any] = []
    positions: list[int] = []  # input index of each prepared item (bad ones are left out)
    results: list[Any] = [None] * len(listed)
    for index, item in enumerate(listed):
        try:
            prepared.append(prepare(item))
        except (ValueError, TypeError) as exc:
            if not return_exceptions:
                raise InvalidItemError(name, index, item, exc) from exc
            results[index] = exc
        else:
            positions.append(index)
    progress = _Progress(on_progress, len(listed))
    await progress.advance(len(listed) - len(prepared))  # bad items are done: they will not run
    # In default mode nothing was left out, so a prepared item's index is its input index.
    if chunk_size is None:
        outcomes, failure = await _run(
            fn,
            prepared,
            concurrency=concurrency,
            return_exceptions=return_exceptions,
            progress=progress,
        )
        if failure is not None:
            raise BatchError(failure.index, listed[failure.index], failure.error)
    else:
        outcomes = await _chunked(
            fn,
            prepared,
            originals=listed,
            chunk_size=chunk_size,
            concurrency=concurrency,
            return_exceptions=return_exceptions,
            progress=progress,
        )
    for position, outcome in zip(positions, outcomes, strict=True):
        results[position] = outcome
    return results


# -- for the client's own batch methods ------------------------------------------------------


def client_concurrency(concurrency: Concurrency | None, transport: object) -> Concurrency:
    """The concurrency a client batch method uses: the caller's, capped at the pool size.

    ``None`` means as many calls as the pool keeps connections alive (``Limits``:
    ``max_keepalive_connections``, 20 by default, never above ``max_connections``). More calls
    in flight than pooled connections would only queue for a connection (and could run into the
    pool timeout); more than the pool keeps alive would open and close connections all the time.
    An int is capped at ``max_connections``; a limiter is used as given.
    """
    limits = getattr(transport, "limits", None) or DEFAULT_LIMITS
    ceiling = limits.max_connections or _UNBOUNDED_POOL
    if concurrency is None:
        return min(ceiling, limits.max_keepalive_connections or ceiling)
    _check_concurrency(concurrency)
    if isinstance(concurrency, anyio.CapacityLimiter):
        return concurrency
    return min(concurrency, ceiling)


_UNBOUNDED_POOL = 100  # what "no limit" means for a batch's default fan-out


def check_items(name: str, value: object) -> Iterable[Any]:
    """``value`` if it is an iterable of items: not a str or bytes, not a single mapping."""
    # A str is iterable too, but get_many("abc") asking for "a", "b", "c" is never meant.
    if isinstance(value, (str, bytes, bytearray, Mapping)) or not isinstance(value, Iterable):
        raise InvalidArgumentTypeError(f"{name} must be an iterable, not {type(value).__name__}")
    return value


def per_call_options(options: CallOptions) -> CallOptions:
    """A batch's call options, refusing an ``idempotency_key`` (each call needs its own)."""
    if "idempotency_key" in options:
        raise InvalidRequestError(
            "a batch cannot share one idempotency_key: every call of it sends its own"
        )
    return options
