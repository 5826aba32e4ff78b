"""Kept responses: served from memory at once, written with the next trip (or a flush), never lost
on close."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from aerostack_async.server._idempotency import SCHEMA, IdempotencyStore, StoredResponse
from aerostack_async.server._sqlite import SqliteStore
from aerostack_async.server.routes._coalesce import coalescer

pytestmark = pytest.mark.anyio

RESPONSE = StoredResponse("hash", 200, "application/json", b'{"success":true}')


def _store(tmp_path: Path) -> SqliteStore:
    store = SqliteStore(tmp_path / "platform.sqlite3")
    store.run_sync(lambda conn: conn.executescript(SCHEMA))
    return store


def _rows(store: SqliteStore) -> list[str]:
    def read(conn: sqlite3.Connection) -> list[str]:
        return [row[0] for row in conn.execute("SELECT scope FROM idempotency")]

    return store.run_sync(read)


async def test_a_kept_response_is_replayed_before_and_after_it_is_written(tmp_path: Path) -> None:
    store = _store(tmp_path)
    idem = IdempotencyStore(store)
    await idem.put("scope-1", RESPONSE, 1000.0)
    assert _rows(store) == []  # not written yet: no trip has run
    assert await idem.get("scope-1", 1000.0) == RESPONSE  # from memory
    await idem.flush()
    assert _rows(store) == ["scope-1"]
    assert idem._pending == {}
    assert await idem.get("scope-1", 1000.0) == RESPONSE  # from the database
    store.close()


async def test_the_row_rides_along_with_another_request_s_trip(tmp_path: Path) -> None:
    store = _store(tmp_path)
    idem = IdempotencyStore(store)
    await idem.put("scope-1", RESPONSE, 1000.0)
    trips = 0
    original = store.run

    async def counting(fn):  # type: ignore[no-untyped-def]
        nonlocal trips
        trips += 1
        return await original(fn)

    store.run = counting  # type: ignore[method-assign]
    assert await coalescer(store).run(lambda conn: 42) == 42
    assert trips == 1
    assert _rows(store) == ["scope-1"]
    await idem.flush()  # nothing left to write: no second trip
    assert trips == 1
    store.close()


async def test_closing_writes_what_is_still_queued(tmp_path: Path) -> None:
    store = _store(tmp_path)
    idem = IdempotencyStore(store)
    await idem.put("scope-1", RESPONSE, 1000.0)
    idem.close()
    assert _rows(store) == ["scope-1"]
    store.close()
