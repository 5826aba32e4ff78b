"""Wire types of ``/db/*``: a query and a batch of queries."""

from __future__ import annotations

from typing import Any, Generic, TypeVar

from ._base import Model

__all__ = [
    "BatchItemResult",
    "BatchRequest",
    "BatchResult",
    "Query",
    "QueryRequest",
    "QueryResult",
]

RowT = TypeVar("RowT")


class QueryRequest(Model, kw_only=True):
    """``POST /db/query``: SQL with positional ``?`` parameters."""

    sql: str
    params: list[Any] | None = None


class QueryResult(Model, Generic[RowT], kw_only=True):
    """Rows (dicts, or the ``row_type`` Struct) and ``count``: rows returned or changed."""

    results: list[RowT]
    count: int = 0


class Query(Model, kw_only=True):
    """One statement of a batch."""

    sql: str
    params: list[Any] | None = None


class BatchRequest(Model, kw_only=True):
    """``POST /db/batch``: up to 25 statements run in order, in one transaction."""

    queries: list[Query]


class BatchItemResult(Model, kw_only=True):
    """The outcome of one statement of a batch."""

    results: list[dict[str, Any]] = []
    success: bool = True
    error: str | None = None


class BatchResult(Model, kw_only=True):
    """Each statement's outcome; ``success`` only if all succeeded."""

    results: list[BatchItemResult]
    success: bool
