"""client.database against the emulator."""

from __future__ import annotations

import msgspec
import pytest

from aerostack_async import AsyncAerostack
from aerostack_async.errors import (
    BadRequestError,
    BatchError,
    InvalidRequestError,
    ResponseValidationError,
)
from aerostack_async.models import Query

pytestmark = pytest.mark.anyio


class Person(msgspec.Struct):
    id: int
    name: str


async def _table(client: AsyncAerostack, unique: str) -> str:
    await client.database.query(f"CREATE TABLE {unique} (id INTEGER PRIMARY KEY, name TEXT)")
    return unique


async def test_query_returns_rows_as_dicts(client: AsyncAerostack, unique: str) -> None:
    table = await _table(client, unique)
    await client.database.query(f"INSERT INTO {table} VALUES (?, ?), (?, ?)", [1, "a", 2, "b"])
    result = await client.database.query(f"SELECT id, name FROM {table} ORDER BY id")
    assert result.results == [{"id": 1, "name": "a"}, {"id": 2, "name": "b"}]
    assert result.count == 2


async def test_a_write_counts_the_rows_changed(client: AsyncAerostack, unique: str) -> None:
    table = await _table(client, unique)
    result = await client.database.query(
        f"INSERT INTO {table} (name) VALUES (?), (?), (?)", ("x", "y", "z")
    )
    assert result.count == 3


async def test_row_type_decodes_rows_into_the_struct(client: AsyncAerostack, unique: str) -> None:
    table = await _table(client, unique)
    await client.database.query(f"INSERT INTO {table} VALUES (7, 'Ada')")
    result = await client.database.query(f"SELECT * FROM {table}", row_type=Person)
    assert result.results == [Person(id=7, name="Ada")]


async def test_a_row_that_does_not_fit_row_type_names_the_column(
    client: AsyncAerostack, unique: str
) -> None:
    with pytest.raises(ResponseValidationError) as caught:
        await client.database.query("SELECT 'seven' AS id, 'Ada' AS name", row_type=Person)
    assert caught.value.path == "$.results[0].id"


async def test_a_failing_statement_raises_db_query_failed(client: AsyncAerostack) -> None:
    with pytest.raises(BadRequestError) as caught:
        await client.database.query("SELECT * FROM no_such_table")
    assert caught.value.code == "DB_QUERY_FAILED"
    assert caught.value.status_code == 400
    assert caught.value.details is not None


async def test_batch_runs_statements_in_order(client: AsyncAerostack, unique: str) -> None:
    table = await _table(client, unique)
    result = await client.database.batch(
        [
            Query(sql=f"INSERT INTO {table} VALUES (1, 'a')"),
            {"sql": f"INSERT INTO {table} VALUES (?, ?)", "params": [2, "b"]},
            f"SELECT COUNT(*) AS n FROM {table}",
        ]
    )
    assert result.success
    assert result.results[2].results == [{"n": 2}]


async def test_a_failed_batch_changes_nothing(client: AsyncAerostack, unique: str) -> None:
    table = await _table(client, unique)
    with pytest.raises(BatchError) as caught:
        await client.database.batch(
            [f"INSERT INTO {table} VALUES (1, 'a')", "SELECT * FROM no_such_table"]
        )
    assert isinstance(caught.value.cause, BadRequestError)
    assert caught.value.cause.code == "DB_QUERY_FAILED"
    count = await client.database.query(f"SELECT COUNT(*) AS n FROM {table}")
    assert count.results == [{"n": 0}]


async def test_batch_of_more_than_25_queries_is_refused(client: AsyncAerostack) -> None:
    with pytest.raises(InvalidRequestError, match="at most 25"):
        await client.database.batch(["SELECT 1"] * 26)


async def test_empty_sql_is_refused(client: AsyncAerostack) -> None:
    with pytest.raises(InvalidRequestError):
        await client.database.query("")


async def test_a_batch_item_of_the_wrong_shape_is_refused(client: AsyncAerostack) -> None:
    with pytest.raises(InvalidRequestError, match=r"queries\[0\]"):
        await client.database.batch([{"sql": 1}])
