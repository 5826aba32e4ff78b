"""The client's own batch methods' helpers, on top of the public `aerostack_async.batching`.

``cache.get_many``, ``queue.enqueue_many``, ``database.batch`` and their ``*_stream`` forms check
every item before sending (`run_prepared()`, `stream_prepared()`), size their fan-out
from the pool (`client_concurrency()`, given the pool's limits, not the transport) and refuse
a shared idempotency key (`per_call_options()`). None of this is public API.
"""

from __future__ import annotations

from collections.abc import AsyncIterable, Awaitable, Callable, Iterable, Sequence
from typing import Any, TypeVar

import anyio

from ._options import DEFAULT_LIMITS, CallOptions, Limits
from .batching import (
    Concurrency,
    InvalidItemError,
    ProgressCallback,
    ResultStream,
    StreamProgressCallback,
    _check_concurrency,
    _chunked,
    _Progress,
    _run,
    check_items,
    check_stream_items,
)
from .errors import BatchError, InvalidRequestError

__all__ = [
    "check_items",
    "check_stream_items",
    "client_concurrency",
    "per_call_options",
    "run_prepared",
    "stream_prepared",
]

T = TypeVar("T")


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
    an `InvalidItemError` (``name[index]`` in its message; the item; the cause) and
    nothing is sent; with ``return_exceptions=True`` bad items get their error in place and only
    the good ones are sent.
    With ``chunk_size`` set, ``fn`` takes a list of prepared items (see `map_chunked()`);
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


def client_concurrency(concurrency: Concurrency | None, limits: Limits | None) -> Concurrency:
    """The concurrency a client batch method uses: the caller's, capped at the pool size.

    ``limits`` is the pool's size (``Transport.limits``; None for a caller's own http_client,
    which counts as httpx's default pool).

    ``None`` means as many calls as the pool keeps connections alive (``Limits``:
    ``max_keepalive_connections``, 20 by default, never above ``max_connections``). More calls
    in flight than pooled connections would only queue for a connection (and could run into the
    pool timeout). An int is capped at ``max_connections``; a limiter is used as given.

    Why not more by default, although a batch of one call per item over a real network runs
    at ``concurrency / round trip``: through a 50 ms round trip (``benchmarks/bench_latency.py``)
    2,000 enqueues take about 6 s at 20 and 2.5-3 s at 50. But against a key limited to 200
    requests a second, 50 calls in flight left some calls out of retries (``RateLimitError``)
    in half the runs, where 20 never did: a default must not fail where a slower one succeeds.
    Raise ``concurrency`` when the round trip is long and the rate limit allows.
    """
    limits = limits or DEFAULT_LIMITS
    ceiling = limits.max_connections or _UNBOUNDED_POOL
    if concurrency is None:
        return min(ceiling, limits.max_keepalive_connections or ceiling)
    _check_concurrency(concurrency)
    if isinstance(concurrency, anyio.CapacityLimiter):
        return concurrency
    return min(concurrency, ceiling)


_UNBOUNDED_POOL = 100  # what "no limit" means for a batch's default fan-out


def per_call_options(options: CallOptions) -> CallOptions:
    """A batch's call options, refusing an ``idempotency_key`` (each call needs its own)."""
    if "idempotency_key" in options:
        raise InvalidRequestError(
            "a batch cannot share one idempotency_key: every call of it sends its own"
        )
    return options


def stream_prepared(
    fn: Callable[[Any], Awaitable[Any]],
    items: Iterable[Any] | AsyncIterable[Any],
    prepare: Callable[[Any], Any],
    *,
    name: str,
    chunk_size: int | None,
    concurrency: Concurrency,
    return_exceptions: bool,
    on_progress: StreamProgressCallback | None,
    read_ahead: int | None,
) -> ResultStream[Any]:
    """`run_prepared()` as a stream, for the client's own ``*_stream`` methods.

    Each item is checked by ``prepare`` as it is read (not all before the first call: the
    input may be endless). A bad item stops the stream at its position with an
    `InvalidItemError`, or with ``return_exceptions=True`` takes its error as its result.
    """
    return ResultStream(
        fn,
        check_stream_items(name, items),
        prepare=prepare,
        name=name,
        chunk_size=chunk_size,
        concurrency=concurrency,
        return_exceptions=return_exceptions,
        on_progress=on_progress,
        read_ahead=read_ahead,
    )
