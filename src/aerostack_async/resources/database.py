"""``client.database``: SQL on the project's SQLite database."""

from __future__ import annotations

from collections.abc import AsyncIterable, Awaitable, Callable, Iterable, Mapping, Sequence
from typing import Any, Literal, TypeVar, overload

from .._batching import (
    check_items,
    client_concurrency,
    per_call_options,
    run_prepared,
    stream_prepared,
)
from .._constants import DATABASE_MAX_BATCH_QUERIES
from .._options import CallOptions, Unpack
from ..batching import (
    ChunkItemError,
    Concurrency,
    ProgressCallback,
    ResultStream,
    StreamProgressCallback,
)
from ..errors import BadRequestError, InvalidRequestError
from ..models._base import decoder_for
from ..models.database import (
    BatchItemResult,
    BatchRequest,
    BatchResult,
    Query,
    QueryRequest,
    QueryResult,
)
from ._base import Resource, check_sql_params, check_str, convert, encode_body

__all__ = ["MAX_BATCH_QUERIES", "Database"]

MAX_BATCH_QUERIES = DATABASE_MAX_BATCH_QUERIES
RowT = TypeVar("RowT")
_ROWS = decoder_for(QueryResult[dict[str, Any]])
_BATCH = decoder_for(BatchResult)


def _params(value: object) -> list[Any] | None:
    return None if value is None else check_sql_params("params", value)


def _query(value: object) -> Query:
    name = "query"
    if isinstance(value, str):
        return Query(sql=check_str(name, value))
    query = convert(name, value, Query)
    check_str(f"{name}.sql", query.sql)
    if query.params is not None:
        check_sql_params(f"{name}.params", query.params)
    return query


