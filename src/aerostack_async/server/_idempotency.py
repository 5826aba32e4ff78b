"""``Idempotency-Key``: the first complete response per (key, route, API key) is kept 24 h.

A repeat with the same body gets the stored response back byte for byte with
``Idempotent-Replayed: true``; the same key with a different body is 422. Requests with the
same key wait for each other, so two concurrent retries never both run.

Keeping a response costs the request nothing it must wait for: the response is kept in memory at
once (a replay finds it there) and its row is queued to ride along with the database's next
group-commit trip (another request's, see ``routes/_coalesce.py``). If no trip comes within
`FLUSH_AFTER` seconds, `IdempotencyStore.flush_forever()` (a background task) runs one;
closing the store writes whatever is still queued. Before this, a mutating call with an
``Idempotency-Key`` took two worker-thread trips (the operation, then the record) to a read's one.
"""

from __future__ import annotations

import hashlib
import sqlite3
from dataclasses import dataclass
from typing import Any

import anyio

from ._sqlite import SqliteStore

TTL_SECONDS = 24 * 3600
FLUSH_AFTER = 0.005
"""Seconds a kept response waits for another request's database trip before one of its own."""
MAX_KEY_LENGTH = 255

SCHEMA = """
CREATE TABLE IF NOT EXISTS idempotency (
    scope TEXT PRIMARY KEY,
    body_hash TEXT NOT NULL,
    status INTEGER NOT NULL,
    content_type TEXT NOT NULL,
    body BLOB NOT NULL,
    created_at REAL NOT NULL
);
"""


@dataclass(frozen=True)
class StoredResponse:
    """A response kept for replay."""

    body_hash: str
    status: int
    content_type: str
    body: bytes


def scope_of(idempotency_key: str, route: str, api_key: str) -> str:
    """The storage key for (idempotency key, route, API key); the API key is only hashed."""
    material = "\0".join((idempotency_key, route, api_key)).encode("utf-8", "surrogatepass")
    return hashlib.sha256(material).hexdigest()


def hash_body(body: bytes) -> str:
    """The fingerprint that decides "same body"."""
    return hashlib.sha256(body).hexdigest()


class _Hold:
    """The async context manager `IdempotencyStore.hold()` returns."""

    __slots__ = ("_scope", "_store")

    def __init__(self, store: IdempotencyStore, scope: str) -> None:
        self._store = store
        self._scope = scope

    async def __aenter__(self) -> None:
        await self._store._acquire(self._scope)

    async def __aexit__(self, *exc_info: object) -> None:
        self._store._release(self._scope)


