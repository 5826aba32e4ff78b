"""Chat streams: a sans-I/O accumulator, and `ChatStream` over an open SSE response.

The protocol part is plain objects: `decode_chat_event()` turns one SSE ``data`` payload
into a `ChatCompletionChunk` (or ``None`` for ``[DONE]``, or
raises the error an in-stream error frame stands for), and `ChatAccumulator` folds chunks
into the final text, finish reason and usage. `ChatStream` only adds the I/O: it reads
the response a chunk at a time, with an idle timeout around each wait for the next event. On our
pool it reads the pool's body iterator directly (see `aerostack_async._wire`), whose
failures already arrive as our errors.

Example:
    ```python
    async with client.ai.chat_stream([{"role": "user", "content": "Hi"}]) as stream:
        async for text in stream.text_stream:
            print(text, end="", flush=True)
        message = await stream.get_final_message()
    ```
"""

from __future__ import annotations

from collections import deque
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager
from types import TracebackType

import anyio
import httpx
import msgspec

from .._logging import redact
from .._wire import WireRequest, WireResponse, wrap_httpx
from ..errors import (
    APIConnectionError,
    APIStatusError,
    APITimeoutError,
    InvalidArgumentTypeError,
    InvalidRequestError,
    StreamIdleTimeout,
    StreamProtocolError,
    status_error_class,
)
from ..models.ai import (
    ChatChoice,
    ChatCompletion,
    ChatCompletionChunk,
    ChatMessage,
    ChatStreamErrorFrame,
    Usage,
)
from .sse import ServerSentEvent, SSEDecoder

# For a ChatStream built over a bare httpx.Response (not through the client).
_UNKNOWN_REQUEST = WireRequest(
    "POST", httpx.URL("http://localhost/"), "", httpx.Headers(), {}, None, {}
)

__all__ = [
    "DEFAULT_STREAM_IDLE",
    "ChatAccumulator",
    "ChatStream",
    "ChatStreamManager",
    "check_stream_idle",
    "decode_chat_event",
    "stream_error",
]

DEFAULT_STREAM_IDLE = 60.0
"""Seconds a chat stream may go without an event before `StreamIdleTimeout`."""

_DONE = "[DONE]"
_END_OF_BODY_WAIT = 0.25
# Bytes of a wrong (non event-stream) body kept for the error message.
_PROTOCOL_ERROR_BODY_LIMIT = 4096

_decode_chunk = msgspec.json.Decoder(ChatCompletionChunk).decode
_decode_error_frame = msgspec.json.Decoder(ChatStreamErrorFrame).decode

# The status each documented error code stands for, to pick the same class a non-2xx would.
_CODE_STATUS = {
    "VALIDATION_ERROR": 400,
    "DB_QUERY_FAILED": 400,
    "AUTH_INVALID_KEY": 401,
    "AUTH_INVALID_CREDENTIALS": 401,
    "FORBIDDEN": 403,
    "NOT_FOUND": 404,
    "AUTH_USER_EXISTS": 409,
    "RATE_LIMIT_EXCEEDED": 429,
    "INTERNAL_ERROR": 500,
}


def stream_error(code: str, message: str, response: httpx.Response | None = None) -> APIStatusError:
    """The `APIStatusError` subclass for an in-stream ``{"error": {code, message}}``.

    ``status_code`` is the status the code stands for (a non-2xx with that code would have
    raised the same class); an unknown code gives a plain `APIStatusError` with status 0.
    """
    status = _CODE_STATUS.get(code, 0)
    cls = status_error_class(status) if status else APIStatusError
    # The request's key is already masked out of reach; mask any key the server quoted back.
    message = redact(message)
    return cls(message or code or "error in stream", response, "", code=code, status_code=status)


def decode_chat_event(
    event: ServerSentEvent, response: httpx.Response | None = None
) -> ChatCompletionChunk | None:
    """One SSE event of a chat stream as a chunk; ``None`` for the final ``[DONE]``.

    Raises the matching `APIStatusError` subclass for an error frame, and
    `StreamProtocolError` for data that is not a chunk.
    """
    data = event.data
    if data == _DONE:
        return None
    try:
        # A chunk can only contain the text "error" in quotes as a key or a whole value, so
        # this cheap test lets ordinary chunks skip the error-frame probe.
        if '"error"' in data:
            try:
                frame = _decode_error_frame(data)
            except msgspec.ValidationError:
                pass
            else:
                raise stream_error(frame.error.code, frame.error.message, response)
        return _decode_chunk(data)
    except msgspec.DecodeError as exc:
        raise StreamProtocolError(
            f"chat stream sent an event that is not a chunk: {exc}", response, data[:500]
        ) from exc


