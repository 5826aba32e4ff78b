"""``client.cache``: a project-scoped key-value cache with TTLs."""

from __future__ import annotations

from collections.abc import AsyncIterable, Awaitable, Callable, Iterable, Mapping
from typing import Any, Literal, overload

import msgspec

from .._batching import (
    check_items,
    client_concurrency,
    per_call_options,
    run_prepared,
    stream_prepared,
)
from .._constants import (
    CACHE_MAX_DELETE_MANY,
    CACHE_MAX_GET_MANY,
    CACHE_MAX_KEY_BYTES,
    CACHE_MAX_LIST_LIMIT,
    CACHE_MAX_SET_MANY,
)
from .._options import CallOptions, Unpack
from ..batching import (
    Concurrency,
    ProgressCallback,
    ResultStream,
    StreamProgressCallback,
)
from ..errors import InvalidRequestError, ResponseValidationError
from ..models import Success
from ..models._base import decoder_for
from ..models.cache import (
    CacheDeleteManyRequest,
    CacheDeleteManyResult,
    CacheDeleteResult,
    CacheEntry,
    CacheExpireRequest,
    CacheFlushRequest,
    CacheFlushResult,
    CacheGetManyRequest,
    CacheGetManyResult,
    CacheGetResult,
    CacheIncrementRequest,
    CacheIncrementResult,
    CacheKeyInfo,
    CacheKeyRequest,
    CacheKeysRequest,
    CacheKeysResult,
    CacheListPage,
    CacheListRequest,
    CacheSetManyRequest,
    CacheSetManyResult,
    CacheSetRequest,
    CacheValue,
)
from ._base import (
    Pages,
    Resource,
    check_int,
    check_optional_int,
    check_optional_str,
    check_str,
    convert,
    encode_body,
)

__all__ = ["MAX_KEY_BYTES", "Cache"]

MAX_KEY_BYTES = CACHE_MAX_KEY_BYTES
MAX_GET_MANY = CACHE_MAX_GET_MANY
MAX_SET_MANY = CACHE_MAX_SET_MANY
MAX_DELETE_MANY = CACHE_MAX_DELETE_MANY
MAX_LIST_LIMIT = CACHE_MAX_LIST_LIMIT
_INT64 = 2**63 - 1

_GET = decoder_for(CacheGetResult)
_SUCCESS = decoder_for(Success)
_DELETE = decoder_for(CacheDeleteResult)
_GET_MANY = decoder_for(CacheGetManyResult)
_SET_MANY = decoder_for(CacheSetManyResult)
_DELETE_MANY = decoder_for(CacheDeleteManyResult)
_INCREMENT = decoder_for(CacheIncrementResult)
_LIST = decoder_for(CacheListPage)
_KEYS = decoder_for(CacheKeysResult)
_FLUSH = decoder_for(CacheFlushResult)


def _key(value: object, name: str = "key") -> str:
    return check_str(name, value, max_bytes=MAX_KEY_BYTES)


def _ttl(value: object, name: str = "ttl") -> int | None:
    return check_optional_int(name, value, minimum=0, maximum=_INT64)


def _entry(item: object, default_ttl: int | None) -> CacheEntry:
    """A ``set_many`` item as a checked entry whose value is already JSON (encoded once)."""
    if isinstance(item, tuple):
        if len(item) != 2:
            raise InvalidRequestError("an entry pair must be (key, value)")
        entry = CacheEntry(key=item[0], value=item[1])
    else:
        entry = convert("entry", item, CacheEntry)
    ttl = default_ttl if entry.ttl is None else _ttl(entry.ttl)
    return CacheEntry(key=_key(entry.key), value=msgspec.Raw(encode_body(entry.value)), ttl=ttl)


def _prefix(value: object) -> str | None:
    return check_optional_str("prefix", value, empty=True, max_bytes=MAX_KEY_BYTES)


