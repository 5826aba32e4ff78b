"""Conformance (raw HTTP): /db/query and /db/batch on the project database."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from aerostack_async.testing import Emulator


@pytest.fixture
def http(emulator: Emulator) -> Iterator[httpx.Client]:
    with httpx.Client(
        base_url=emulator.base_url, headers={"X-Aerostack-Key": emulator.api_key}, timeout=30
    ) as client:
        yield client


@pytest.fixture
def table(http: httpx.Client) -> str:
    name = f"t_{uuid.uuid4().hex[:12]}"
    response = query(http, f"CREATE TABLE {name} (id INTEGER PRIMARY KEY, name TEXT, score REAL)")
    assert response.status_code == 200
    return name


def query(http: httpx.Client, sql: str, params: list[Any] | None = None) -> httpx.Response:
    body: dict[str, Any] = {"sql": sql}
    if params is not None:
        body["params"] = params
    return http.post("/db/query", json=body)


def rows(http: httpx.Client, table: str) -> list[dict[str, Any]]:
    result: list[dict[str, Any]] = query(http, f"SELECT * FROM {table} ORDER BY id").json()[
        "results"
    ]
    return result


def test_select_returns_rows_as_objects_and_their_count(http: httpx.Client, table: str) -> None:
    query(http, f"INSERT INTO {table} (name, score) VALUES (?, ?), (?, ?)", ["a", 1.5, "b", None])
    response = query(http, f"SELECT name, score FROM {table} ORDER BY id")
    assert response.status_code == 200
    assert response.json() == {
        "results": [{"name": "a", "score": 1.5}, {"name": "b", "score": None}],
        "count": 2,
    }


def test_count_of_a_write_is_the_number_of_rows_changed(http: httpx.Client, table: str) -> None:
    query(http, f"INSERT INTO {table} (name) VALUES ('a'), ('b'), ('c')")
    response = query(http, f"UPDATE {table} SET score = 1 WHERE name != ?", ["a"])
    assert response.json() == {"results": [], "count": 2}


def test_returning_clause_gives_rows(http: httpx.Client, table: str) -> None:
    response = query(http, f"INSERT INTO {table} (name) VALUES (?) RETURNING id, name", ["x"])
    assert response.json() == {"results": [{"id": 1, "name": "x"}], "count": 1}


def test_booleans_bind_as_integers(http: httpx.Client) -> None:
    assert query(http, "SELECT ? AS t, ? AS f", [True, False]).json()["results"] == [
        {"t": 1, "f": 0}
    ]


def test_blobs_come_back_as_base64(http: httpx.Client) -> None:
    assert query(http, "SELECT x'00ff10' AS b").json()["results"] == [{"b": "AP8Q"}]


def test_sql_error_is_400_db_query_failed_with_sqlite_message(http: httpx.Client) -> None:
    response = query(http, "SELEC 1")
    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "DB_QUERY_FAILED"
    assert "syntax error" in body["details"]["sqlite_error"]


def test_missing_table_is_db_query_failed(http: httpx.Client) -> None:
    response = query(http, "SELECT * FROM no_such_table_here")
    assert response.status_code == 400
    assert "no such table" in response.json()["details"]["sqlite_error"]


def test_two_statements_in_one_query_are_refused(http: httpx.Client, table: str) -> None:
    response = query(http, f"INSERT INTO {table} (name) VALUES ('a'); DROP TABLE {table}")
    assert response.status_code == 400
    assert response.json()["code"] == "DB_QUERY_FAILED"
    assert rows(http, table) == []


@pytest.mark.parametrize("sql", ["BEGIN", "BEGIN IMMEDIATE", "COMMIT", "SAVEPOINT s"])
def test_transaction_statements_are_refused(http: httpx.Client, sql: str) -> None:
    response = query(http, sql)
    assert response.status_code == 400
    assert response.json()["code"] == "DB_QUERY_FAILED"


def test_attach_is_refused(http: httpx.Client, tmp_path: Any) -> None:
    response = query(http, "ATTACH DATABASE ? AS other", [str(tmp_path / "x.db")])
    assert response.status_code == 400
    assert "ATTACH" in response.json()["details"]["sqlite_error"]
    assert not (tmp_path / "x.db").exists()


def test_object_param_is_400_validation_error(http: httpx.Client) -> None:
    response = query(http, "SELECT ?", [{"a": 1}])
    assert response.status_code == 400
    assert response.json()["code"] == "VALIDATION_ERROR"
    assert list(response.json()["details"]["fieldErrors"]) == ["params[0]"]


def test_integer_param_beyond_64_bits_is_400_validation_error(http: httpx.Client) -> None:
    response = query(http, "SELECT ?", [1, 2**64])
    assert response.status_code == 400
    assert list(response.json()["details"]["fieldErrors"]) == ["params[1]"]


def test_missing_sql_is_400_validation_error(http: httpx.Client) -> None:
    response = http.post("/db/query", json={"params": "x"})
    assert response.status_code == 400
    assert set(response.json()["details"]["fieldErrors"]) == {"sql", "params"}


def test_batch_runs_every_query_and_reports_each(http: httpx.Client, table: str) -> None:
    response = http.post(
        "/db/batch",
        json={
            "queries": [
                {"sql": f"INSERT INTO {table} (name) VALUES (?)", "params": ["a"]},
                {"sql": f"INSERT INTO {table} (name) VALUES ('b')"},
                {"sql": f"SELECT name FROM {table} ORDER BY id"},
            ]
        },
    )
    assert response.status_code == 200
    body = response.json()
    assert body["success"] is True
    assert [result["success"] for result in body["results"]] == [True, True, True]
    assert body["results"][2]["results"] == [{"name": "a"}, {"name": "b"}]


def test_failed_batch_persists_nothing_and_reports_the_error(
    http: httpx.Client, table: str
) -> None:
    response = http.post(
        "/db/batch",
        json={
            "queries": [
                {"sql": f"INSERT INTO {table} (name) VALUES ('a')"},
                {"sql": f"INSERT INTO {table} (nope) VALUES ('b')"},
                {"sql": f"INSERT INTO {table} (name) VALUES ('c')"},
            ]
        },
    )
    assert response.status_code == 200
    body = response.json()
    assert body["success"] is False
    assert [result["success"] for result in body["results"]] == [True, False, False]
    assert "nope" in body["results"][1]["error"]
    assert body["results"][2]["error"].startswith("Not run")
    assert rows(http, table) == []


def test_batch_of_more_than_25_queries_is_400(http: httpx.Client) -> None:
    response = http.post("/db/batch", json={"queries": [{"sql": "SELECT 1"}] * 26})
    assert response.status_code == 400
    assert list(response.json()["details"]["fieldErrors"]) == ["queries"]


def test_batch_query_without_sql_is_400_on_that_query(http: httpx.Client) -> None:
    response = http.post("/db/batch", json={"queries": [{"sql": "SELECT 1"}, {"params": []}]})
    assert response.status_code == 400
    assert list(response.json()["details"]["fieldErrors"]) == ["queries[1].sql"]


def test_transaction_statement_inside_a_batch_fails_it_cleanly(
    http: httpx.Client, table: str
) -> None:
    response = http.post(
        "/db/batch",
        json={"queries": [{"sql": f"INSERT INTO {table} (name) VALUES ('a')"}, {"sql": "COMMIT"}]},
    )
    assert response.json()["success"] is False
    assert rows(http, table) == []
    assert query(http, "SELECT 1 AS one").json()["results"] == [{"one": 1}]
