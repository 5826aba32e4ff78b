"""``client.storage``: objects by key; uploads and downloads stream in constant memory.

The streams' mechanics (multipart bodies, download bodies) are in `aerostack_async.streaming`.
"""

from __future__ import annotations

from contextlib import AbstractAsyncContextManager
from typing import TYPE_CHECKING

from .._constants import STORAGE_MAX_KEY_BYTES, STORAGE_MAX_LIST_LIMIT, STORAGE_MAX_URL_SECONDS
from .._options import CallOptions, Unpack
from ..errors import InvalidRequestError
from ..models._base import decoder_for
from ..models.storage import (
    CopyRequest,
    CopyResult,
    DeleteResult,
    ExistsResult,
    GetUrlRequest,
    ObjectInfo,
    ObjectMetadata,
    StorageKeyRequest,
    StorageListPage,
    StorageListRequest,
    UploadResult,
    UrlResult,
)
from ..streaming.download import DownloadManager
from ..streaming.upload import (
    DEFAULT_CHUNK_SIZE,
    MultipartUpload,
    ProgressCallback,
    UploadSource,
)
from ._base import Pages, Resource, check_optional_int, check_optional_str, check_str, encode_body

if TYPE_CHECKING:
    from .._wire import WireResponse

__all__ = ["MAX_KEY_BYTES", "Storage", "check_storage_key"]

MAX_KEY_BYTES = STORAGE_MAX_KEY_BYTES
MAX_LIST_LIMIT = STORAGE_MAX_LIST_LIMIT
MAX_URL_SECONDS = STORAGE_MAX_URL_SECONDS
_URL = decoder_for(UrlResult)
_LIST = decoder_for(StorageListPage)
_DELETE = decoder_for(DeleteResult)
_EXISTS = decoder_for(ExistsResult)
_METADATA = decoder_for(ObjectMetadata)
_COPY = decoder_for(CopyResult)
_UPLOAD = decoder_for(UploadResult)
_ANY_CONTENT = {"Accept": "*/*"}


def check_storage_key(value: object, name: str = "key") -> str:
    """``value`` if it is a valid storage key, else ``InvalidRequestError`` saying why.

    Refused: empty, over 1024 bytes of UTF-8, a leading ``/``, an empty segment (``a//b`` or a
    trailing ``/``), a ``.`` or ``..`` segment, NUL or a backslash.
    """
    key = check_str(name, value, max_bytes=MAX_KEY_BYTES)
    if key.startswith("/"):
        raise InvalidRequestError(f"{name} must not start with '/'")
    if "\0" in key or "\\" in key:
        raise InvalidRequestError(f"{name} must not contain NUL or a backslash")
    for segment in key.split("/"):
        if segment == "":
            raise InvalidRequestError(
                f"{name} must not have an empty segment ('//' or trailing '/')"
            )
        if segment in (".", ".."):
            raise InvalidRequestError(f"{name} must not have a '{segment}' segment")
    return key


