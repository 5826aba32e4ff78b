"""``client.cache``: a project-scoped key-value cache with TTLs."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from .._options import CallOptions, Unpack
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
)
from ._base import (
    Pages,
    Resource,
    check_int,
    check_list,
    check_optional_int,
    check_optional_str,
    check_str,
    convert,
    encode_body,
)

__all__ = ["MAX_KEY_BYTES", "Cache"]

MAX_KEY_BYTES = 512
MAX_GET_MANY = 100
MAX_SET_MANY = 100
MAX_DELETE_MANY = 500
MAX_LIST_LIMIT = 1000
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

    async def get_many(
        self, keys: Sequence[str], **options: Unpack[CallOptions]
    ) -> CacheGetManyResult:
        """Up to 100 values in one call, in the order of ``keys``."""
        checked = [_key(k, "keys[]") for k in check_list("keys", keys, max_items=MAX_GET_MANY)]
        body = encode_body(CacheGetManyRequest(keys=checked))
        return await self._transport.request(
            "POST", "/cache/getMany", body, _GET_MANY, mutating=False, options=options
        )

    async def set_many(
        self,
        entries: Sequence[CacheEntry | Mapping[str, Any]],
        **options: Unpack[CallOptions],
    ) -> CacheSetManyResult:
        """Store up to 100 entries (``CacheEntry`` or ``{"key", "value", "ttl"?}``) in one call."""
        items = check_list("entries", entries, max_items=MAX_SET_MANY)
        converted = [convert("entries[]", entry, CacheEntry) for entry in items]
        for entry in converted:
            _key(entry.key, "entries[].key")
            _ttl(entry.ttl, "entries[].ttl")
        body = encode_body(CacheSetManyRequest(entries=converted))
        return await self._transport.request(
            "POST", "/cache/setMany", body, _SET_MANY, mutating=True, options=options
        )

    async def delete_many(
        self, keys: Sequence[str], **options: Unpack[CallOptions]
    ) -> CacheDeleteManyResult:
        """Remove up to 500 keys in one call; ``deleted`` counts those that existed."""
        checked = [_key(k, "keys[]") for k in check_list("keys", keys, max_items=MAX_DELETE_MANY)]
        body = encode_body(CacheDeleteManyRequest(keys=checked))
        return await self._transport.request(
            "POST", "/cache/deleteMany", body, _DELETE_MANY, mutating=True, options=options
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

        Example::

            async for info in client.cache.list("session:"):
                print(info.key, info.expiration)
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
