"""Wire types of ``/cache/*``."""

from __future__ import annotations

from typing import Any

import msgspec

from ._base import Model

__all__ = [
    "CacheDeleteManyRequest",
    "CacheDeleteManyResult",
    "CacheDeleteResult",
    "CacheEntry",
    "CacheExpireRequest",
    "CacheFlushRequest",
    "CacheFlushResult",
    "CacheGetManyRequest",
    "CacheGetManyResult",
    "CacheGetResult",
    "CacheIncrementRequest",
    "CacheIncrementResult",
    "CacheKeyInfo",
    "CacheKeyRequest",
    "CacheKeysRequest",
    "CacheKeysResult",
    "CacheListPage",
    "CacheListRequest",
    "CacheSetManyRequest",
    "CacheSetManyResult",
    "CacheSetRequest",
    "CacheValue",
]


class CacheKeyRequest(Model, kw_only=True):
    """``/cache/get`` and ``/cache/delete``: one key."""

    key: str


class CacheGetResult(Model, kw_only=True):
    """Whether the key exists, and its value (None when it does not)."""

    exists: bool
    value: Any = None


class CacheSetRequest(Model, kw_only=True):
    """``/cache/set``: any JSON value; ``ttl`` in seconds (omitted = no expiry)."""

    key: str
    value: Any
    ttl: int | None = None


class CacheDeleteResult(Model, kw_only=True):
    """Deleting succeeds whether or not the key existed; ``deleted`` says if it did."""

    success: bool
    deleted: bool | None = None


class CacheGetManyRequest(Model, kw_only=True):
    """``/cache/getMany``: up to 100 keys."""

    keys: list[str]


class CacheValue(Model, kw_only=True):
    """One key of a ``getMany`` answer."""

    key: str
    value: Any = None
    exists: bool = False


class CacheGetManyResult(Model, kw_only=True):
    """The values, in request order."""

    results: list[CacheValue]


class CacheEntry(Model, kw_only=True):
    """One entry of a ``setMany``."""

    key: str
    value: Any
    ttl: int | None = None


class CacheSetManyRequest(Model, kw_only=True):
    """``/cache/setMany``: up to 100 entries."""

    entries: list[CacheEntry]


class CacheSetManyResult(Model, kw_only=True):
    """How many entries were written."""

    success: bool
    count: int = 0


class CacheDeleteManyRequest(Model, kw_only=True):
    """``/cache/deleteMany``: up to 500 keys."""

    keys: list[str]


class CacheDeleteManyResult(Model, kw_only=True):
    """``count`` keys asked for, ``deleted`` actually removed."""

    success: bool
    count: int = 0
    deleted: int = 0


class CacheIncrementRequest(Model, kw_only=True):
    """``/cache/increment``: add ``amount`` (may be negative), starting from ``initial_value``."""

    key: str
    amount: int = 1
    initial_value: int = msgspec.field(default=0, name="initialValue")
    ttl: int | None = None


class CacheIncrementResult(Model, kw_only=True):
    """The value after the increment."""

    value: int


class CacheExpireRequest(Model, kw_only=True):
    """``/cache/expire``: expire ``ttl`` seconds from now."""

    key: str
    ttl: int


class CacheListRequest(Model, kw_only=True):
    """``/cache/list``: one page of keys."""

    prefix: str | None = None
    limit: int | None = None
    cursor: str | None = None


class CacheKeyInfo(Model, kw_only=True):
    """A key and when it expires (unix seconds, None = never)."""

    key: str
    expiration: int | float | None = None


class CacheListPage(Model, kw_only=True):
    """One page of keys; ``cursor`` fetches the next unless ``list_complete``."""

    keys: list[CacheKeyInfo]
    list_complete: bool
    cursor: str | None = None


class CacheKeysRequest(Model, kw_only=True):
    """``/cache/keys``: every key with a prefix (capped at 10,000)."""

    prefix: str | None = None


class CacheKeysResult(Model, kw_only=True):
    """Key names; ``truncated`` when the cap was hit."""

    keys: list[str]
    truncated: bool = False


class CacheFlushRequest(Model, kw_only=True):
    """``/cache/flush``: delete every key with a prefix (omitted = all keys)."""

    prefix: str | None = None


class CacheFlushResult(Model, kw_only=True):
    """How many keys were deleted."""

    success: bool
    deleted: int = 0
