"""SQLite access off the event loop.

One connection per file, guarded by a lock and used from anyio's worker threads, so a slow
query never stalls the event loop. WAL mode with ``synchronous=NORMAL``: durable across a
process crash, no fsync per request.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import anyio.to_thread

T = TypeVar("T")


class SqliteStore:
    """A SQLite file shared by every request; ``await store.run(fn)`` calls ``fn(conn)``."""

    def __init__(self, path: Path) -> None:
        self.path = path
        # Helpers that belong to this store (its group-commit queue), dropped with it.
        self.extras: dict[str, Any] = {}
        self._lock = threading.Lock()
        self._conn = sqlite3.connect(
            path, check_same_thread=False, isolation_level=None, timeout=30.0
        )
        self._conn.row_factory = sqlite3.Row
        self._conn.execute("PRAGMA journal_mode=WAL")
        self._conn.execute("PRAGMA synchronous=NORMAL")
        self._conn.execute("PRAGMA foreign_keys=ON")

    def _call(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        with self._lock:
            return fn(self._conn)

    def run_sync(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        """Call ``fn(conn)`` on this thread (start-up and shutdown only)."""
        return self._call(fn)

    async def run(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        """Call ``fn(conn)`` in a worker thread, holding the store's lock."""
        return await anyio.to_thread.run_sync(self._call, fn)

    async def transaction(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        """Call ``fn(conn)`` inside ``BEGIN IMMEDIATE`` … ``COMMIT`` (rolled back on error)."""

        def in_transaction(conn: sqlite3.Connection) -> T:
            conn.execute("BEGIN IMMEDIATE")
            try:
                result = fn(conn)
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")
            return result

        return await self.run(in_transaction)

    def close(self) -> None:
        """Close the connection."""
        with self._lock:
            self._conn.close()
