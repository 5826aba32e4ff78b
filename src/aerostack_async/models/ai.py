"""Wire types of ``/ai/chat``: the request, the completion, and the streamed chunks."""

from __future__ import annotations

from typing import Literal

import msgspec

from ._base import Model

__all__ = [
    "ChatChoice",
    "ChatCompletion",
    "ChatCompletionChunk",
    "ChatDelta",
    "ChatMessage",
    "ChatRequest",
    "ChatStreamError",
    "ChatStreamErrorFrame",
    "ChunkChoice",
    "Role",
    "StreamOptions",
    "Usage",
]

Role = Literal["system", "user", "assistant"]
DEFAULT_MODEL = "@cf/meta/llama-3-8b-instruct"


class ChatMessage(Model, kw_only=True, omit_defaults=False):
    """One message of a conversation (role and content are always sent, for upstream models)."""

    role: str = "user"
    content: str = ""


class StreamOptions(Model, kw_only=True):
    """Streaming options: ``include_usage`` adds a final usage chunk."""

    include_usage: bool = False


class ChatRequest(Model, kw_only=True):
    """``POST /ai/chat``."""

    messages: list[ChatMessage]
    model: str | None = None
    stream: bool | None = None
    stream_options: StreamOptions | None = None
    temperature: float | None = None
    max_tokens: int | None = None
    top_p: float | None = None


class Usage(Model, kw_only=True):
    """Tokens spent."""

    prompt_tokens: int = 0
    completion_tokens: int = 0
    total_tokens: int = 0


class ChatChoice(Model, kw_only=True):
    """One completion choice."""

    index: int = 0
    message: ChatMessage
    finish_reason: str | None = None


class ChatCompletion(Model, kw_only=True):
    """A whole (non-streamed) completion; ``response`` is the text, as the seed API sent it."""

    response: str = ""
    id: str = ""
    object: str = "chat.completion"
    created: int = 0
    model: str = ""
    choices: list[ChatChoice] = []
    usage: Usage | None = None

    @property
    def text(self) -> str:
        """The completion's text (the first choice's content, else ``response``)."""
        if self.choices:
            return self.choices[0].message.content
        return self.response


class ChatDelta(Model, kw_only=True):
    """What one chunk adds to the message."""

    role: str | None = None
    content: str = ""


class ChunkChoice(Model, kw_only=True):
    """One choice's delta in a chunk; ``finish_reason`` is set on the last one."""

    index: int = 0
    delta: ChatDelta = msgspec.field(default_factory=ChatDelta)
    finish_reason: str | None = None


class ChatCompletionChunk(Model, kw_only=True):
    """One ``data:`` frame of a chat stream; the usage frame has no choices."""

    id: str = ""
    object: str = "chat.completion.chunk"
    created: int = 0
    model: str = ""
    choices: list[ChunkChoice] = []
    usage: Usage | None = None


class ChatStreamError(Model, kw_only=True):
    """An error the server reported after the stream started."""

    code: str = ""
    message: str = ""


class ChatStreamErrorFrame(Model, kw_only=True):
    """The frame ``{"error": {"code", "message"}}``."""

    error: ChatStreamError
