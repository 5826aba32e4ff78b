"""An upload body: multipart/form-data produced as an async iterator of chunks.

Nothing is read ahead: a file is read with anyio in ``chunk_size`` pieces as the transport asks
for them, so memory stays at about one chunk whatever the size. When the size is known
(bytes, a path, a seekable file, or ``size=``) the body's exact ``Content-Length`` is known before
the first byte is sent; otherwise the transport sends it chunked.

Each call of `MultipartUpload.open()` starts the body again from the first byte, re-opening
the source, so a retry never resends a consumed iterator. A one-shot async iterable can be
re-opened only while none of its bytes has been taken (see `MultipartUpload.replayable`).

Example:
    ```python
    upload = MultipartUpload("photos/cat.jpg", Path("cat.jpg"))
    await upload.prepare()  # stats the file (in a worker thread); validates everything
    headers = upload.headers  # Content-Type with the boundary, Content-Length
    async for piece in upload.open():
        ...
    ```
"""

from __future__ import annotations

import io
import mimetypes
import os
import secrets
import stat
from collections.abc import (
    AsyncGenerator,
    AsyncIterable,
    AsyncIterator,
    Callable,
    Iterable,
    Iterator,
)
from typing import IO, Any, TypeAlias

import anyio
import anyio.to_thread

from .._callbacks import ProgressCallback, call_maybe_async
from ..errors import InvalidArgumentTypeError, InvalidRequestError

__all__ = [
    "DEFAULT_CHUNK_SIZE",
    "MultipartUpload",
    "ProgressCallback",
    "SourceSizeMismatchError",
    "UploadSource",
    "call_progress",
    "guess_content_type",
]

DEFAULT_CHUNK_SIZE = 1 << 20

UploadSource: TypeAlias = (
    bytes
    | bytearray
    | memoryview
    | str
    | os.PathLike[str]
    | IO[bytes]
    | AsyncIterable[bytes]
    | Iterable[bytes]
    | Callable[[], AsyncIterable[bytes]]
)
"""What `storage.upload()` accepts: data, a path, a binary file, or a stream of bytes (async,
or a plain iterable such as a generator, which is read in a worker thread)."""


# Loading the system MIME tables reads files; do it once at import, not on the event loop later.
mimetypes.init()


def guess_content_type(key: str) -> str:
    """The media type for a key from its extension, ``application/octet-stream`` if unknown."""
    guessed, _ = mimetypes.guess_type(key.rsplit("/", 1)[-1], strict=False)
    return guessed or "application/octet-stream"


EXPECT_CONTINUE_OVER = 1024 * 1024
"""Bodies larger than this (or of unknown size) ask for ``100 Continue`` before being sent."""


class SourceSizeMismatchError(InvalidRequestError):
    """The source produced a different number of bytes than its declared or measured size.

    The request is abandoned mid-body, so the server stores nothing.
    """


async def call_progress(callback: ProgressCallback | None, sent: int, total: int | None) -> None:
    """Call a sync or async progress callback (none: nothing to do)."""
    if callback is not None:
        await call_maybe_async(callback, sent, total)


def _quote(value: str) -> str:
    # The WHATWG multipart/form-data encoding (what browsers and httpx send): a quoted string
    # with CR, LF and '"' percent-escaped, so no name can break out of its header.
    return value.replace("\r", "%0D").replace("\n", "%0A").replace('"', "%22")


