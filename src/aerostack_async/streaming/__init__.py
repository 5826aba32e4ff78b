"""Streaming: SSE decoding, chat streams, multipart uploads and downloads in constant memory.

Each piece is a sans-I/O core with a thin async shell: `SSEDecoder` (bytes in, events
out) and `ChatAccumulator` (chunks in, final message out) do no I/O;
`ChatStream`, `MultipartUpload` and `Download` move the bytes. The
operations that use them (``client.ai.chat_stream``, ``client.storage.upload`` / ``download`` /
``get``) live with their resources in `aerostack_async.resources`: no endpoint path is
named in this package.
"""

from .chat import DEFAULT_STREAM_IDLE, ChatAccumulator, ChatStream, ChatStreamManager
from .download import Download, DownloadManager
from .sse import ServerSentEvent, SSEDecoder
from .upload import (
    DEFAULT_CHUNK_SIZE,
    MultipartUpload,
    ProgressCallback,
    SourceSizeMismatchError,
    UploadSource,
)

__all__ = [
    "DEFAULT_CHUNK_SIZE",
    "DEFAULT_STREAM_IDLE",
    "ChatAccumulator",
    "ChatStream",
    "ChatStreamManager",
    "Download",
    "DownloadManager",
    "MultipartUpload",
    "ProgressCallback",
    "SSEDecoder",
    "ServerSentEvent",
    "SourceSizeMismatchError",
    "UploadSource",
]
