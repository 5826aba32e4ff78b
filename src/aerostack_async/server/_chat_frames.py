"""The bytes of ``/ai/chat`` replies: the non-streaming body and the SSE frames of API.md.

Every frame is ``data: <compact JSON>\\n\\n``; a stream is content chunks (``finish_reason``
null), one final chunk with empty content and the finish reason, an optional usage frame with
``choices: []``, then ``data: [DONE]\\n\\n``. An error after the start is one
``{"error": {...}}`` frame and the end of the stream.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import Any

import msgspec

_encode = msgspec.json.Encoder().encode

DONE_FRAME = b"data: [DONE]\n\n"
SSE_HEADERS = {
    "content-type": "text/event-stream",
    "cache-control": "no-cache",
    "x-accel-buffering": "no",
}


def usage(prompt_tokens: int, completion_tokens: int) -> dict[str, int]:
    """The ``usage`` object."""
    return {
        "prompt_tokens": prompt_tokens,
        "completion_tokens": completion_tokens,
        "total_tokens": prompt_tokens + completion_tokens,
    }


def frame(value: Any) -> bytes:
    """One ``data:`` frame carrying ``value`` as JSON."""
    return b"data: " + _encode(value) + b"\n\n"


def error_frame(code: str, message: str) -> bytes:
    """The in-stream error frame."""
    return frame({"error": {"code": code, "message": message}})


@dataclass(frozen=True)
class Completion:
    """The identity shared by every frame of one reply."""

    id: str
    created: int
    model: str

    @classmethod
    def new(cls, model: str, now: float) -> Completion:
        """A fresh completion id for ``model`` at ``now``."""
        return cls("chatcmpl-" + secrets.token_hex(12), int(now), model)

    def body(self, content: str, finish_reason: str, usage: dict[str, int]) -> dict[str, Any]:
        """The non-streaming response (the union of both published shapes)."""
        return {
            "response": content,
            "id": self.id,
            "object": "chat.completion",
            "created": self.created,
            "model": self.model,
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": content},
                    "finish_reason": finish_reason,
                }
            ],
            "usage": usage,
        }

    def chunk(self, content: str, finish_reason: str | None = None) -> bytes:
        """A ``chat.completion.chunk`` frame."""
        return frame(
            {
                "id": self.id,
                "object": "chat.completion.chunk",
                "created": self.created,
                "model": self.model,
                "choices": [
                    {"index": 0, "delta": {"content": content}, "finish_reason": finish_reason}
                ],
            }
        )

    def usage_chunk(self, usage: dict[str, int]) -> bytes:
        """The usage frame sent when ``stream_options.include_usage`` is true."""
        return frame(
            {
                "id": self.id,
                "object": "chat.completion.chunk",
                "created": self.created,
                "model": self.model,
                "choices": [],
                "usage": usage,
            }
        )
