"""``client.ai``: chat completions, whole (``chat``) or streamed (``chat_stream``).

The stream's mechanics (SSE decoding, chunk accumulation) are in `aerostack_async.streaming`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from contextlib import AbstractAsyncContextManager
from typing import TYPE_CHECKING, Any

from .._options import CallOptions, Unpack
from ..errors import InvalidRequestError
from ..models._base import decoder_for
from ..models.ai import ChatCompletion, ChatMessage, ChatRequest, StreamOptions
from ..streaming.chat import SSE_REQUEST_HEADERS, ChatStreamManager, check_stream_idle
from ._base import (
    Resource,
    check_list,
    check_number,
    check_optional_int,
    check_optional_str,
    convert,
    encode_body,
)

if TYPE_CHECKING:
    from .._wire import WireResponse

__all__ = ["AI", "build_chat_request"]

ROLES = frozenset({"system", "user", "assistant"})
_COMPLETION = decoder_for(ChatCompletion)


def _message(index: int, value: object) -> ChatMessage:
    message = convert(f"messages[{index}]", value, ChatMessage)
    if not isinstance(message.role, str) or message.role not in ROLES:
        raise InvalidRequestError(f"messages[{index}].role must be one of: system, user, assistant")
    if not isinstance(message.content, str):
        raise InvalidRequestError(f"messages[{index}].content must be a str")
    return message


def build_chat_request(
    messages: Sequence[ChatMessage | Mapping[str, Any]] | str,
    *,
    model: str | None = None,
    temperature: float | None = None,
    max_tokens: int | None = None,
    top_p: float | None = None,
) -> ChatRequest:
    """The checked request body for a chat (shared with the streaming form).

    ``messages`` are `ChatMessage` or ``{"role", "content"}``
    dicts; a plain string is one user message.
    """
    if isinstance(messages, str):
        items: list[Any] = [ChatMessage(role="user", content=messages)]
    else:
        items = check_list("messages", messages, min_items=1)
    return ChatRequest(
        messages=[_message(i, m) for i, m in enumerate(items)],
        model=check_optional_str("model", model),
        temperature=check_number("temperature", temperature, minimum=0, maximum=2),
        max_tokens=check_optional_int("max_tokens", max_tokens, minimum=1),
        top_p=check_number("top_p", top_p, minimum=0, maximum=1),
    )


class AI(Resource):
    """Chat completions from the project's model."""

    __slots__ = ()

    async def chat(
        self,
        messages: Sequence[ChatMessage | Mapping[str, Any]] | str,
        *,
        model: str | None = None,
        temperature: float | None = None,
        max_tokens: int | None = None,
        top_p: float | None = None,
        **options: Unpack[CallOptions],
    ) -> ChatCompletion:
        """A whole completion at once (``.text`` is its content).

        Example:
            ```python
            completion = await client.ai.chat([{"role": "user", "content": "Hi"}])
            print(completion.text, completion.usage)
            ```
        """
        request = build_chat_request(
            messages, model=model, temperature=temperature, max_tokens=max_tokens, top_p=top_p
        )
        return await self._transport.request(
            "POST", "/ai/chat", encode_body(request), _COMPLETION, mutating=True, options=options
        )

    def chat_stream(
        self,
        messages: Sequence[ChatMessage | Mapping[str, Any]] | str,
        *,
        model: str | None = None,
        max_tokens: int | None = None,
        temperature: float | None = None,
        top_p: float | None = None,
        include_usage: bool = False,
        stream_idle: float | None = None,
        **options: Unpack[CallOptions],
    ) -> ChatStreamManager:
        """A streamed completion: ``async with`` it to get a `ChatStream`.

        ``include_usage`` adds a final usage frame; ``stream_idle`` (default 60 s) is the longest
        gap between events before `StreamIdleTimeout`.

        Example:
            ```python
            async with client.ai.chat_stream("Tell me a story") as stream:
                async for text in stream.text_stream:
                    print(text, end="", flush=True)
            ```
        """
        request = build_chat_request(
            messages, model=model, temperature=temperature, max_tokens=max_tokens, top_p=top_p
        )
        if not isinstance(include_usage, bool):
            raise InvalidRequestError("include_usage must be a bool")
        request.stream = True
        if include_usage:
            request.stream_options = StreamOptions(include_usage=True)
        stream_idle = check_stream_idle(stream_idle)
        body = encode_body(request)
        transport = self._transport

        def open_response() -> AbstractAsyncContextManager[WireResponse]:
            return transport.stream(
                "POST",
                "/ai/chat",
                content=body,
                headers=SSE_REQUEST_HEADERS,
                # No Idempotency-Key: a chat has no side effect to protect, and a server never
                # stores a stream to replay it, so the key would only cost the server a lookup.
                mutating=False,
                options=options,
            )

        # Nothing is sent until the manager is entered.
        return ChatStreamManager(open_response, stream_idle=stream_idle)