class ChatAccumulator:
    """Folds chat chunks into the final message; no I/O (the sync facade reuses it).

    Only choice 0 is accumulated (the API streams one choice).

    Example:
        ```python
        acc = ChatAccumulator()
        for chunk in chunks:
            acc.feed(chunk)
        acc.text, acc.finish_reason, acc.usage
        ```
    """

    __slots__ = ("_parts", "_text", "created", "finish_reason", "id", "model", "role", "usage")

    def __init__(self) -> None:
        self._parts: list[str] = []
        self._text: str | None = ""
        self.id = ""
        self.model = ""
        self.created = 0
        self.role = "assistant"
        self.finish_reason: str | None = None
        self.usage: Usage | None = None

    def feed(self, chunk: ChatCompletionChunk) -> str:
        """Add one chunk; returns the text it adds (``""`` for none)."""
        if chunk.id and not self.id:
            self.id = chunk.id
        if chunk.model and not self.model:
            self.model = chunk.model
        if chunk.created and not self.created:
            self.created = chunk.created
        if chunk.usage is not None:
            self.usage = chunk.usage
        delta = ""
        for choice in chunk.choices:
            if choice.index != 0:
                continue
            if choice.delta.role:
                self.role = choice.delta.role
            if choice.delta.content:
                delta = choice.delta.content
                self._parts.append(delta)
                self._text = None
            if choice.finish_reason is not None:
                self.finish_reason = choice.finish_reason
        return delta

    @property
    def text(self) -> str:
        """All the text so far."""
        if self._text is None:
            self._text = "".join(self._parts)
            self._parts = [self._text]
        return self._text

    def message(self) -> ChatCompletion:
        """The accumulated reply in the shape of a non-streamed completion."""
        text = self.text
        return ChatCompletion(
            response=text,
            id=self.id,
            created=self.created,
            model=self.model,
            choices=[
                ChatChoice(
                    index=0,
                    message=ChatMessage(role=self.role, content=text),
                    finish_reason=self.finish_reason,
                )
            ],
            usage=self.usage,
        )


class ChatStream:
    """An open chat stream: iterate it for chunks, or use `text_stream` for text only.

    Leaving the ``async with`` (or `aclose()`) closes the response and frees its connection,
    whether the stream was finished, broken out of, failed or cancelled. Errors: an in-stream
    error frame raises its `APIStatusError` subclass; no event for ``stream_idle``
    seconds raises `StreamIdleTimeout`; a broken connection raises
    `APIConnectionError`; a stream cut before ``[DONE]`` raises
    `StreamProtocolError`. A stream is never retried once it has started.
    """

    __slots__ = ("_accumulator", "_body", "_closed", "_decoder", "_done", "_events", "_idle",
                 "_wire", "response")  # fmt: skip

    def __init__(
        self, response: WireResponse | httpx.Response, *, stream_idle: float | None = None
    ) -> None:
        if isinstance(response, httpx.Response):
            response = wrap_httpx(response, _UNKNOWN_REQUEST, 0.0, True)
        self._wire = response
        # The HTTP response (status, headers, elapsed; its request's key masked).
        self.response = response.response
        _check_event_stream(self.response)
        self._idle = DEFAULT_STREAM_IDLE if stream_idle is None else stream_idle
        # On our pool, the pool's own body iterator; failures arrive as our errors.
        self._body = response.aiter_bytes(context="chat stream")
        self._decoder = SSEDecoder()
        self._events: deque[ServerSentEvent] = deque()
        self._accumulator = ChatAccumulator()
        self._done = False
        self._closed = False

    @property
    def request_id(self) -> str | None:
        """The server's ``X-Request-ID`` for this stream, if it sent one."""
        return self._wire.request_id

    @property
    def accumulator(self) -> ChatAccumulator:
        """What has been received so far."""
        return self._accumulator

    def __aiter__(self) -> ChatStream:
        return self

    async def __anext__(self) -> ChatCompletionChunk:
        events = self._events
        while True:
            while events:
                try:
                    chunk = decode_chat_event(events.popleft(), self.response)
                except BaseException:
                    await self.aclose()
                    raise
                if chunk is None:
                    await self._finish()
                    raise StopAsyncIteration
                self._accumulator.feed(chunk)
                span = self._wire.span
                if span is not None:  # (traced: the span counts the events it delivered)
                    span.events += 1
                return chunk
            if self._done:
                raise StopAsyncIteration
            await self._read_events()

    async def _read_events(self) -> None:
        """Read until at least one event is complete, within one idle window."""
        try:
            # The cancel scope wraps only these awaits; nothing yields from inside it.
            with anyio.move_on_after(self._idle) as window:
                while not self._events:
                    try:
                        data = await self._body.__anext__()
                    except StopAsyncIteration:
                        self._end_of_body()
                        return
                    self._events.extend(self._decoder.feed(data))
        except APITimeoutError as exc:
            # The wire mapped the read timeout; here it means the stream went idle.
            await self.aclose()
            raise StreamIdleTimeout(
                f"chat stream: no data ({type(exc.__cause__).__name__})"
            ) from exc.__cause__
        except BaseException:
            await self.aclose()
            raise
        if window.cancelled_caught:
            await self.aclose()
            raise StreamIdleTimeout(f"chat stream: no event for {self._idle} s")

    async def _finish(self) -> None:
        """After ``[DONE]``: read the (empty) rest so the connection can be kept alive, close."""
        self._done = True
        self._events.clear()
        if not self._closed:
            # The end of the body normally follows [DONE] at once; never make the caller wait
            # long for it (without it the connection is closed rather than kept alive).
            with anyio.move_on_after(_END_OF_BODY_WAIT):
                try:
                    async for _ in self._body:
                        break  # the server should have ended the body; do not wait for more
                except APIConnectionError:
                    pass
        await self.aclose()

    def _end_of_body(self) -> None:
        self._events.extend(self._decoder.flush())
        self._done = True
        if not self._events and self._accumulator.finish_reason is None:
            raise StreamProtocolError(
                "the chat stream ended before [DONE] and without a finish reason", self.response
            )

    @property
    def text_stream(self) -> AsyncIterator[str]:
        """The text deltas only (empty deltas skipped), from where the stream is now."""
        return _TextStream(self)

    async def get_final_text(self) -> str:
        """Read the rest of the stream; the whole reply text."""
        async for _ in self:
            pass
        return self._accumulator.text

    async def get_final_message(self) -> ChatCompletion:
        """Read the rest of the stream; the reply as a completion (text, finish reason, usage)."""
        async for _ in self:
            pass
        return self._accumulator.message()

    async def aclose(self) -> None:
        """Close the response (its connection goes back to the pool) and end the iteration.

        Safe to call again, and called for you when the ``async with`` block is left.
        """
        if self._closed:
            return
        self._closed = True
        self._done = True
        self._events.clear()  # closed means finished: nothing more is handed out
        await self._body.aclose()

    async def __aenter__(self) -> ChatStream:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    def __repr__(self) -> str:
        state = "closed" if self._closed else "open"
        return f"<ChatStream {state} request_id={self.request_id!r}>"


