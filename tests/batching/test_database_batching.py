"""database.batch against the emulator: one transaction of <= 25, or explicit chunking."""

from __future__ import annotations

import pytest

from aerostack_async import AsyncAerostack
from aerostack_async.errors import BadRequestError, BatchError, InvalidRequestError

from .conftest import CountingTransport

pytestmark = pytest.mark.anyio


async def _table(client: AsyncAerostack, unique: str) -> str:
    await client.database.query(f"CREATE TABLE {unique} (n INTEGER)")
    return unique


async def _count(client: AsyncAerostack, table: str) -> int:
    result = await client.database.query(f"SELECT COUNT(*) AS c FROM {table}")
    return int(result.results[0]["c"])


async def test_a_failing_statement_rolls_back_the_whole_batch(
    client: AsyncAerostack, unique: str
) -> None:
    table = await _table(client, unique)
    statements = [f"INSERT INTO {table} VALUES ({n})" for n in range(5)]
    statements.insert(3, "INSERT INTO no_such_table VALUES (1)")

    with pytest.raises(BatchError) as caught:
        await client.database.batch(statements)

    assert (caught.value.index, caught.value.item) == (3, statements[3])
    assert isinstance(caught.value.__cause__, BadRequestError)
    assert caught.value.__cause__.code == "DB_QUERY_FAILED"
    assert "no_such_table" in caught.value.__cause__.message
    assert caught.value.__cause__.status_code == 400
    assert str(caught.value.__cause__).startswith("400 DB_QUERY_FAILED")
    assert await _count(client, table) == 0


async def test_a_successful_batch_returns_each_statements_result(
    client: AsyncAerostack, unique: str
) -> None:
    table = await _table(client, unique)

    result = await client.database.batch(
        [
            f"INSERT INTO {table} VALUES (1)",
            {"sql": f"INSERT INTO {table} VALUES (?)", "params": [2]},
            f"SELECT n FROM {table} ORDER BY n",
        ]
    )

    assert result.success
    assert result.results[2].results == [{"n": 1}, {"n": 2}]


async def test_more_than_25_statements_are_refused_before_anything_is_sent(
    counted_client: AsyncAerostack, counting: CountingTransport
) -> None:
    with pytest.raises(InvalidRequestError, match="atomic=False"):
        await counted_client.database.batch(["SELECT 1"] * 26)

    assert counting.requests == []


async def test_non_atomic_batches_run_in_order_in_transactions_of_25(
    counted_client: AsyncAerostack, counting: CountingTransport, unique: str
) -> None:
    table = await _table(counted_client, unique)
    statements = [f"INSERT INTO {table} VALUES ({n})" for n in range(60)]

    result = await counted_client.database.batch(statements, atomic=False)

    assert len(result.results) == 60
    assert [r.url.path for r in counting.requests].count("/v1/db/batch") == 3  # 25 + 25 + 10
    assert counting.most == 1  # one transaction after another
    rows = await counted_client.database.query(f"SELECT n FROM {table} ORDER BY rowid")
    assert [row["n"] for row in rows.results] == list(range(60))


async def test_a_non_atomic_failure_keeps_earlier_transactions_and_stops(
    client: AsyncAerostack, unique: str
) -> None:
    table = await _table(client, unique)
    statements = [f"INSERT INTO {table} VALUES ({n})" for n in range(60)]
    statements[30] = "INSERT INTO no_such_table VALUES (1)"

    with pytest.raises(BatchError) as caught:
        await client.database.batch(statements, atomic=False)

    assert caught.value.index == 30
    assert await _count(client, table) == 25  # statements 0-24; 25-49 rolled back; 50+ not run


async def test_a_non_atomic_failure_with_return_exceptions_runs_every_transaction(
    client: AsyncAerostack, unique: str
) -> None:
    table = await _table(client, unique)
    statements = [f"INSERT INTO {table} VALUES ({n})" for n in range(60)]
    statements[30] = "INSERT INTO no_such_table VALUES (1)"

    results = await client.database.batch(statements, atomic=False, return_exceptions=True)

    failed = [n for n, slot in enumerate(results) if isinstance(slot, Exception)]
    assert failed == list(range(25, 50))
    assert await _count(client, table) == 35


async def test_an_empty_batch_sends_nothing(
    counted_client: AsyncAerostack, counting: CountingTransport
) -> None:
    result = await counted_client.database.batch([])

    assert result.results == []
    assert counting.requests == []
