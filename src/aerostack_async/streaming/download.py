"""Downloads in constant memory: an open object's metadata, its bytes as they arrive, ``save()``.

Example:
    ```python
    async with client.storage.download("videos/big.mp4") as download:
        print(download.size, download.content_type, download.etag)
        await download.save("big.mp4", on_progress=lambda done, total: ...)
    ```

``save`` writes to a temporary file beside the target and renames it into place only when every
byte has arrived, so a failed or cancelled download never leaves a partial file at ``path``.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager
from types import TracebackType
from typing import IO

import anyio
import anyio.to_thread

from .._wire import WireResponse
from ..errors import InvalidRequestError
from .upload import DEFAULT_CHUNK_SIZE, ProgressCallback, call_progress

__all__ = ["Download", "DownloadManager"]


class Download:
    """An object being downloaded: ``size``, ``content_type``, ``etag`` and its bytes.

    The body can be read once, by `aiter_bytes()` or `save()`.
    """

    __slots__ = ("_consumed", "_wire", "key", "response")

    def __init__(self, response: WireResponse, key: str = "") -> None:
        self._wire = response
        self.key = key
        self._consumed = False
        # The HTTP response (status, headers, elapsed; its request's key masked).
        self.response = response.response

    @property
    def size(self) -> int | None:
        """The object's size in bytes (``Content-Length``), if the server said."""
        value = self.response.headers.get("content-length")
        try:
            return int(value) if value is not None else None
        except ValueError:
            return None

    @property
    def content_type(self) -> str | None:
        """The stored media type."""
        value: str | None = self.response.headers.get("content-type")
        return value

    @property
    def etag(self) -> str | None:
        """The object's ETag, unquoted."""
        value: str | None = self.response.headers.get("etag")
        if value is None:
            return None
        if value.startswith("W/"):
            value = value[2:]
        return value.strip('"')

    @property
    def request_id(self) -> str | None:
        """The server's ``X-Request-ID``, if it sent one."""
        return self._wire.request_id

    def aiter_bytes(self, chunk_size: int | None = DEFAULT_CHUNK_SIZE) -> AsyncIterator[bytes]:
        """The body in pieces of ``chunk_size`` bytes (the last may be shorter; None: as read).

        Connection failures raise `APIConnectionError`, and so does a body shorter than
        its ``Content-Length``.
        """
        if chunk_size is not None and (
            isinstance(chunk_size, bool) or not isinstance(chunk_size, int) or chunk_size <= 0
        ):
            raise InvalidRequestError("chunk_size must be a positive int or None")
        if self._consumed:
            raise InvalidRequestError("the download's body was already read")
        self._consumed = True
        # On our pool, the pool's own body iterator; failures arrive as our errors.
        return self._wire.aiter_bytes(chunk_size, context=f"download of {self.key!r}")

    async def read(self) -> bytes:
        """The whole body in memory (for small objects)."""
        body = self.aiter_bytes(None)
        try:
            return b"".join([piece async for piece in body])
        finally:
            await body.aclose()  # type: ignore[attr-defined]

    async def save(
        self,
        path: str | os.PathLike[str],
        *,
        on_progress: ProgressCallback | None = None,
        chunk_size: int = DEFAULT_CHUNK_SIZE,
    ) -> int:
        """Write the body to ``path`` in constant memory; returns the number of bytes written.

        The bytes go to a temporary file in the same folder, renamed over ``path`` only when
        complete, so on any failure or cancellation ``path`` is untouched and no temporary file
        remains. ``on_progress(written, total)`` may be sync or async.
        """
        target = anyio.Path(os.fspath(path))
        if await target.is_dir():
            raise InvalidRequestError(f"{os.fspath(path)!r} is a directory")
        temp = target.with_name(f".{target.name}.{secrets.token_hex(6)}.part")
        if isinstance(chunk_size, bool) or not isinstance(chunk_size, int) or chunk_size <= 0:
            raise InvalidRequestError("chunk_size must be a positive int")
        total = self.size
        written = 0
        # Pieces are taken as they arrive and handed to a worker thread about chunk_size at a
        # time: no re-chunking copy, one thread hop per chunk, memory bounded by chunk_size.
        body = self.aiter_bytes(None)
        try:
            file = await anyio.open_file(temp, "wb")
            try:
                await call_progress(on_progress, 0, total)
                pieces: list[bytes] = []
                buffered = 0
                async for piece in body:
                    pieces.append(piece)
                    buffered += len(piece)
                    if buffered >= chunk_size:
                        await anyio.to_thread.run_sync(_write_all, file.wrapped, pieces)
                        written += buffered
                        pieces, buffered = [], 0
                        await call_progress(on_progress, written, total)
                if pieces:
                    await anyio.to_thread.run_sync(_write_all, file.wrapped, pieces)
                    written += buffered
                    await call_progress(on_progress, written, total)
            finally:
                with anyio.CancelScope(shield=True):
                    await file.aclose()
            await temp.replace(target)
        except BaseException:
            with anyio.CancelScope(shield=True):
                await temp.unlink(missing_ok=True)
            raise
        finally:
            await body.aclose()  # type: ignore[attr-defined]
        return written

    async def aclose(self) -> None:
        """Close the response early (its connection goes back to the pool)."""
        await self._wire.aclose()

    def __repr__(self) -> str:
        return f"<Download key={self.key!r} size={self.size} content_type={self.content_type!r}>"


def _write_all(file: IO[bytes], pieces: list[bytes]) -> None:
    for piece in pieces:
        file.write(piece)


class DownloadManager:
    """What ``client.storage.download(key)`` returns: ``async with`` it to get a `Download`.

    ``open_response`` is the transport's ``stream(...)`` call, not yet entered: a missing key
    raises `NotFoundError` on entering, before any body is read.
    """

    __slots__ = ("_download", "_key", "_manager", "_opened")

    def __init__(
        self, open_response: Callable[[], AbstractAsyncContextManager[WireResponse]], key: str
    ) -> None:
        self._opened = open_response
        self._key = key
        self._manager: AbstractAsyncContextManager[WireResponse] | None = None
        self._download: Download | None = None

    async def __aenter__(self) -> Download:
        if self._manager is not None:
            raise RuntimeError("this download was already opened; call download() again")
        self._manager = self._opened()
        response = await self._manager.__aenter__()
        self._download = Download(response, self._key)
        return self._download

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        assert self._manager is not None
        assert self._download is not None
        try:
            await self._download.aclose()
        finally:
            await self._manager.__aexit__(exc_type, exc, tb)
