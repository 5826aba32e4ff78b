"""Bounded, ordered fan-out of async calls: the one mechanism under every ``*_many`` method.

`map_concurrently()` runs ``await fn(item)`` for every item with at most ``concurrency`` calls
in flight and returns the results in input order. `map_chunked()` does the same for APIs that
take items in groups (``/cache/getMany`` takes 100 keys), handing out one result per item.

Both are structured: the calls run inside an anyio task group, so nothing outlives the ``await``.
By default the first failure cancels the calls still running and raises one
`BatchError` naming the item, with the original error as its
``__cause__``; with ``return_exceptions=True`` every item gets its result or its exception.
Cancelling the caller cancels every call in flight. Both work on asyncio and trio.

Example:
    ```python
    from aerostack_async.batching import map_concurrently

    async def fetch(user_id: int) -> dict:
        rows = await client.database.query("SELECT * FROM users WHERE id = ?", [user_id])
        return rows.results[0]

    users = await map_concurrently(fetch, range(1_000), concurrency=16)
    ```

Why workers rather than one task per item: ``concurrency`` tasks pull items from one shared
iterator, so a batch of 10,000 items starts 16 tasks, not 10,000. Measured with 10,000 no-op
calls (``benchmarks/bench_batching.py``): about 3 µs per item against 80-100 µs for a task per
item waiting on a ``CapacityLimiter``, on asyncio and trio alike, and memory that does not grow
with the batch.
"""

from __future__ import annotations

from collections import deque
from collections.abc import AsyncIterable, Awaitable, Callable, Iterable, Mapping, Sequence, Sized
from types import TracebackType
from typing import Any, Generic, Literal, TypeVar, cast, overload

import anyio
from anyio.abc import TaskGroup

from ._callbacks import ProgressCallback as _ProgressCallback
from ._callbacks import call_maybe_async, is_async_callable
from .errors import BatchError, InvalidArgumentTypeError, InvalidItemError, InvalidRequestError

__all__ = [
    "ChunkItemError",
    "Concurrency",
    "InvalidItemError",
    "ProgressCallback",
    "ResultStream",
    "StreamProgressCallback",
    "map_chunked",
    "map_concurrently",
    "stream_chunked",
    "stream_concurrently",
]

T = TypeVar("T")
R = TypeVar("R")

ProgressCallback = Callable[[int, int], object]
"""``on_progress(done, total)``: a plain function or an ``async def``; called after each item."""

StreamProgressCallback = _ProgressCallback
"""``on_progress(done, total)`` for streams: ``total`` is None while the input's length is unknown.

The one meaning of ``on_progress`` (`aerostack_async._callbacks`); a callback that accepts
``int | None`` also serves the list forms and uploads and downloads."""

Concurrency = int | anyio.CapacityLimiter
"""How many calls may be in flight: a number, or a limiter shared with other batches."""


class _Progress:
    """Counts finished items and reports them, strictly increasing, to the user's callback.

    ``total`` may be None (a stream whose input has no length) until the stream sets it.
    """

    def __init__(self, callback: Callable[[int, Any], object] | None, total: int | None) -> None:
        self._callback = callback
        self._total = total
        self._done = 0
        # An async callback can be suspended mid-call; the lock keeps calls from overtaking.
        self._lock = anyio.Lock() if callback is not None and is_async_callable(callback) else None

    async def advance(self, count: int) -> None:
        if self._callback is None or count == 0:
            return
        if self._lock is None:
            self._done += count
            await call_maybe_async(self._callback, self._done, self._total)
            return
        async with self._lock:
            self._done += count
            await call_maybe_async(self._callback, self._done, self._total)


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
    terms (`map_chunked()` names the chunk's first item, not the chunk's position).
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
    """Raised by a `map_chunked()` call to blame one item of its chunk.

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
        concurrency: the most calls in flight, at least 1; or an `anyio.CapacityLimiter`
            to share one limit between several batches (``fn`` must not acquire that limiter
            itself: each call already holds one of its tokens).
        return_exceptions: if false (the default) the first exception cancels the calls still
            running and is raised as a `BatchError` with ``index``
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
    that accepts many items per call:

        entries = await map_chunked(fetch_100_keys, keys, chunk_size=100, concurrency=8)

    Failure, cancellation and progress work as in `map_concurrently()`, counted in items:
    ``on_progress`` advances by a chunk's length when that chunk finishes. When a chunk fails,
    the `BatchError` has ``index`` = the input position of the
    chunk's first item and ``item`` = the chunk (a list); with ``return_exceptions=True`` every
    item of the failed chunk gets that chunk's exception. ``fn`` may raise
    `ChunkItemError` to blame one item of its chunk instead.
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
    """`map_chunked()` without its argument checks; errors name ``originals``' items."""
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


