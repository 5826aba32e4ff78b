"""Group commit for short SQLite operations: many concurrent requests, one worker-thread trip.

Handing each request's few-microsecond statement to a worker thread costs far more than the
statement itself. A `Coalescer` queues operations that arrive while a trip is under
way and runs the whole queue in the next trip, in arrival order, inside one transaction, each
in its own savepoint: an operation that raises is rolled back alone and its caller gets the
exception; the others commit. Under load one trip serves dozens of requests; alone, a request
takes one trip as before. The store's lock is held for the whole trip, so every operation is
still atomic with respect to every other.
"""

from __future__ import annotations

import functools
import sqlite3
from collections.abc import Callable
from typing import Any, Generic, TypeVar, cast

import anyio

from .._sqlite import SqliteStore

T = TypeVar("T")


class _Operation(Generic[T]):
    __slots__ = ("done", "error", "fn", "result")

    def __init__(self, fn: Callable[[sqlite3.Connection], T]) -> None:
        self.fn = fn
        self.done = False
        self.result: T | None = None
        self.error: BaseException | None = None

    def execute(self, conn: sqlite3.Connection) -> None:
        conn.execute("SAVEPOINT operation")
        try:
            self.result = self.fn(conn)
        except Exception as exc:
            conn.execute("ROLLBACK TO operation")
            self.error = exc
        conn.execute("RELEASE operation")


def _run_all(operations: list[_Operation[Any]], conn: sqlite3.Connection) -> None:
    """Run ``operations`` in one transaction, each in its own savepoint."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        for operation in operations:
            operation.execute(conn)
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")


class Coalescer:
    """Runs ``fn(conn)`` calls on a store, grouping those that arrive together."""

    def __init__(self, store: SqliteStore) -> None:
        self._store = store
        self._queue: list[_Operation[Any]] = []
        self._busy = False
        self._trip_done: anyio.Event | None = None

    async def run(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        """Call ``fn(conn)`` in a worker thread (with whatever else is queued) and return its
        result, or raise its exception."""
        operation = _Operation(fn)
        self._queue.append(operation)
        await self.finish(operation)
        if operation.error is not None:
            raise operation.error
        return cast(T, operation.result)

    def defer(self, fn: Callable[[sqlite3.Connection], T]) -> _Operation[T]:
        """Queue ``fn(conn)`` to ride along with the next trip, without starting one.

        Whoever runs the next trip runs it too; `finish()` runs it if nobody has yet.
        """
        operation = _Operation(fn)
        self._queue.append(operation)
        return operation

    async def finish(self, operation: _Operation[Any]) -> None:
        """Until ``operation`` has run: wait for the trip under way, or lead the next one."""
        while not operation.done:
            if self._busy:
                assert self._trip_done is not None
                await self._trip_done.wait()
                continue
            self._busy = True
            self._trip_done = anyio.Event()
            batch, self._queue = self._queue, []
            try:
                await self._store.run(functools.partial(_run_all, batch))
            except Exception as exc:  # the trip itself failed (BEGIN or COMMIT): all fail
                for queued in batch:
                    queued.error = queued.error or exc
            finally:
                # A cancelled leader still waited for the thread: the batch did run.
                for queued in batch:
                    queued.done = True
                self._busy = False
                self._trip_done.set()


def coalescer(store: SqliteStore) -> Coalescer:
    """The `Coalescer` of ``store`` (one per store, kept on it: gone when it is)."""
    found = store.extras.get("coalescer")
    if found is None:
        found = store.extras["coalescer"] = Coalescer(store)
    return found