def _failed_statement(answer: BatchResult) -> Exception:
    """The error of a rolled-back batch, pointing at the statement that failed."""
    for offset, outcome in enumerate(answer.results):
        if not outcome.success:
            error = BadRequestError(
                outcome.error or "query failed", code="DB_QUERY_FAILED", status_code=400
            )
            return ChunkItemError(offset, error)
    return BadRequestError(
        "the batch failed and was rolled back", code="DB_QUERY_FAILED", status_code=400
    )


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

        Example:
            ```python
            class User(msgspec.Struct):
                id: int
                name: str

            result = await client.database.query("SELECT id, name FROM users", row_type=User)
            for user in result.results: ...
            ```

        A failing statement raises ``BadRequestError`` with code ``DB_QUERY_FAILED``. Every
        call carries an Idempotency-Key (a statement may write), so a retry never runs it twice.
        """
        body = encode_body(
            QueryRequest(sql=check_str("sql", sql), params=_params(params)), floats_checked=True
        )
        decoder = _ROWS if row_type is None else decoder_for(QueryResult[row_type])
        return await self._transport.request(
            "POST", "/db/query", body, decoder, mutating=True, options=options
        )

    @overload
    async def batch(
        self,
        queries: Iterable[Query | Mapping[str, Any] | str],
        *,
        atomic: bool = True,
        concurrency: Concurrency | None = None,
        on_progress: ProgressCallback | None = None,
        return_exceptions: Literal[False] = False,
        **options: Unpack[CallOptions],
    ) -> BatchResult: ...
    @overload
    async def batch(
        self,
        queries: Iterable[Query | Mapping[str, Any] | str],
        *,
        atomic: bool = True,
        concurrency: Concurrency | None = None,
        on_progress: ProgressCallback | None = None,
        return_exceptions: Literal[True],
        **options: Unpack[CallOptions],
    ) -> list[BatchItemResult | Exception]: ...
    async def batch(
        self,
        queries: Iterable[Query | Mapping[str, Any] | str],
        *,
        atomic: bool = True,
        concurrency: Concurrency | None = None,
        on_progress: ProgressCallback | None = None,
        return_exceptions: bool = False,
        **options: Unpack[CallOptions],
    ) -> BatchResult | list[BatchItemResult | Exception]:
        """Run statements in order; each is a `Query`, a
        ``{"sql", "params"}`` dict or a plain SQL string.

        ``atomic=True`` (the default): at most 25 statements, sent as one ``/db/batch`` call that
        is one transaction, so all of them persist or none does. More than 25 raise
        ``InvalidRequestError`` before anything is sent.

        ``atomic=False``: any number, 25 per call. Each call is its own transaction, so a failure
        rolls back only its own 25 and leaves earlier calls committed. Calls run one after
        another in order unless ``concurrency`` says otherwise (later statements may depend on
        earlier ones).

        A failing statement raises ``BatchError`` with ``index`` and ``item`` naming it and a
        ``BadRequestError`` (code ``DB_QUERY_FAILED``, the database's message) as the cause.
        With ``return_exceptions=True`` the result is one slot per statement, and every
        statement of a rolled-back call gets that error. See ``docs/batching.md``.
        """
        call_options = per_call_options(options)
        listed = list(check_items("queries", queries))
        if atomic and len(listed) > MAX_BATCH_QUERIES:
            raise InvalidRequestError(
                f"database.batch runs at most {MAX_BATCH_QUERIES} queries in one transaction, "
                f"got {len(listed)}; pass atomic=False to run them in transactions of "
                f"{MAX_BATCH_QUERIES}, one after another"
            )

        results = await run_prepared(
            self._batch_chunk(call_options),
            listed,
            _query,
            name="queries",
            chunk_size=MAX_BATCH_QUERIES,
            concurrency=1
            if concurrency is None
            else client_concurrency(concurrency, self._transport.limits),
            return_exceptions=return_exceptions,
            on_progress=on_progress,
        )
        if return_exceptions:
            return results
        return BatchResult(results=results, success=True)

    def _batch_chunk(
        self, call_options: CallOptions
    ) -> Callable[[list[Query]], Awaitable[list[BatchItemResult]]]:
        async def chunk(checked: list[Query]) -> list[BatchItemResult]:
            body = encode_body(BatchRequest(queries=checked), floats_checked=True)
            answer: BatchResult = await self._transport.request(
                "POST", "/db/batch", body, _BATCH, mutating=True, options=call_options
            )
            if not answer.success:
                raise _failed_statement(answer)
            return answer.results

        return chunk

    @overload
    def batch_stream(
        self,
        queries: Iterable[Query | Mapping[str, Any] | str]
        | AsyncIterable[Query | Mapping[str, Any] | str],
        *,
        concurrency: Concurrency | None = None,
        on_progress: StreamProgressCallback | None = None,
        return_exceptions: Literal[False] = False,
        read_ahead: int | None = None,
        **options: Unpack[CallOptions],
    ) -> ResultStream[BatchItemResult]: ...
    @overload
    def batch_stream(
        self,
        queries: Iterable[Query | Mapping[str, Any] | str]
        | AsyncIterable[Query | Mapping[str, Any] | str],
        *,
        concurrency: Concurrency | None = None,
        on_progress: StreamProgressCallback | None = None,
        return_exceptions: bool,
        read_ahead: int | None = None,
        **options: Unpack[CallOptions],
    ) -> ResultStream[BatchItemResult | Exception]: ...
    def batch_stream(
        self,
        queries: Iterable[Query | Mapping[str, Any] | str]
        | AsyncIterable[Query | Mapping[str, Any] | str],
        *,
        concurrency: Concurrency | None = None,
        on_progress: StreamProgressCallback | None = None,
        return_exceptions: bool = False,
        read_ahead: int | None = None,
        **options: Unpack[CallOptions],
    ) -> ResultStream[BatchItemResult] | ResultStream[BatchItemResult | Exception]:
        """`batch()` with ``atomic=False`` as a stream: statements read lazily, one
        `BatchItemResult` yielded per statement, in order.

        Statements go in transactions of up to 25, **each its own transaction**, one after
        another unless ``concurrency`` says otherwise (see `batch()`). A transaction takes
        the statements waiting when it starts, so a slow input makes smaller transactions;
        use `batch()` when statements must commit together. Use it in ``async with``:

            async with client.database.batch_stream(inserts()) as results:
                async for result in results:
                    ...

        A failing statement stops the stream: every statement of earlier transactions has been
        yielded, and the loop raises ``BatchError`` naming that statement (its transaction was
        rolled back). See `ResultStream`.
        """
        return stream_prepared(
            self._batch_chunk(per_call_options(options)),
            queries,
            _query,
            name="queries",
            chunk_size=MAX_BATCH_QUERIES,
            concurrency=1
            if concurrency is None
            else client_concurrency(concurrency, self._transport.limits),
            return_exceptions=return_exceptions,
            on_progress=on_progress,
            read_ahead=read_ahead,
        )
