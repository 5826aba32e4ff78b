"""The emulator's group commit: concurrent short operations share worker-thread trips."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterator
from pathlib import Path

import anyio
import pytest

from aerostack_async.server._sqlite import SqliteStore
from aerostack_async.server.routes._coalesce import Coalescer

pytestmark = pytest.mark.anyio


@pytest.fixture
def store(tmp_path: Path) -> Iterator[SqliteStore]:
    store = SqliteStore(tmp_path / "test.sqlite3")
    store.run_sync(lambda conn: conn.execute("CREATE TABLE t (k INTEGER PRIMARY KEY, v TEXT)"))
    yield store
    store.close()


def insert(k: int) -> Callable[[sqlite3.Connection], int]:
    def fn(conn: sqlite3.Connection) -> int:
        conn.execute("INSERT INTO t VALUES (?, ?)", (k, f"v{k}"))
        return k * 10

    return fn


def rows(store: SqliteStore) -> list[int]:
    return [row[0] for row in store.run_sync(lambda c: c.execute("SELECT k FROM t ORDER BY k"))]


async def test_concurrent_operations_each_get_their_own_result(store: SqliteStore) -> None:
    coalescer = Coalescer(store)
    results: dict[int, int] = {}

    async def one(k: int) -> None:
        results[k] = await coalescer.run(insert(k))

    async with anyio.create_task_group() as tg:
        for k in range(100):
            tg.start_soon(one, k)
    assert results == {k: k * 10 for k in range(100)}
    assert rows(store) == list(range(100))


async def test_a_failing_operation_is_rolled_back_alone(store: SqliteStore) -> None:
    coalescer = Coalescer(store)

    def half_then_fail(conn: sqlite3.Connection) -> None:
        conn.execute("INSERT INTO t VALUES (1000, 'partial')")
        raise ValueError("boom")

    outcomes: list[object] = []

    async def ok(k: int) -> None:
        outcomes.append(await coalescer.run(insert(k)))

    async def failing() -> None:
        with pytest.raises(ValueError, match="boom"):
            await coalescer.run(half_then_fail)
        outcomes.append("failed")

    async with anyio.create_task_group() as tg:
        tg.start_soon(ok, 1)
        tg.start_soon(failing)
        tg.start_soon(ok, 2)
        tg.start_soon(ok, 3)
    assert sorted(map(str, outcomes)) == ["10", "20", "30", "failed"]
    assert rows(store) == [1, 2, 3]


async def test_a_sql_error_reaches_only_its_caller(store: SqliteStore) -> None:
    coalescer = Coalescer(store)
    await coalescer.run(insert(1))
    with pytest.raises(sqlite3.IntegrityError):
        await coalescer.run(insert(1))
    assert await coalescer.run(insert(2)) == 20
    assert rows(store) == [1, 2]
