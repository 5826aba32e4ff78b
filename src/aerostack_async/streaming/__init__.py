"""Streaming: SSE decoding, chat streams, multipart uploads and downloads in constant memory."""

from .sse import ServerSentEvent, SSEDecoder

__all__ = ["SSEDecoder", "ServerSentEvent"]