class Storage(Resource):
    """Find, list, copy, move and delete stored objects."""

    __slots__ = ()

    async def get_url(
        self, key: str, *, expires_in: int | None = None, **options: Unpack[CallOptions]
    ) -> UrlResult:
        """A signed URL for ``key``, valid ``expires_in`` seconds (server default: one hour)."""
        body = encode_body(
            GetUrlRequest(
                key=check_storage_key(key),
                expires_in=check_optional_int(
                    "expires_in", expires_in, minimum=1, maximum=MAX_URL_SECONDS
                ),
            )
        )
        return await self._transport.request(
            "POST", "/storage/getUrl", body, _URL, mutating=False, options=options
        )

    def list(
        self,
        prefix: str | None = None,
        *,
        limit: int | None = None,
        **options: Unpack[CallOptions],
    ) -> Pages[ObjectInfo]:
        """Every object whose key starts with ``prefix``, fetched ``limit`` per page."""
        request = StorageListRequest(
            prefix=check_optional_str("prefix", prefix, empty=True, max_bytes=MAX_KEY_BYTES),
            limit=check_optional_int("limit", limit, minimum=1, maximum=MAX_LIST_LIMIT),
        )
        transport = self._transport

        async def fetch(cursor: str | None) -> tuple[list[ObjectInfo], str | None]:
            request.cursor = cursor
            page = await transport.request(
                "POST", "/storage/list", encode_body(request), _LIST, mutating=False,
                options=options,
            )  # fmt: skip
            return page.objects, page.cursor if page.truncated else None

        return Pages(fetch)

    async def delete(self, key: str, **options: Unpack[CallOptions]) -> DeleteResult:
        """Delete ``key``; succeeds whether or not it existed."""
        body = encode_body(StorageKeyRequest(key=check_storage_key(key)))
        return await self._transport.request(
            "POST", "/storage/delete", body, _DELETE, mutating=True, options=options
        )

    async def exists(self, key: str, **options: Unpack[CallOptions]) -> ExistsResult:
        """Whether an object is stored under ``key``."""
        body = encode_body(StorageKeyRequest(key=check_storage_key(key)))
        return await self._transport.request(
            "POST", "/storage/exists", body, _EXISTS, mutating=False, options=options
        )

    async def get_metadata(self, key: str, **options: Unpack[CallOptions]) -> ObjectMetadata:
        """Size, content type, last change and ETag of ``key`` (``exists`` False if missing)."""
        body = encode_body(StorageKeyRequest(key=check_storage_key(key)))
        return await self._transport.request(
            "POST", "/storage/getMetadata", body, _METADATA, mutating=False, options=options
        )

    async def copy(
        self, source_key: str, dest_key: str, **options: Unpack[CallOptions]
    ) -> CopyResult:
        """Copy ``source_key`` to ``dest_key``; a missing source raises ``NotFoundError``."""
        return await self._copy_or_move("/storage/copy", source_key, dest_key, options)

    async def move(
        self, source_key: str, dest_key: str, **options: Unpack[CallOptions]
    ) -> CopyResult:
        """Rename ``source_key`` to ``dest_key``; a missing source raises ``NotFoundError``."""
        return await self._copy_or_move("/storage/move", source_key, dest_key, options)

    async def _copy_or_move(
        self, path: str, source_key: str, dest_key: str, options: CallOptions
    ) -> CopyResult:
        body = encode_body(
            CopyRequest(
                source_key=check_storage_key(source_key, "source_key"),
                dest_key=check_storage_key(dest_key, "dest_key"),
            )
        )
        return await self._transport.request(
            "POST", path, body, _COPY, mutating=True, options=options
        )

    async def upload(
        self,
        key: str,
        source: UploadSource,
        *,
        content_type: str | None = None,
        size: int | None = None,
        chunk_size: int = DEFAULT_CHUNK_SIZE,
        on_progress: ProgressCallback | None = None,
        **options: Unpack[CallOptions],
    ) -> UploadResult:
        """Store ``source`` under ``key``, streamed in ``chunk_size`` pieces (constant memory).

        ``source``: bytes, a path, a binary file object, an async iterable of bytes, or a
        zero-argument callable returning one. ``content_type`` defaults to a guess from the
        key; ``on_progress(sent, total)`` may be sync or async. A retry re-reads the source;
        a one-shot async iterable is sent in a single attempt.

        Example:
            ```python
            await client.storage.upload("videos/cat.mp4", Path("cat.mp4"), on_progress=print)
            ```
        """
        upload = MultipartUpload(
            check_storage_key(key),
            source,
            content_type=content_type,
            size=size,
            chunk_size=chunk_size,
            on_progress=on_progress,
        )
        await upload.prepare()
        call_options: CallOptions = dict(options)  # type: ignore[assignment]
        if not upload.replayable_source:
            # A one-shot stream cannot be sent twice: one attempt, so a failure is never hidden
            # behind a retry that could only resend part of it.
            call_options["retry"] = None
        try:
            return await self._transport.request(
                "POST",
                "/storage/upload",
                upload.open,
                _UPLOAD,
                mutating=True,
                options=call_options,
                headers=upload.headers,
            )
        finally:
            await upload.aclose()

    def download(self, key: str, **options: Unpack[CallOptions]) -> DownloadManager:
        """``async with`` it for a `Download` of ``key``.

        Example:
            ```python
            async with client.storage.download("videos/cat.mp4") as download:
                await download.save("cat.mp4")
            ```
        """
        return self._download(key, options, "storage.download")

    def _download(self, key: str, options: CallOptions, operation: str) -> DownloadManager:
        checked = check_storage_key(key)
        body = encode_body(StorageKeyRequest(key=checked))
        transport = self._transport

        def open_response() -> AbstractAsyncContextManager[WireResponse]:
            return transport.stream(
                "POST",
                "/storage/get",
                content=body,
                headers=_ANY_CONTENT,
                mutating=False,
                options=options,
                operation=operation,  # (the span's name)
            )

        # Nothing is sent until the manager is entered.
        return DownloadManager(open_response, checked)

    async def get(self, key: str, **options: Unpack[CallOptions]) -> bytes:
        """The bytes stored under ``key`` (for small objects; use `download()` for big ones).

        A missing key raises `NotFoundError`.
        """
        async with self._download(key, options, "storage.get") as download:
            return await download.read()