class MultipartUpload:
    """One upload's body: the ``key`` and ``contentType`` text parts, then the ``file`` part.

    Build it with the same arguments as ``storage.upload``; argument errors are raised here,
    before anything is sent. Call `prepare()` (async, it may stat a file) before reading
    `headers` or `content_length`.
    """

    def __init__(
        self,
        key: str,
        source: UploadSource,
        *,
        content_type: str | None = None,
        size: int | None = None,
        chunk_size: int = DEFAULT_CHUNK_SIZE,
        on_progress: ProgressCallback | None = None,
    ) -> None:
        if not isinstance(key, str):
            raise InvalidArgumentTypeError(f"key must be a str, not {type(key).__name__}")
        if not key:
            raise InvalidRequestError("key must not be empty")
        if content_type is None:
            content_type = guess_content_type(key)
        elif not isinstance(content_type, str):
            raise InvalidArgumentTypeError(
                f"content_type must be a str, not {type(content_type).__name__}"
            )
        if not content_type or any(c in content_type for c in "\r\n\x00"):
            raise InvalidRequestError("content_type must be a non-empty single-line media type")
        if isinstance(chunk_size, bool) or not isinstance(chunk_size, int):
            raise InvalidArgumentTypeError("chunk_size must be an int")
        if chunk_size <= 0:
            raise InvalidRequestError("chunk_size must be positive")
        if size is not None and (isinstance(size, bool) or not isinstance(size, int)):
            raise InvalidArgumentTypeError("size must be an int or None")
        if size is not None and size < 0:
            raise InvalidRequestError("size must not be negative")
        if on_progress is not None and not callable(on_progress):
            raise InvalidArgumentTypeError("on_progress must be callable")

        self.key = key
        self.content_type = content_type
        self.chunk_size = chunk_size
        self.on_progress = on_progress
        self._source = _Source(source)
        self._kind = self._source.kind
        self._size = size
        if self._source.data is not None:
            measured = self._source.data.nbytes
            if size is not None and size != measured:
                raise SourceSizeMismatchError(f"size={size} but the data is {measured} bytes")
            self._size = measured
        self._file_start = 0  # where a file object's data begins (its position when given)
        self._file_seekable = False
        self._taken = False  # a one-shot iterable has handed over bytes
        self._prepared = False
        self._open: list[AsyncGenerator[bytes, None]] = []
        self.boundary = secrets.token_hex(16)
        filename = key.rsplit("/", 1)[-1]
        b = self.boundary
        self._head = (
            f'--{b}\r\nContent-Disposition: form-data; name="key"\r\n\r\n{key}\r\n'
            f'--{b}\r\nContent-Disposition: form-data; name="contentType"\r\n\r\n'
            f"{content_type}\r\n"
            f'--{b}\r\nContent-Disposition: form-data; name="file"; '
            f'filename="{_quote(filename)}"\r\nContent-Type: {content_type}\r\n\r\n'
        ).encode()
        self._tail = f"\r\n--{b}--\r\n".encode()

    async def prepare(self) -> None:
        """Measure the source where it can be (stat a path, a file's remaining bytes)."""
        if self._prepared:
            return
        if self._source.path is not None:
            path = self._source.path
            try:
                info = await anyio.Path(path).stat()
            except FileNotFoundError:
                raise InvalidRequestError(f"no such file: {path!r}") from None
            if not stat.S_ISREG(info.st_mode):
                raise InvalidRequestError(f"not a regular file: {path!r}")
            self._check_size(info.st_size)
        elif self._source.file is not None:
            size, start, seekable = await anyio.to_thread.run_sync(_measure_file, self._source.file)
            self._file_start, self._file_seekable = start, seekable
            if size is not None:
                self._check_size(size)
        self._prepared = True

    def _check_size(self, measured: int) -> None:
        if self._size is not None and self._size != measured:
            raise SourceSizeMismatchError(f"size={self._size} but the source has {measured} bytes")
        self._size = measured

    @property
    def size(self) -> int | None:
        """The file part's size in bytes, if known."""
        return self._size

    @property
    def content_length(self) -> int | None:
        """The exact byte length of the whole body, or None when the size is unknown."""
        if self._size is None:
            return None
        return len(self._head) + self._size + len(self._tail)

    @property
    def headers(self) -> dict[str, str]:
        """``Content-Type`` (with the boundary), ``Content-Length`` when known, and
        ``Expect: 100-continue`` when the body is large or of unknown size, so that a refused
        upload (a wrong key, a file too large) is answered before the body goes out."""
        headers = {"Content-Type": f"multipart/form-data; boundary={self.boundary}"}
        length = self.content_length
        if length is not None:
            headers["Content-Length"] = str(length)
        if length is None or length > EXPECT_CONTINUE_OVER:
            headers["Expect"] = "100-continue"
        return headers

    @property
    def replayable_source(self) -> bool:
        """Whether the source can be read from the start any number of times."""
        return self._kind in ("bytes", "path", "factory") or (
            self._kind == "file" and self._file_seekable
        )

    @property
    def replayable(self) -> bool:
        """Whether `open()` can start the body again (not once a one-shot stream gave bytes)."""
        if self._kind in ("iterable", "sync-iterable"):
            return not self._taken
        if self._kind == "file":
            return self._file_seekable or not self._taken
        return True

    def open(self) -> AsyncIterator[bytes]:
        """Start the body from its first byte (a zero-argument factory, called once per attempt).

        Raises `InvalidRequestError` if the source cannot be read again.
        """
        if not self._prepared:
            raise RuntimeError("await prepare() before open()")
        if not self.replayable:
            raise InvalidRequestError(
                "the upload source is a one-shot stream that was already partly sent; "
                "pass a path, bytes or a zero-argument callable to allow retries"
            )
        body = self._body()
        self._open.append(body)
        return body

    async def aclose(self) -> None:
        """Close every body iterator this upload opened (and so any file they hold open)."""
        opened, self._open = self._open, []
        with anyio.CancelScope(shield=True):
            for body in opened:
                await body.aclose()

    async def _body(self) -> AsyncGenerator[bytes, None]:
        sent = 0
        total = self._size
        head = self._head  # sent with the first chunk: one write for a small upload
        await call_progress(self.on_progress, 0, total)
        chunks = self._chunks()
        try:
            async for chunk in chunks:
                if total is not None and sent + len(chunk) > total:
                    raise SourceSizeMismatchError(
                        f"the source produced more than its size of {total} bytes"
                    )
                yield head + chunk if head else chunk
                head = b""
                sent += len(chunk)
                await call_progress(self.on_progress, sent, total)
        finally:
            # `async for` does not close a generator it leaves early; a file may be open in it.
            await chunks.aclose()
        if total is not None and sent != total:
            raise SourceSizeMismatchError(f"the source produced {sent} of its {total} bytes")
        yield head + self._tail

    async def _chunks(self) -> AsyncGenerator[bytes, None]:
        """The file part's bytes, in pieces of at most ``chunk_size`` (streams pass through)."""
        size = self.chunk_size
        source = self._source
        if source.data is not None:
            view = source.data
            for start in range(0, view.nbytes, size):
                yield bytes(view[start : start + size])
        elif source.path is not None:
            file = await anyio.open_file(source.path, "rb")
            try:
                while chunk := await file.read(size):
                    yield chunk
            finally:
                # Shielded: this runs when a cancelled upload is torn down, and must still close.
                with anyio.CancelScope(shield=True):
                    await file.aclose()
        elif source.file is not None:
            file_obj = source.file
            if self._file_seekable:
                await anyio.to_thread.run_sync(file_obj.seek, self._file_start)
            self._taken = True
            while chunk := await anyio.to_thread.run_sync(file_obj.read, size):
                yield _as_bytes(chunk)
        elif source.sync_iterable is not None:
            # A plain iterable may block (a generator reading a pipe): each step runs in a thread.
            sync_iterator = iter(source.sync_iterable)
            try:
                while True:
                    chunk = await anyio.to_thread.run_sync(_next_or_none, sync_iterator)
                    if chunk is None:
                        break
                    self._taken = True
                    if chunk:
                        yield _as_bytes(chunk)
            finally:
                close = getattr(sync_iterator, "close", None)
                if close is not None:
                    with anyio.CancelScope(shield=True):
                        await anyio.to_thread.run_sync(close)
        else:
            iterable: object = source.iterable
            if source.factory is not None:
                iterable = source.factory()
                if not isinstance(iterable, AsyncIterable):
                    raise InvalidArgumentTypeError(
                        "the upload source callable must return an async iterable of bytes, "
                        f"not {type(iterable).__name__}"
                    )
            assert isinstance(iterable, AsyncIterable)
            iterator = aiter(iterable)
            try:
                async for chunk in iterator:
                    self._taken = True
                    if chunk:
                        yield _as_bytes(chunk)
            finally:
                close = getattr(iterator, "aclose", None)
                if close is not None:
                    with anyio.CancelScope(shield=True):
                        await close()