def check_items(name: str, value: object) -> Iterable[Any]:
    """``value`` if it is an iterable of items: not a str or bytes, not a single mapping."""
    # A str is iterable too, but get_many("abc") asking for "a", "b", "c" is never meant.
    if isinstance(value, (str, bytes, bytearray, Mapping)) or not isinstance(value, Iterable):
        raise InvalidArgumentTypeError(f"{name} must be an iterable, not {type(value).__name__}")
    return value


# -- streams of results ------------------------------------------------------------------------

_MAX_STREAM_WORKERS = 1024  # an unbounded limiter still gets a finite number of workers
_END: Any = object()


class _Signal:
    """Wakes every task waiting on it; costs nothing when no one waits (no Event per fire)."""

    __slots__ = ("_event",)

    def __init__(self) -> None:
        self._event: anyio.Event | None = None

    def fire(self) -> None:
        if self._event is not None:
            self._event.set()
            self._event = None

    async def wait(self) -> None:
        if self._event is None:
            self._event = anyio.Event()
        await self._event.wait()


class _Stopped:
    """Where a stream stops (``at``: an input index) and what its loop then raises."""

    __slots__ = ("at", "error")

    def __init__(self, at: int, error: BaseException) -> None:
        self.at = at
        self.error = error


class ResultStream(Generic[R]):
    """Results of a batch, one per input item **in input order**, as the calls complete.

    What the ``*_stream`` methods and `stream_concurrently()` return. Enter it with
    ``async with``, then iterate:

        async with client.cache.get_many_stream(keys) as entries:
            async for entry in entries:
                ...

    ``async with`` is the scope of the work: entering starts reading the input and making
    calls in a task group that belongs to the block; leaving it (at the end, on ``break``, on an
    exception) cancels whatever is still in flight and returns only once every call has finished
    or been cancelled. Nothing outlives the block, on asyncio and trio alike, which an async
    generator that starts tasks cannot promise.

    Input is read lazily, at most ``read_ahead`` items ahead of the loop, so memory stays flat
    however many items flow through and the input may be endless. A slow loop body slows the
    reading down (back-pressure) rather than piling up results. An async generator given as
    input and not read to its end (the loop left early, a failure) is closed (``aclose()``)
    before the block ends, so its own cleanup runs then; a plain iterator is left as it is.

    Iterating without ``async with`` raises ``RuntimeError``; a stream runs once.
    """

    __slots__ = (
        "_call",
        "_chunk_size",
        "_done",
        "_entered",
        "_group",
        "_halted",
        "_in_flight",
        "_inner",
        "_items",
        "_limiter",
        "_name",
        "_next_read",
        "_prepare",
        "_progress",
        "_queue",
        "_raised",
        "_results",
        "_results_ready",
        "_return_exceptions",
        "_room",
        "_source_done",
        "_stopped",
        "_window",
        "_work_ready",
        "_workers",
        "_yielded",
    )

    def __init__(
        self,
        call: Callable[[Any], Awaitable[Any]],
        items: Iterable[Any] | AsyncIterable[Any],
        *,
        prepare: Callable[[Any], Any] | None,
        name: str,
        chunk_size: int | None,
        concurrency: Concurrency,
        return_exceptions: bool,
        on_progress: StreamProgressCallback | None,
        read_ahead: int | None,
    ) -> None:
        workers, self._limiter = _check_concurrency(concurrency)
        workers = min(workers, _MAX_STREAM_WORKERS)
        size = 1 if chunk_size is None else chunk_size
        if read_ahead is None:
            # Twice what the calls in flight hold: workers stay busy while the loop waits for
            # one slow call, and the results held back behind it stay bounded.
            read_ahead = 2 * workers * size
        elif isinstance(read_ahead, bool) or not isinstance(read_ahead, int) or read_ahead < 1:
            raise InvalidRequestError(f"read_ahead must be a positive int, got {read_ahead!r}")
        self._call = call
        self._items = items
        self._prepare = prepare
        self._name = name
        self._chunk_size = chunk_size
        self._return_exceptions = return_exceptions
        self._window = read_ahead
        self._workers = max(1, min(workers, -(-read_ahead // size)))
        total = len(items) if isinstance(items, Sized) else None
        self._progress = _Progress(on_progress, total)
        self._entered = False
        self._group: TaskGroup | None = None
        self._inner: anyio.CancelScope | None = None
        self._halted = False  # leaving the block: nothing new starts
        self._done = False  # every worker has returned
        self._next_read = 0  # input index of the next item to read
        self._yielded = 0  # input index of the next result to hand out
        self._source_done = False
        self._stopped: _Stopped | None = None
        self._raised = False  # the loop has raised the stop error
        # (index, item as given, item as sent): read, not yet taken by a worker.
        self._queue: deque[tuple[int, Any, Any]] = deque()
        self._results: dict[int, Any] = {}  # finished, not yet handed out
        self._in_flight: dict[int, anyio.CancelScope] = {}  # by the call's first index
        self._work_ready = _Signal()
        self._results_ready = _Signal()
        self._room = _Signal()

    # -- the block ----------------------------------------------------------------------------

    async def __aenter__(self) -> ResultStream[R]:
        if self._entered:
            raise RuntimeError("this stream was already used; call the method again")
        self._entered = True
        group = anyio.create_task_group()
        await group.__aenter__()
        self._group = group
        group.start_soon(self._run)
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> bool | None:
        self._halted = True
        if self._inner is not None:
            self._inner.cancel()
        group, self._group = self._group, None
        assert group is not None
        # The block's own exception is not handed to the group: the group would wrap it in an
        # ExceptionGroup, and a failed batch should surface as the BatchError it is. The work
        # was just cancelled, so the group only waits for the calls to wind down.
        await group.__aexit__(None, None, None)
        return None

    # -- the loop -----------------------------------------------------------------------------

    def __aiter__(self) -> ResultStream[R]:
        if self._group is None:
            if self._entered:
                raise RuntimeError("this stream's async with block has ended")
            raise RuntimeError(
                "enter the stream first: async with client.cache.get_many_stream(keys) as s: "
                "async for item in s: ..."
            )
        return self

    async def __anext__(self) -> R:
        if self._group is None:
            self.__aiter__()
        while True:
            index = self._yielded
            results = self._results
            if index in results:
                self._yielded = index + 1
                self._room.fire()
                return cast("R", results.pop(index))
            stopped = self._stopped
            if stopped is not None and index >= stopped.at:
                if self._raised:
                    raise StopAsyncIteration
                self._raised = True
                raise stopped.error
            if self._done or (self._source_done and index >= self._next_read):
                raise StopAsyncIteration
            await self._results_ready.wait()

    def take_buffered(self) -> list[R]:
        """The results ready to be yielded next, in order, without waiting (may be empty).

        The sync facade hands these over in one round trip instead of one per item.
        """
        taken: list[R] = []
        results = self._results
        stop = self._stopped.at if self._stopped is not None else None
        index = self._yielded
        while index in results and (stop is None or index < stop):
            taken.append(results.pop(index))
            index += 1
        if taken:
            self._yielded = index
            self._room.fire()
        return taken

    # -- the work -----------------------------------------------------------------------------

    async def _run(self) -> None:
        try:
            if self._halted:
                return
            async with anyio.create_task_group() as inner:
                self._inner = inner.cancel_scope
                inner.start_soon(self._read)
                for _ in range(self._workers):
                    inner.start_soon(self._work)
        finally:
            self._done = True
            self._results_ready.fire()

    def _stop(self, at: int, error: BaseException) -> None:
        """End the stream at input index ``at``: the loop gets every result before it, then
        ``error``. Calls for later items are cancelled; earlier ones finish."""
        if self._stopped is not None and self._stopped.at <= at:
            return
        self._stopped = _Stopped(at, error)
        for first, scope in self._in_flight.items():
            if first > at:
                scope.cancel()
        if self._queue and self._queue[-1][0] > at:
            self._queue = deque(entry for entry in self._queue if entry[0] <= at)
        self._work_ready.fire()
        self._results_ready.fire()
        self._room.fire()

    def _halt(self, error: BaseException) -> None:
        """Stop everything now (the caller's own code failed: a progress callback)."""
        self._stop(self._yielded, error)
        if self._inner is not None:
            self._inner.cancel()

    async def _read(self) -> None:
        try:
            if isinstance(self._items, AsyncIterable):
                await self._read_async(self._items)
            else:
                await self._read_sync(self._items)
        except Exception as exc:
            # The input itself failed (a cursor, a file): results read before it, then this.
            self._stop(self._next_read, exc)
        finally:
            self._source_done = True
            if self._progress._total is None:
                self._progress._total = self._next_read
            self._work_ready.fire()
            self._results_ready.fire()

    async def _read_sync(self, items: Iterable[Any]) -> None:
        iterator = iter(items)
        # One item is read ahead of the window, so the end (and the total) is known as soon
        # as the last item is read, not when the window next has room.
        pending = next(iterator, _END)
        while pending is not _END:
            if not await self._wait_for_room():
                return
            await self._admit(pending)
            pending = next(iterator, _END)

    async def _read_async(self, items: AsyncIterable[Any]) -> None:
        iterator = items.__aiter__()
        try:
            pending = await iterator.__anext__()
            while await self._wait_for_room():
                await self._admit(pending)
                pending = await iterator.__anext__()
        except StopAsyncIteration:
            return
        finally:
            # Stopped early (a failure, the block left): close an async generator now, so its
            # own cleanup (a cursor, a file) runs here rather than whenever it is collected
            # (where trio warns about it). One that ended or raised is closed already.
            aclose = getattr(iterator, "aclose", None)
            if aclose is not None:
                with anyio.CancelScope(shield=True):
                    await aclose()

    async def _wait_for_room(self) -> bool:
        """Wait until the window has room for one more item; False if reading should stop."""
        while self._next_read >= self._yielded + self._window:
            if self._stopped is not None or self._halted:
                return False
            await self._room.wait()
        return self._stopped is None and not self._halted

    async def _admit(self, item: Any) -> None:
        index = self._next_read
        self._next_read = index + 1
        prepared = item
        if self._prepare is not None:
            try:
                prepared = self._prepare(item)
            except (ValueError, TypeError) as exc:
                if not self._return_exceptions:
                    self._stop(index, InvalidItemError(self._name, index, item, exc))
                    return
                await self._finish([(index, item, None)], [exc])
                return
        if not self._queue:
            self._work_ready.fire()
        self._queue.append((index, item, prepared))

    def _take(self) -> list[tuple[int, Any, Any]]:
        queue = self._queue
        count = min(len(queue), self._chunk_size or 1)
        return [queue.popleft() for _ in range(count)]

    async def _work(self) -> None:
        chunked = self._chunk_size is not None
        while not self._halted:
            while not self._queue:
                if self._source_done or self._halted or self._stopped is not None:
                    return
                await self._work_ready.wait()
            batch = self._take()
            first = batch[0][0]
            scope = anyio.CancelScope()
            self._in_flight[first] = scope
            error: Exception | None = None
            outcome: Any = None
            try:
                with scope:
                    try:
                        argument = [e[2] for e in batch] if chunked else batch[0][2]
                        if self._limiter is None:
                            outcome = await self._call(argument)
                        else:
                            async with self._limiter:
                                outcome = await self._call(argument)
                        if chunked and len(outcome) != len(batch):
                            raise ValueError(
                                f"expected {len(batch)} results for a chunk, got {len(outcome)}"
                            )
                    except Exception as exc:
                        error = exc
            finally:
                del self._in_flight[first]
            if scope.cancelled_caught:
                continue  # a failure earlier in the input made this call pointless
            if error is None:
                await self._finish(batch, outcome if chunked else [outcome])
            elif self._return_exceptions:
                cause = error.error if isinstance(error, ChunkItemError) else error
                await self._finish(batch, [cause] * len(batch))
            elif isinstance(error, ChunkItemError):
                index, item, _ = batch[error.offset]
                self._stop(first, BatchError(index, item, error.error))
            elif chunked:
                self._stop(first, BatchError(first, [e[1] for e in batch], error))
            else:
                self._stop(first, BatchError(first, batch[0][1], error))

    async def _finish(self, batch: list[tuple[int, Any, Any]], outcomes: Sequence[Any]) -> None:
        results = self._results
        for (index, _, _), outcome in zip(batch, outcomes, strict=True):
            results[index] = outcome
        self._results_ready.fire()
        try:
            await self._progress.advance(len(batch))
        except Exception as exc:
            self._halt(exc)


@overload
def stream_concurrently(
    fn: Callable[[T], Awaitable[R]],
    items: Iterable[T] | AsyncIterable[T],
    *,
    concurrency: Concurrency,
    return_exceptions: Literal[False] = False,
    on_progress: StreamProgressCallback | None = None,
    read_ahead: int | None = None,
) -> ResultStream[R]: ...
@overload
def stream_concurrently(
    fn: Callable[[T], Awaitable[R]],
    items: Iterable[T] | AsyncIterable[T],
    *,
    concurrency: Concurrency,
    return_exceptions: bool,
    on_progress: StreamProgressCallback | None = None,
    read_ahead: int | None = None,
) -> ResultStream[R | Exception]: ...
def stream_concurrently(
    fn: Callable[[T], Awaitable[R]],
    items: Iterable[T] | AsyncIterable[T],
    *,
    concurrency: Concurrency,
    return_exceptions: bool = False,
    on_progress: StreamProgressCallback | None = None,
    read_ahead: int | None = None,
) -> ResultStream[R] | ResultStream[R | Exception]:
    """`map_concurrently()` as a stream: results in input order, as they complete.

    ``items`` may be any iterable or async iterable, read lazily (a generator, a file, a
    database cursor, an endless feed). Use it in ``async with`` (see `ResultStream`):

        async with stream_concurrently(fetch, user_ids(), concurrency=16) as profiles:
            async for profile in profiles:
                ...

    Args:
        fn: as in `map_concurrently()`.
        concurrency: as in `map_concurrently()`.
        return_exceptions: as in `map_concurrently()`.
        on_progress: ``on_progress(done, total)`` after each item finishes; ``total`` is
            ``len(items)`` for an input with a length, else None until the input runs out.
            The last call is ``(total, total)`` when the stream runs to its end.
        read_ahead: the most items read from the input but not yet yielded by the loop
            (in flight, waiting to start, or finished behind a slower earlier item). Default:
            twice ``concurrency``.

    When an item fails and ``return_exceptions`` is false, calls for later items are
    cancelled, earlier ones still finish, and the loop yields every result before the failed
    item, then raises `BatchError` for it: ``error.index`` is
    where to resume. An error raised by the input itself is raised the same way, unchanged, at
    its position; an error raised by ``on_progress`` stops everything and is raised at once.

    Raises (at the call, before anything starts): ``InvalidRequestError`` for a ``concurrency``
    or ``read_ahead`` below 1, ``InvalidArgumentTypeError`` for one of the wrong type.
    """
    return ResultStream(
        fn,
        check_stream_items("items", items),
        prepare=None,
        name="items",
        chunk_size=None,
        concurrency=concurrency,
        return_exceptions=return_exceptions,
        on_progress=on_progress,
        read_ahead=read_ahead,
    )


@overload
def stream_chunked(
    fn: Callable[[list[T]], Awaitable[Sequence[R]]],
    items: Iterable[T] | AsyncIterable[T],
    *,
    chunk_size: int,
    concurrency: Concurrency,
    return_exceptions: Literal[False] = False,
    on_progress: StreamProgressCallback | None = None,
    read_ahead: int | None = None,
) -> ResultStream[R]: ...
@overload
def stream_chunked(
    fn: Callable[[list[T]], Awaitable[Sequence[R]]],
    items: Iterable[T] | AsyncIterable[T],
    *,
    chunk_size: int,
    concurrency: Concurrency,
    return_exceptions: bool,
    on_progress: StreamProgressCallback | None = None,
    read_ahead: int | None = None,
) -> ResultStream[R | Exception]: ...
def stream_chunked(
    fn: Callable[[list[T]], Awaitable[Sequence[R]]],
    items: Iterable[T] | AsyncIterable[T],
    *,
    chunk_size: int,
    concurrency: Concurrency,
    return_exceptions: bool = False,
    on_progress: StreamProgressCallback | None = None,
    read_ahead: int | None = None,
) -> ResultStream[R] | ResultStream[R | Exception]:
    """`map_chunked()` as a stream (see `stream_concurrently()`).

    A free worker takes up to ``chunk_size`` items that are waiting, so chunks are full while
    the input keeps up and go out partly filled rather than wait for an input that is slow
    (an endless feed is never held back waiting to fill a chunk). Default ``read_ahead``: twice
    ``concurrency`` chunks.
    """
    _check_chunk_size(chunk_size)
    return ResultStream(
        fn,
        check_stream_items("items", items),
        prepare=None,
        name="items",
        chunk_size=chunk_size,
        concurrency=concurrency,
        return_exceptions=return_exceptions,
        on_progress=on_progress,
        read_ahead=read_ahead,
    )


def check_stream_items(name: str, value: object) -> Iterable[Any] | AsyncIterable[Any]:
    """``value`` if it is an iterable or an async iterable of items (see `check_items()`)."""
    if isinstance(value, AsyncIterable):
        return value
    return check_items(name, value)


def _check_chunk_size(chunk_size: object) -> None:
    if isinstance(chunk_size, bool) or not isinstance(chunk_size, int) or chunk_size < 1:
        raise InvalidRequestError(f"chunk_size must be a positive int, got {chunk_size!r}")
