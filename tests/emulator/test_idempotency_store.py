"""Kept responses: served from memory at once, written with the next trip (or a flush), never lost
on close."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

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


async def test_holders_of_one_key_take_turns_and_a_waiter_may_leave(tmp_path: Path) -> None:
    import anyio

    store = _store(tmp_path)
    idem = IdempotencyStore(store)
    order: list[str] = []

    async def use(name: str, scope: str, hold_for: float) -> None:
        async with idem.hold(scope):
            order.append(f"{name} in")
            await anyio.sleep(hold_for)
            order.append(f"{name} out")

    with anyio.fail_after(10):  # a waiter left behind would hang the group
        await _scenario(use)
    assert order.index("x out") < order.index("a out")
    k_order = [entry for entry in order if not entry.startswith("x")]
    assert k_order == ["a in", "a out", "b in", "b out", "d in", "d out"]
    assert idem._locks == {}
    store.close()


async def _scenario(use: Any) -> None:
    import anyio

    async with anyio.create_task_group() as tg:
        tg.start_soon(use, "a", "k", 0.1)
        await anyio.sleep(0.02)
        tg.start_soon(use, "x", "other", 0)  # another key never waits for "k"
        tg.start_soon(use, "b", "k", 0)
        await anyio.sleep(0.02)
        waiter = anyio.CancelScope()

        async def gives_up() -> None:
            with waiter:
                await use("c", "k", 0)

        tg.start_soon(gives_up)
        await anyio.sleep(0.02)
        waiter.cancel()  # c leaves the queue before its turn
        tg.start_soon(use, "d", "k", 0)
