"""Wire types of ``/storage/*`` (the upload body itself is multipart, built by streaming.upload)."""

from __future__ import annotations

from datetime import datetime

import msgspec

from ._base import Model

__all__ = [
    "CopyRequest",
    "CopyResult",
    "DeleteResult",
    "ExistsResult",
    "GetUrlRequest",
    "ObjectInfo",
    "ObjectMetadata",
    "StorageKeyRequest",
    "StorageListPage",
    "StorageListRequest",
    "UploadResult",
    "UrlResult",
]


class StorageKeyRequest(Model, kw_only=True):
    """``/storage/get``, ``/delete``, ``/exists``, ``/getMetadata``: one key."""

    key: str


class GetUrlRequest(Model, kw_only=True):
    """``/storage/getUrl``: a signed URL valid ``expires_in`` seconds (server default 1 h)."""

    key: str
    expires_in: int | None = msgspec.field(default=None, name="expiresIn")


class UploadResult(Model, kw_only=True):
    """Where an uploaded object can be fetched."""

    url: str


class UrlResult(Model, kw_only=True):
    """A signed URL for an object, and when it stops working (if it does)."""

    url: str
    expires_at: datetime | None = msgspec.field(default=None, name="expiresAt")


class StorageListRequest(Model, kw_only=True):
    """``/storage/list``: one page of objects."""

    prefix: str | None = None
    limit: int | None = None
    cursor: str | None = None


class ObjectInfo(Model, kw_only=True):
    """One stored object."""

    key: str
    size: int
    last_modified: datetime | None = msgspec.field(default=None, name="lastModified")
    content_type: str | None = msgspec.field(default=None, name="contentType")
    etag: str | None = None


class StorageListPage(Model, kw_only=True):
    """One page of objects; ``cursor`` fetches the next while ``truncated``."""

    objects: list[ObjectInfo]
    truncated: bool = False
    cursor: str | None = None


class DeleteResult(Model, kw_only=True):
    """Deleting succeeds whether or not the key existed."""

    success: bool
    deleted: bool | None = None


class ExistsResult(Model, kw_only=True):
    """Whether an object exists."""

    exists: bool


class ObjectMetadata(Model, kw_only=True):
    """An object's metadata; every field but ``exists`` is None for a missing key."""

    exists: bool
    size: int | None = None
    content_type: str | None = msgspec.field(default=None, name="contentType")
    last_modified: datetime | None = msgspec.field(default=None, name="lastModified")
    etag: str | None = None


class CopyRequest(Model, kw_only=True):
    """``/storage/copy`` and ``/storage/move``."""

    source_key: str = msgspec.field(name="sourceKey")
    dest_key: str = msgspec.field(name="destKey")


class CopyResult(Model, kw_only=True):
    """The new object's URL."""

    success: bool
    url: str | None = None
