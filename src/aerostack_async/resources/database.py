"""``client.database``: SQL on the project's SQLite database."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, TypeVar, overload

from .._options import CallOptions, Unpack
from ..models._base import decoder_for
from ..models.database import BatchRequest, BatchResult, Query, QueryRequest, QueryResult
from ._base import Resource, check_list, check_str, convert, encode_body

__all__ = ["MAX_BATCH_QUERIES", "Database"]

MAX_BATCH_QUERIES = 25
RowT = TypeVar("RowT")
_ROWS = decoder_for(QueryResult[dict[str, Any]])
_BATCH = decoder_for(BatchResult)


def _params(value: object) -> list[Any] | None:
    return None if value is None else check_list("params", value)


def _query(index: int, value: object) -> Query:
    name = f"queries[{index}]"
    if isinstance(value, str):
        return Query(sql=check_str(name, value))
    query = convert(name, value, Query)
    check_str(f"{name}.sql", query.sql)
    if query.params is not None:
        check_list(f"{name}.params", query.params)
    return query


class Database(Resource):
    """Run SQL with positional ``?`` parameters; rows come back as dicts or as your Struct."""

    __slots__ = ()

    @overload
    async def query(
        self,
        sql: str,
        params: Sequence[Any] | None = None,
        *,
        row_type: None = None,
        **options: Unpack[CallOptions],
    ) -> QueryResult[dict[str, Any]]: ...

    @overload
    async def query(
        self,
        sql: str,
        params: Sequence[Any] | None = None,
        *,
        row_type: type[RowT],
        **options: Unpack[CallOptions],
    ) -> QueryResult[RowT]: ...

    async def query(
        self,
        sql: str,
        params: Sequence[Any] | None = None,
        *,
        row_type: Any = None,
        **options: Unpack[CallOptions],
    ) -> QueryResult[Any]:
        """Run one statement; ``count`` is rows returned, or rows changed by a write.

        ``row_type`` (a msgspec Struct, a dataclass, a TypedDict…) decodes each row; a row that
        does not fit raises ``ResponseValidationError`` with the JSON path of the bad column.

        Example::

            class User(msgspec.Struct):
                id: int
                name: str

            result = await client.database.query("SELECT id, name FROM users", row_type=User)
            for user in result.results: ...

        A failing statement raises ``BadRequestError`` with code ``DB_QUERY_FAILED``. Every
        call carries an Idempotency-Key (a statement may write), so a retry never runs it twice.
        """
        body = encode_body(QueryRequest(sql=check_str("sql", sql), params=_params(params)))
        decoder = _ROWS if row_type is None else decoder_for(QueryResult[row_type])
        return await self._transport.request(
            "POST", "/db/query", body, decoder, mutating=True, options=options
        )

    async def batch(
        self,
        queries: Sequence[Query | Mapping[str, Any] | str],
        **options: Unpack[CallOptions],
    ) -> BatchResult:
        """Run up to 25 statements in order, in one transaction (all or nothing).

        Each is a :class:`~aerostack_async.models.Query`, a ``{"sql", "params"}`` dict or a
        plain SQL string. ``success`` is True only if every statement succeeded.
        """
        items = check_list("queries", queries, min_items=1, max_items=MAX_BATCH_QUERIES)
        body = encode_body(BatchRequest(queries=[_query(i, q) for i, q in enumerate(items)]))
        return await self._transport.request(
            "POST", "/db/batch", body, _BATCH, mutating=True, options=options
        )