def _next_or_none(iterator: Iterator[Any]) -> Any:
    return next(iterator, None)


def _as_bytes(chunk: Any) -> bytes:
    if isinstance(chunk, bytes):
        return chunk
    if isinstance(chunk, (bytearray, memoryview)):
        return bytes(chunk)
    raise InvalidArgumentTypeError(f"an upload stream must yield bytes, not {type(chunk).__name__}")


class _Source:
    """The upload source, sorted by kind into exactly one typed attribute."""

    __slots__ = ("data", "factory", "file", "iterable", "kind", "path", "sync_iterable")

    def __init__(self, source: object) -> None:
        self.data: memoryview | None = None
        self.path: str | None = None
        self.file: IO[bytes] | None = None
        self.iterable: AsyncIterable[bytes] | None = None
        self.sync_iterable: Iterable[bytes] | None = None
        self.factory: Callable[[], object] | None = None
        if isinstance(source, (bytes, bytearray, memoryview)):
            view = memoryview(source)
            self.data = view if view.ndim == 1 and view.itemsize == 1 else view.cast("B")
            self.kind = "bytes"
        elif isinstance(source, (str, os.PathLike)):
            path = os.fspath(source)
            if not isinstance(path, str):
                raise InvalidArgumentTypeError("a path source must be a str path")
            self.path = path
            self.kind = "path"
        elif isinstance(source, AsyncIterable):
            self.iterable = source
            self.kind = "iterable"
        elif hasattr(source, "read"):
            mode = getattr(source, "mode", "b")
            if isinstance(source, io.TextIOBase) or (isinstance(mode, str) and "b" not in mode):
                raise InvalidArgumentTypeError("open the file in binary mode ('rb') to upload it")
            self.file = source  # type: ignore[assignment]
            self.kind = "file"
        elif isinstance(source, Iterable) and not isinstance(source, (dict, set, frozenset)):
            self.sync_iterable = source
            self.kind = "sync-iterable"
        elif callable(source):
            self.factory = source
            self.kind = "factory"
        else:
            raise InvalidArgumentTypeError(
                "source must be bytes, a path, a binary file object, an iterable or async "
                "iterable of bytes, or a zero-argument callable returning an async iterable; "
                f"got {type(source).__name__}"
            )


def _measure_file(file_obj: IO[bytes]) -> tuple[int | None, int, bool]:
    """(bytes left from the current position or None, that position, seekable) — in a thread."""
    try:
        seekable = bool(file_obj.seekable())
    except (AttributeError, OSError, ValueError):
        seekable = False
    if not seekable:
        return None, 0, False
    start = file_obj.tell()
    end = file_obj.seek(0, os.SEEK_END)
    file_obj.seek(start)
    return end - start, start, True