class IdempotencyStore:
    """Stored responses in the platform database, plus per-scope locks in memory.

    An in-memory index (scope -> time stored) answers "never seen" without a trip to the
    database thread: a fresh key per logical call is the common case, and the lookup would
    otherwise cost as much as the operation it protects.
    """

    def __init__(self, store: SqliteStore) -> None:
        self._store = store
        self._locks: dict[str, list[anyio.Event]] = {}  # held scopes -> who waits for them
        self._coalescer_found: Any = None
        self._known: dict[str, float] | None = None
        # Kept but maybe not yet written: served from here until their row is in the database.
        self._pending: dict[str, tuple[StoredResponse, float]] = {}
        self._queued: list[tuple[str, StoredResponse, float, Any]] = []
        self._wake = anyio.Event()

    async def _index(self) -> dict[str, float]:
        if self._known is None:

            def load(conn: sqlite3.Connection) -> dict[str, float]:
                rows = conn.execute("SELECT scope, created_at FROM idempotency").fetchall()
                return {row[0]: row[1] for row in rows}

            loaded = await self._store.run(load)
            if self._known is None:
                self._known = loaded
        return self._known

    def hold(self, scope: str) -> _Hold:
        """``async with store.hold(scope)``: serialise requests that share ``scope``.

        A key nobody else holds (the common case: a fresh key per logical call) is taken with
        two dict operations, no lock object and no loop turn; later arrivals queue in order.
        """
        return _Hold(self, scope)

    async def _acquire(self, scope: str) -> None:
        waiters = self._locks.get(scope)
        if waiters is None:
            self._locks[scope] = []  # held, nobody waiting
            return
        turn = anyio.Event()
        waiters.append(turn)
        try:
            await turn.wait()
        except BaseException:
            if turn.is_set():
                self._release(scope)  # handed over just as we gave up: pass it on
            else:
                waiters.remove(turn)
            raise

    def _release(self, scope: str) -> None:
        waiters = self._locks[scope]
        if waiters:
            waiters.pop(0).set()  # the next in line now holds it
        else:
            del self._locks[scope]

    async def get(self, scope: str, now: float) -> StoredResponse | None:
        """The stored response for ``scope``, if one younger than 24 h exists."""
        stored_at = (await self._index()).get(scope)
        if stored_at is None or stored_at <= now - TTL_SECONDS:
            return None
        pending = self._pending.get(scope)
        if pending is not None:
            return pending[0]

        def read(conn: sqlite3.Connection) -> StoredResponse | None:
            row = conn.execute(
                "SELECT body_hash, status, content_type, body FROM idempotency"
                " WHERE scope = ? AND created_at > ?",
                (scope, now - TTL_SECONDS),
            ).fetchone()
            if row is None:
                return None
            return StoredResponse(row[0], row[1], row[2], bytes(row[3]))

        return await self._store.run(read)

    async def put(self, scope: str, response: StoredResponse, now: float) -> None:
        """Keep ``response`` for ``scope``: in memory now, in the database with the next trip."""
        index = await self._index()
        row = (scope, response.body_hash, response.status, response.content_type, response.body)

        def write(conn: sqlite3.Connection) -> None:
            conn.execute(
                "INSERT OR REPLACE INTO idempotency VALUES (?, ?, ?, ?, ?, ?)", (*row, now)
            )

        self._pending[scope] = (response, now)
        index[scope] = now
        operation = self._coalescer().defer(write)
        self._queued.append((scope, response, now, operation))
        self._wake.set()

    def _coalescer(self) -> Any:
        found = self._coalescer_found
        if found is None:
            from .routes._coalesce import coalescer  # (routes import the app, which imports us)

            found = self._coalescer_found = coalescer(self._store)
        return found

    async def flush(self) -> None:
        """Write what is still queued (leading a trip if none has taken it), then forget it."""
        queued, self._queued = self._queued, []
        if not queued:
            return
        try:
            for _, _, _, operation in queued:
                await self._coalescer().finish(operation)
        finally:
            for scope, response, now, operation in queued:
                if not operation.done:
                    self._queued.append((scope, response, now, operation))
                elif operation.error is None and self._pending.get(scope) == (response, now):
                    del self._pending[scope]

    async def flush_forever(self) -> None:
        """The background task: flush what waited `FLUSH_AFTER` seconds for a trip."""
        while True:
            await self._wake.wait()
            self._wake = anyio.Event()
            await anyio.sleep(FLUSH_AFTER)
            await self.flush()

    def close(self) -> None:
        """Write anything still queued, now, on this thread (the store is about to close)."""
        queued, self._queued = self._queued, []
        rows = [
            (scope, r.body_hash, r.status, r.content_type, r.body, now)
            for scope, r, now, operation in queued
            if not operation.done
        ]
        if rows:
            self._store.run_sync(
                lambda conn: conn.executemany(
                    "INSERT OR REPLACE INTO idempotency VALUES (?, ?, ?, ?, ?, ?)", rows
                )
            )

    async def sweep(self, now: float) -> None:
        """Forget responses older than 24 h."""

        def delete(conn: sqlite3.Connection) -> None:
            conn.execute("DELETE FROM idempotency WHERE created_at <= ?", (now - TTL_SECONDS,))

        await self._store.run(delete)
        known = await self._index()
        for scope in [scope for scope, at in known.items() if at <= now - TTL_SECONDS]:
            del known[scope]
