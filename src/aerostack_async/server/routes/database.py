"""Emulator routes: ``/db/query`` and ``/db/batch`` on the project's own SQLite database.

The project database is a separate file from the platform tables, so user SQL can never reach
users, cache or queue. Statements that would escape it or wedge the shared connection —
``ATTACH``/``DETACH`` and explicit transactions — are refused by an authorizer, and a statement
running longer than `STATEMENT_TIMEOUT_SECONDS` is interrupted.
"""

from __future__ import annotations

import base64
import sqlite3
import time
import weakref
from typing import Any

from .._app import Call, Operation, RouteModule
from .._errors import ApiError
from .._sqlite import SqliteStore
from .._validation import Body

MAX_BATCH_QUERIES = 25
STATEMENT_TIMEOUT_SECONDS = 30.0
_INT64_MIN, _INT64_MAX = -(2**63), 2**63 - 1
_REFUSED_ACTIONS = {
    sqlite3.SQLITE_ATTACH: "ATTACH",
    sqlite3.SQLITE_DETACH: "DETACH",
    sqlite3.SQLITE_TRANSACTION: "BEGIN/COMMIT/ROLLBACK",
    sqlite3.SQLITE_SAVEPOINT: "SAVEPOINT",
}


class _Guard:
    """Authorizer and progress handler for one connection, armed only around user SQL."""

    def __init__(self) -> None:
        self.armed = False
        self.deadline = 0.0
        self.refused: str | None = None

    def authorize(self, action: int, *_: object) -> int:
        if self.armed and action in _REFUSED_ACTIONS:
            self.refused = _REFUSED_ACTIONS[action]
            return sqlite3.SQLITE_DENY
        return sqlite3.SQLITE_OK

    def progress(self) -> int:
        # A non-zero return interrupts the running statement.
        return 1 if self.armed and time.monotonic() > self.deadline else 0


_guards: weakref.WeakKeyDictionary[SqliteStore, _Guard] = weakref.WeakKeyDictionary()


def _guard(store: SqliteStore, conn: sqlite3.Connection) -> _Guard:
    guard = _guards.get(store)
    if guard is None:
        guard = _Guard()
        conn.set_authorizer(guard.authorize)
        conn.set_progress_handler(guard.progress, 10_000)
        _guards[store] = guard
    return guard


class QueryFailed(Exception):
    """A statement failed; ``message`` is SQLite's own text."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def _column_value(value: Any) -> Any:
    # BLOBs have no JSON form: they are sent as base64 text.
    if isinstance(value, bytes):
        return base64.b64encode(value).decode("ascii")
    return value


def _execute(conn: sqlite3.Connection, guard: _Guard, sql: str, params: list[Any]) -> Any:
    """Run one statement; ``(rows, count)`` or `QueryFailed`."""
    guard.armed = True
    guard.refused = None
    guard.deadline = time.monotonic() + STATEMENT_TIMEOUT_SECONDS
    try:
        # The authorizer only runs when a statement is prepared; the trailing newline keeps user
        # SQL from ever matching (and reusing) the store's own cached BEGIN/COMMIT statements.
        cursor = conn.execute(sql + "\n", params)
        if cursor.description is None:
            rows: list[dict[str, Any]] = []
            count = max(cursor.rowcount, 0)
        else:
            names = [column[0] for column in cursor.description]
            rows = [
                {name: _column_value(value) for name, value in zip(names, row, strict=True)}
                for row in cursor.fetchall()
            ]
            count = len(rows)
        cursor.close()
    except (sqlite3.Error, sqlite3.Warning, ValueError, OverflowError) as exc:
        message = str(exc)
        if guard.refused is not None:
            message = f"{guard.refused} is not allowed in the project database ({message})"
        elif isinstance(exc, sqlite3.OperationalError) and message == "interrupted":
            message = f"Statement interrupted after {STATEMENT_TIMEOUT_SECONDS:g} s"
        raise QueryFailed(message) from None
    finally:
        guard.armed = False
    return rows, count


def _params(body: Body, value: Any, field: str) -> list[Any]:
    """Validate a ``params`` array: JSON scalars only, integers within SQLite's 64-bit range."""
    if value is None:
        return []
    if not isinstance(value, list):
        body.error(field, "Expected array")
        return []
    for index, item in enumerate(value):
        if isinstance(item, (dict, list)):
            body.error(
                f"{field}[{index}]", "Must be a string, number, boolean or null (not object/array)"
            )
        elif isinstance(item, int) and not _INT64_MIN <= item <= _INT64_MAX:
            body.error(f"{field}[{index}]", "Integer outside the 64-bit range")
    return value


def _failure(message: str) -> ApiError:
    return ApiError(400, "DB_QUERY_FAILED", message, {"sqlite_error": message})


async def query(call: Call) -> Any:
    """Run one SQL statement with positional ``?`` parameters."""
    body = call.body
    sql = body.string("sql", required=True)
    params = _params(body, body.data.get("params"), "params")
    body.check()
    store = call.state.database

    def run(conn: sqlite3.Connection) -> Any:
        return _execute(conn, _guard(store, conn), sql, params)

    try:
        rows, count = await store.run(run)
    except QueryFailed as exc:
        raise _failure(exc.message) from None
    return {"results": rows, "count": count}


class _BatchFailed(Exception):
    def __init__(self, outcomes: list[dict[str, Any]]) -> None:
        super().__init__("batch failed")
        self.outcomes = outcomes


async def batch(call: Call) -> Any:
    """Run up to 25 statements in order in one transaction: all persist, or none do.

    The batch stops at the first failing statement; it and every later one report
    ``success: false`` (later ones with ``error: "Not run: …"``), and the whole transaction is
    rolled back. The HTTP status stays 200 with a top-level ``success: false``.
    """
    body = call.body
    queries = body.array("queries", required=True, max_items=MAX_BATCH_QUERIES)
    statements: list[tuple[Any, list[Any]]] = []
    for index, item in enumerate(queries or []):
        field = f"queries[{index}]"
        if not isinstance(item, dict):
            body.error(field, "Expected object with sql and params")
            continue
        sql = item.get("sql")
        if not isinstance(sql, str):
            body.error(f"{field}.sql", "Required" if sql is None else "Expected string")
        statements.append((sql, _params(body, item.get("params"), f"{field}.params")))
    body.check()
    store = call.state.database

    def run(conn: sqlite3.Connection) -> list[dict[str, Any]]:
        guard = _guard(store, conn)
        outcomes: list[dict[str, Any]] = []
        for index, (sql, params) in enumerate(statements):
            try:
                rows, count = _execute(conn, guard, sql, params)
            except QueryFailed as exc:
                outcomes.append({"results": [], "success": False, "error": exc.message})
                skipped = f"Not run: query {index} failed and the batch was rolled back"
                outcomes.extend(
                    {"results": [], "success": False, "error": skipped}
                    for _ in statements[index + 1 :]
                )
                raise _BatchFailed(outcomes) from None
            outcomes.append({"results": rows, "success": True, "count": count})
        return outcomes

    try:
        outcomes = await store.transaction(run)
    except _BatchFailed as failed:
        return {"results": failed.outcomes, "success": False}
    return {"results": outcomes, "success": True}


MODULE = RouteModule(
    operations=[
        Operation("/db/query", query, secret_only=True),
        Operation("/db/batch", batch, secret_only=True),
    ],
)