class _TextStream:
    """Async iterator over a `ChatStream`'s non-empty text deltas (not a generator)."""

    __slots__ = ("_stream",)

    def __init__(self, stream: ChatStream) -> None:
        self._stream = stream

    def __aiter__(self) -> _TextStream:
        return self

    async def __anext__(self) -> str:
        stream = self._stream
        while True:
            chunk = await stream.__anext__()
            for choice in chunk.choices:
                if choice.index == 0 and choice.delta.content:
                    return choice.delta.content


class ChatStreamManager:
    """What ``client.ai.chat_stream(...)`` returns: ``async with`` it to get a `ChatStream`.

    ``open_response`` is the transport's ``stream(...)`` call for this request, not yet entered:
    non-2xx statuses and retries happen there, before the stream exists.
    """

    __slots__ = ("_opened", "_stream", "_stream_idle")

    def __init__(
        self,
        open_response: Callable[[], AbstractAsyncContextManager[WireResponse]],
        *,
        stream_idle: float | None = None,
    ) -> None:
        self._opened = open_response
        self._stream_idle = stream_idle
        self._stream: tuple[AbstractAsyncContextManager[WireResponse], ChatStream] | None = None

    async def __aenter__(self) -> ChatStream:
        if self._stream is not None:
            raise RuntimeError("this chat stream was already opened; call chat_stream() again")
        manager = self._opened()
        response = await manager.__aenter__()
        try:
            stream = ChatStream(response, stream_idle=self._stream_idle)
        except BaseException as exc:
            await _read_head(response, exc)
            await manager.__aexit__(type(exc), exc, exc.__traceback__)
            raise
        self._stream = (manager, stream)
        return stream

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        assert self._stream is not None
        manager, stream = self._stream
        try:
            await stream.aclose()
        finally:
            await manager.__aexit__(exc_type, exc, tb)


def _check_event_stream(response: httpx.Response) -> None:  # (a head check: no body read)
    media_type = response.headers.get("content-type", "").partition(";")[0].strip().lower()
    if media_type != "text/event-stream":
        raise StreamProtocolError(
            f"expected a text/event-stream response, got {media_type or 'no content type'!r}",
            response,
            "",
        )


async def _read_head(response: WireResponse, exc: BaseException) -> None:
    """Put the start of a wrong body into a StreamProtocolError, for the user to see."""
    if not isinstance(exc, StreamProtocolError):
        return
    head = bytearray()
    body = response.aiter_bytes()
    try:
        with anyio.move_on_after(5):
            async for piece in body:
                head += piece
                if len(head) >= _PROTOCOL_ERROR_BODY_LIMIT:
                    break
    except APIConnectionError:
        pass
    finally:
        await body.aclose()
    exc.body = head[:_PROTOCOL_ERROR_BODY_LIMIT].decode("utf-8", "replace")


def check_stream_idle(stream_idle: object) -> float | None:
    """``stream_idle`` if it is None or a positive number of seconds, else a typed error."""
    if stream_idle is not None:
        if isinstance(stream_idle, bool) or not isinstance(stream_idle, (int, float)):
            raise InvalidArgumentTypeError("stream_idle must be a number of seconds or None")
        if not stream_idle > 0:
            raise InvalidRequestError("stream_idle must be positive")
    return stream_idle


SSE_REQUEST_HEADERS = {"Accept": "text/event-stream", "Cache-Control": "no-store"}
"""What a request for an event stream sends beside its body."""