class Cache(Resource):
    """Get, set and expire JSON values by key (keys are strings of at most 512 bytes)."""

    __slots__ = ()

    async def get(self, key: str, **options: Unpack[CallOptions]) -> CacheGetResult:
        """The value under ``key`` (``exists`` is False and ``value`` None if there is none)."""
        body = encode_body(CacheKeyRequest(key=_key(key)))
        return await self._transport.request(
            "POST", "/cache/get", body, _GET, mutating=False, options=options
        )

    async def set(
        self, key: str, value: Any, *, ttl: int | None = None, **options: Unpack[CallOptions]
    ) -> Success:
        """Store any JSON ``value`` under ``key``, expiring after ``ttl`` s (None or 0: never)."""
        body = encode_body(CacheSetRequest(key=_key(key), value=value, ttl=_ttl(ttl)))
        return await self._transport.request(
            "POST", "/cache/set", body, _SUCCESS, mutating=True, options=options
        )

    async def delete(self, key: str, **options: Unpack[CallOptions]) -> CacheDeleteResult:
        """Remove ``key``; succeeds whether or not it existed."""
        body = encode_body(CacheKeyRequest(key=_key(key)))
        return await self._transport.request(
            "POST", "/cache/delete", body, _DELETE, mutating=True, options=options
        )

    @overload
    async def get_many(
        self,
        keys: Iterable[str],
        *,
        concurrency: Concurrency | None = None,
        on_progress: ProgressCallback | None = None,
        return_exceptions: Literal[False] = False,
        **options: Unpack[CallOptions],
    ) -> list[CacheValue]: ...
    @overload
    async def get_many(
        self,
        keys: Iterable[str],
        *,
        concurrency: Concurrency | None = None,
        on_progress: ProgressCallback | None = None,
        return_exceptions: bool,
        **options: Unpack[CallOptions],
    ) -> list[CacheValue | Exception]: ...
    async def get_many(
        self,
        keys: Iterable[str],
        *,
        concurrency: Concurrency | None = None,
        on_progress: ProgressCallback | None = None,
        return_exceptions: bool = False,
        **options: Unpack[CallOptions],
    ) -> list[CacheValue] | list[CacheValue | Exception]:
        """Any number of values, one `CacheValue` per key in the order of ``keys``.

        A missing key has ``exists`` False and ``value`` None. Keys go 100 per ``/cache/getMany``
        call, several calls at once (``concurrency``, default the pool size). ``on_progress``
        and ``return_exceptions`` work as in `map_concurrently()`;
        see ``docs/batching.md``.
        """
        return await run_prepared(
            self._get_chunk(per_call_options(options)),
            check_items("keys", keys),
            _key,
            name="keys",
            chunk_size=MAX_GET_MANY,
            concurrency=client_concurrency(concurrency, self._transport.limits),
            return_exceptions=return_exceptions,
            on_progress=on_progress,
        )

    def _get_chunk(
        self, call_options: CallOptions
    ) -> Callable[[list[str]], Awaitable[list[CacheValue]]]:
        async def chunk(checked: list[str]) -> list[CacheValue]:
            body = encode_body(CacheGetManyRequest(keys=checked))
            answer: CacheGetManyResult = await self._transport.request(
                "POST", "/cache/getMany", body, _GET_MANY, mutating=False, options=call_options
            )
            # Results are matched to keys by position, so a reordered answer must not pass.
            if [value.key for value in answer.results] != checked:
                raise ResponseValidationError(
                    "/cache/getMany answered for other keys than it was asked", path="$.results"
                )
            return answer.results

        return chunk

    @overload
    def get_many_stream(
        self,
        keys: Iterable[str] | AsyncIterable[str],
        *,
        concurrency: Concurrency | None = None,
        on_progress: StreamProgressCallback | None = None,
        return_exceptions: Literal[False] = False,
        read_ahead: int | None = None,
        **options: Unpack[CallOptions],
    ) -> ResultStream[CacheValue]: ...
    @overload
    def get_many_stream(
        self,
        keys: Iterable[str] | AsyncIterable[str],
        *,
        concurrency: Concurrency | None = None,
        on_progress: StreamProgressCallback | None = None,
        return_exceptions: bool,
        read_ahead: int | None = None,
        **options: Unpack[CallOptions],
    ) -> ResultStream[CacheValue | Exception]: ...
    def get_many_stream(
        self,
        keys: Iterable[str] | AsyncIterable[str],
        *,
        concurrency: Concurrency | None = None,
        on_progress: StreamProgressCallback | None = None,
        return_exceptions: bool = False,
        read_ahead: int | None = None,
        **options: Unpack[CallOptions],
    ) -> ResultStream[CacheValue] | ResultStream[CacheValue | Exception]:
        """`get_many()` as a stream: keys read lazily, values yielded in key order.

        ``keys`` may be any iterable or async iterable (a generator, a file, a cursor), of any
        length; memory stays flat. Use it in ``async with``:

            async with client.cache.get_many_stream(keys_from_file()) as entries:
                async for entry in entries:
                    print(entry.key, entry.value)

        Leaving the block early cancels the calls in flight. ``read_ahead`` bounds the keys read
        but not yet yielded (default: twice ``concurrency`` chunks of 100). Failures and
        progress: see `ResultStream` and ``docs/batching.md``.
        """
        return stream_prepared(
            self._get_chunk(per_call_options(options)),
            keys,
            _key,
            name="keys",
            chunk_size=MAX_GET_MANY,
            concurrency=client_concurrency(concurrency, self._transport.limits),
            return_exceptions=return_exceptions,
            on_progress=on_progress,
            read_ahead=read_ahead,
        )

    @overload
    async def set_many(
        self,
        entries: Mapping[str, Any] | Iterable[CacheEntry | Mapping[str, Any] | tuple[str, Any]],
        *,
        ttl: int | None = None,
        concurrency: Concurrency | None = None,
        on_progress: ProgressCallback | None = None,
        return_exceptions: Literal[False] = False,
        **options: Unpack[CallOptions],
    ) -> CacheSetManyResult: ...
    @overload
    async def set_many(
        self,
        entries: Mapping[str, Any] | Iterable[CacheEntry | Mapping[str, Any] | tuple[str, Any]],
        *,
        ttl: int | None = None,
        concurrency: Concurrency | None = None,
        on_progress: ProgressCallback | None = None,
        return_exceptions: Literal[True],
        **options: Unpack[CallOptions],
    ) -> list[Exception | None]: ...
    async def set_many(
        self,
        entries: Mapping[str, Any] | Iterable[CacheEntry | Mapping[str, Any] | tuple[str, Any]],
        *,
        ttl: int | None = None,
        concurrency: Concurrency | None = None,
        on_progress: ProgressCallback | None = None,
        return_exceptions: bool = False,
        **options: Unpack[CallOptions],
    ) -> CacheSetManyResult | list[Exception | None]:
        """Store any number of entries: a ``{key: value}`` mapping, or ``CacheEntry`` objects,
        ``{"key", "value", "ttl"?}`` dicts or ``(key, value)`` pairs.

        ``ttl`` applies to entries that do not carry their own. Entries go 100 per
        ``/cache/setMany`` call (each call all-or-nothing), several at once; the result counts
        the entries written. With ``return_exceptions=True`` the result is one slot per entry:
        None once written, or the exception that stopped it. See ``docs/batching.md``.
        """
        default_ttl = _ttl(ttl)
        items = entries.items() if isinstance(entries, Mapping) else check_items("entries", entries)
        written = await run_prepared(
            self._set_chunk(per_call_options(options), lambda checked: [1] * len(checked)),
            items,
            lambda entry: _entry(entry, default_ttl),
            name="entries",
            chunk_size=MAX_SET_MANY,
            concurrency=client_concurrency(concurrency, self._transport.limits),
            return_exceptions=return_exceptions,
            on_progress=on_progress,
        )
        if return_exceptions:
            return [slot if isinstance(slot, Exception) else None for slot in written]
        return CacheSetManyResult(success=True, count=len(written))

    def _set_chunk(
        self, call_options: CallOptions, results: Callable[[list[CacheEntry]], list[Any]]
    ) -> Callable[[list[CacheEntry]], Awaitable[list[Any]]]:
        async def chunk(checked: list[CacheEntry]) -> list[Any]:
            body = encode_body(CacheSetManyRequest(entries=checked))
            await self._transport.request(
                "POST", "/cache/setMany", body, _SET_MANY, mutating=True, options=call_options
            )
            return results(checked)

        return chunk

    @overload
    def set_many_stream(
        self,
        entries: Mapping[str, Any]
        | Iterable[CacheEntry | Mapping[str, Any] | tuple[str, Any]]
        | AsyncIterable[CacheEntry | Mapping[str, Any] | tuple[str, Any]],
        *,
        ttl: int | None = None,
        concurrency: Concurrency | None = None,
        on_progress: StreamProgressCallback | None = None,
        return_exceptions: Literal[False] = False,
        read_ahead: int | None = None,
        **options: Unpack[CallOptions],
    ) -> ResultStream[str]: ...
    @overload
    def set_many_stream(
        self,
        entries: Mapping[str, Any]
        | Iterable[CacheEntry | Mapping[str, Any] | tuple[str, Any]]
        | AsyncIterable[CacheEntry | Mapping[str, Any] | tuple[str, Any]],
        *,
        ttl: int | None = None,
        concurrency: Concurrency | None = None,
        on_progress: StreamProgressCallback | None = None,
        return_exceptions: bool,
        read_ahead: int | None = None,
        **options: Unpack[CallOptions],
    ) -> ResultStream[str | Exception]: ...
    def set_many_stream(
        self,
        entries: Mapping[str, Any]
        | Iterable[CacheEntry | Mapping[str, Any] | tuple[str, Any]]
        | AsyncIterable[CacheEntry | Mapping[str, Any] | tuple[str, Any]],
        *,
        ttl: int | None = None,
        concurrency: Concurrency | None = None,
        on_progress: StreamProgressCallback | None = None,
        return_exceptions: bool = False,
        read_ahead: int | None = None,
        **options: Unpack[CallOptions],
    ) -> ResultStream[str] | ResultStream[str | Exception]:
        """`set_many()` as a stream: entries read lazily; yields each entry's key, in input
        order, once it is written.

        Entries go 100 per ``/cache/setMany`` call as in `set_many()`. Use it in
        ``async with`` (see `get_many_stream()`); with ``return_exceptions=True`` an entry
        that was not written yields its exception instead of its key.
        """
        default_ttl = _ttl(ttl)
        items = entries.items() if isinstance(entries, Mapping) else entries
        return stream_prepared(
            self._set_chunk(
                per_call_options(options), lambda checked: [entry.key for entry in checked]
            ),
            items,
            lambda entry: _entry(entry, default_ttl),
            name="entries",
            chunk_size=MAX_SET_MANY,
            concurrency=client_concurrency(concurrency, self._transport.limits),
            return_exceptions=return_exceptions,
            on_progress=on_progress,
            read_ahead=read_ahead,
        )

    @overload
    async def delete_many(
        self,
        keys: Iterable[str],
        *,
        concurrency: Concurrency | None = None,
        on_progress: ProgressCallback | None = None,
        return_exceptions: Literal[False] = False,
        **options: Unpack[CallOptions],
    ) -> CacheDeleteManyResult: ...
    @overload
    async def delete_many(
        self,
        keys: Iterable[str],
        *,
        concurrency: Concurrency | None = None,
        on_progress: ProgressCallback | None = None,
        return_exceptions: Literal[True],
        **options: Unpack[CallOptions],
    ) -> list[Exception | None]: ...
    async def delete_many(
        self,
        keys: Iterable[str],
        *,
        concurrency: Concurrency | None = None,
        on_progress: ProgressCallback | None = None,
        return_exceptions: bool = False,
        **options: Unpack[CallOptions],
    ) -> CacheDeleteManyResult | list[Exception | None]:
        """Remove any number of keys, 500 per ``/cache/deleteMany`` call, several at once.

        ``count`` is the keys asked for and ``deleted`` those that existed. With
        ``return_exceptions=True`` the result is one slot per key: None once done, or the
        exception that stopped it. See ``docs/batching.md``.
        """
        deleted = await run_prepared(
            self._delete_chunk(
                per_call_options(options),
                # The server counts per call; the first slot carries it so the total adds up.
                lambda checked, count: [count] + [0] * (len(checked) - 1),
            ),
            check_items("keys", keys),
            _key,
            name="keys",
            chunk_size=MAX_DELETE_MANY,
            concurrency=client_concurrency(concurrency, self._transport.limits),
            return_exceptions=return_exceptions,
            on_progress=on_progress,
        )
        if return_exceptions:
            return [slot if isinstance(slot, Exception) else None for slot in deleted]
        return CacheDeleteManyResult(success=True, count=len(deleted), deleted=sum(deleted))

    def _delete_chunk(
        self, call_options: CallOptions, results: Callable[[list[str], int], list[Any]]
    ) -> Callable[[list[str]], Awaitable[list[Any]]]:
        async def chunk(checked: list[str]) -> list[Any]:
            body = encode_body(CacheDeleteManyRequest(keys=checked))
            answer: CacheDeleteManyResult = await self._transport.request(
                "POST", "/cache/deleteMany", body, _DELETE_MANY, mutating=True, options=call_options
            )
            return results(checked, answer.deleted)

        return chunk

    @overload
    def delete_many_stream(
        self,
        keys: Iterable[str] | AsyncIterable[str],
        *,
        concurrency: Concurrency | None = None,
        on_progress: StreamProgressCallback | None = None,
        return_exceptions: Literal[False] = False,
        read_ahead: int | None = None,
        **options: Unpack[CallOptions],
    ) -> ResultStream[str]: ...
    @overload
    def delete_many_stream(
        self,
        keys: Iterable[str] | AsyncIterable[str],
        *,
        concurrency: Concurrency | None = None,
        on_progress: StreamProgressCallback | None = None,
        return_exceptions: bool,
        read_ahead: int | None = None,
        **options: Unpack[CallOptions],
    ) -> ResultStream[str | Exception]: ...
    def delete_many_stream(
        self,
        keys: Iterable[str] | AsyncIterable[str],
        *,
        concurrency: Concurrency | None = None,
        on_progress: StreamProgressCallback | None = None,
        return_exceptions: bool = False,
        read_ahead: int | None = None,
        **options: Unpack[CallOptions],
    ) -> ResultStream[str] | ResultStream[str | Exception]:
        """`delete_many()` as a stream: keys read lazily; yields each key, in input order,
        once it is removed (whether or not it existed).

        Keys go 500 per ``/cache/deleteMany`` call. Use it in ``async with`` (see
        `get_many_stream()`); with ``return_exceptions=True`` a key whose call failed
        yields that call's exception.
        """
        return stream_prepared(
            self._delete_chunk(per_call_options(options), lambda checked, _: list(checked)),
            keys,
            _key,
            name="keys",
            chunk_size=MAX_DELETE_MANY,
            concurrency=client_concurrency(concurrency, self._transport.limits),
            return_exceptions=return_exceptions,
            on_progress=on_progress,
            read_ahead=read_ahead,
        )

    async def increment(
        self,
        key: str,
        amount: int = 1,
        *,
        initial_value: int = 0,
        ttl: int | None = None,
        **options: Unpack[CallOptions],
    ) -> CacheIncrementResult:
        """Atomically add ``amount`` (may be negative) to the integer under ``key``.

        A missing key starts at ``initial_value`` and gets ``ttl``.
        """
        body = encode_body(
            CacheIncrementRequest(
                key=_key(key),
                amount=check_int("amount", amount, minimum=-_INT64 - 1, maximum=_INT64),
                initial_value=check_int(
                    "initial_value", initial_value, minimum=-_INT64 - 1, maximum=_INT64
                ),
                ttl=_ttl(ttl),
            )
        )
        return await self._transport.request(
            "POST", "/cache/increment", body, _INCREMENT, mutating=True, options=options
        )

    async def expire(self, key: str, ttl: int, **options: Unpack[CallOptions]) -> Success:
        """Expire ``key`` ``ttl`` seconds from now (0 removes its expiry); False if it is gone."""
        checked = check_int("ttl", ttl, minimum=0, maximum=_INT64)
        body = encode_body(CacheExpireRequest(key=_key(key), ttl=checked))
        return await self._transport.request(
            "POST", "/cache/expire", body, _SUCCESS, mutating=True, options=options
        )

    def list(
        self,
        prefix: str | None = None,
        *,
        limit: int | None = None,
        **options: Unpack[CallOptions],
    ) -> Pages[CacheKeyInfo]:
        """Every key (with its expiry) starting with ``prefix``, fetched ``limit`` per page.

        Example:
            ```python
            async for info in client.cache.list("session:"):
                print(info.key, info.expiration)
            ```
        """
        checked_prefix = _prefix(prefix)
        page_size = check_optional_int("limit", limit, minimum=1, maximum=MAX_LIST_LIMIT)
        transport = self._transport

        async def fetch(cursor: str | None) -> tuple[list[CacheKeyInfo], str | None]:
            body = encode_body(
                CacheListRequest(prefix=checked_prefix, limit=page_size, cursor=cursor)
            )
            page = await transport.request(
                "POST", "/cache/list", body, _LIST, mutating=False, options=options
            )
            return page.keys, None if page.list_complete else page.cursor

        return Pages(fetch)

    async def keys(
        self, prefix: str | None = None, **options: Unpack[CallOptions]
    ) -> CacheKeysResult:
        """Key names starting with ``prefix`` in one call (capped at 10,000: see ``truncated``)."""
        body = encode_body(CacheKeysRequest(prefix=_prefix(prefix)))
        return await self._transport.request(
            "POST", "/cache/keys", body, _KEYS, mutating=False, options=options
        )

    async def flush(
        self, prefix: str | None = None, **options: Unpack[CallOptions]
    ) -> CacheFlushResult:
        """Delete every key starting with ``prefix`` (None: every key of the project)."""
        body = encode_body(CacheFlushRequest(prefix=_prefix(prefix)))
        return await self._transport.request(
            "POST", "/cache/flush", body, _FLUSH, mutating=True, options=options
        )
