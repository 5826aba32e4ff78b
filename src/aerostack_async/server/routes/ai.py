"""Emulator routes: ``/ai/chat``, answered by the local generator or an upstream server.

Without ``--ai-upstream`` the reply comes from ``_chat_model`` (deterministic, not an LLM) and
is streamed a token at a time, ``--ai-token-delay-ms`` apart. The model name
``@local/fail-mid-stream`` makes the stream fail half-way with an in-stream error frame (and
the non-streaming form fail with 500), so clients can test their error paths.
"""

from __future__ import annotations

from typing import Any

import anyio
from starlette.responses import StreamingResponse

from .._app import Call, Operation, RouteModule
from .._chat_frames import DONE_FRAME, SSE_HEADERS, Completion, error_frame, usage
from .._chat_model import Message, count_tokens, reply, tokenize
from .._chat_upstream import ChatRequest, forward
from .._errors import ApiError

DEFAULT_MODEL = "@cf/meta/llama-3-8b-instruct"
FAIL_MID_STREAM_MODEL = "@local/fail-mid-stream"
ROLES = ("system", "user", "assistant")
MAX_MESSAGES = 10_000
_FAILURE = "Simulated failure of model @local/fail-mid-stream"


def _messages(call: Call) -> list[Message]:
    items = call.body.array("messages", required=True, min_items=1, max_items=MAX_MESSAGES)
    messages: list[Message] = []
    for index, item in enumerate(items if isinstance(items, list) else []):
        name = f"messages[{index}]"
        if not isinstance(item, dict):
            call.body.error(name, "Expected object")
            continue
        # The 1.0.0 schema lets either field be left out.
        role = item.get("role")
        content = item.get("content")
        if role is None:
            role = "user"
        elif role not in ROLES:
            call.body.error(f"{name}.role", "Must be one of: " + ", ".join(ROLES))
        if content is None:
            content = ""
        elif not isinstance(content, str):
            call.body.error(f"{name}.content", "Expected string")
        messages.append(Message(str(role), content if isinstance(content, str) else ""))
    return messages


def parse_request(call: Call) -> ChatRequest:
    """Validate a chat request body (all problems at once, as ``details.fieldErrors``)."""
    body = call.body
    messages = _messages(call)
    # The 1.0.0 schema allows an empty model name: it means the default, like an absent one.
    model = body.string("model", default=DEFAULT_MODEL, max_bytes=256) or DEFAULT_MODEL
    stream = body.boolean("stream", default=False)
    options = body.object("stream_options", default={})
    include_usage = False
    if isinstance(options, dict) and options.get("include_usage") is not None:
        include_usage = options["include_usage"]
        if not isinstance(include_usage, bool):
            body.error("stream_options.include_usage", "Expected boolean")
            include_usage = False
    temperature = body.number("temperature", minimum=0, maximum=2)
    max_tokens = body.integer("max_tokens", minimum=1)
    top_p = body.number("top_p", minimum=0, maximum=1)
    body.check()
    return ChatRequest(
        messages=messages,
        model=model,
        stream=stream,
        include_usage=include_usage,
        temperature=temperature,
        max_tokens=max_tokens,
        top_p=top_p,
    )


async def chat(call: Call) -> Any:
    """``POST /ai/chat``: one reply, as JSON or as an event stream."""
    request = parse_request(call)
    if call.state.config.ai_upstream:
        return await forward(call.state, request)
    tokens = tokenize(reply(request.messages, request.model))
    finish_reason = "stop"
    if request.max_tokens is not None and len(tokens) > request.max_tokens:
        tokens = tokens[: request.max_tokens]
        finish_reason = "length"
    completion = Completion.new(request.model, call.state.clock())
    counts = usage(count_tokens(request.messages), len(tokens))
    if request.stream:
        return StreamingResponse(
            _stream(call, request, completion, tokens, finish_reason, counts),
            headers=SSE_HEADERS,
        )
    if request.model == FAIL_MID_STREAM_MODEL:
        raise ApiError(500, "INTERNAL_ERROR", _FAILURE)
    return completion.body("".join(tokens), finish_reason, counts)


def _stream(
    call: Call,
    request: ChatRequest,
    completion: Completion,
    tokens: list[str],
    finish_reason: str,
    counts: dict[str, int],
) -> _Frames:
    fail_at = len(tokens) // 2 if request.model == FAIL_MID_STREAM_MODEL else None
    frames = [completion.chunk(token) for token in tokens[:fail_at]]
    if fail_at is not None:
        frames.append(error_frame("INTERNAL_ERROR", _FAILURE))
        paced = len(frames)
    else:
        paced = len(frames)
        frames.append(completion.chunk("", finish_reason))
        if request.include_usage:
            frames.append(completion.usage_chunk(counts))
        frames.append(DONE_FRAME)
    return _Frames(frames, paced, call.state.config.ai_token_delay_ms / 1000)


class _Frames:
    """A reply's SSE frames, a pause before each token but the first.

    A class, not an async generator: a reply cut short (the client left) is simply dropped,
    with no generator left for the garbage collector to finalize.
    """

    def __init__(self, frames: list[bytes], paced: int, delay: float) -> None:
        self._frames = frames
        self._paced = paced
        self._delay = delay
        self._next = 0

    def __aiter__(self) -> _Frames:
        return self

    async def __anext__(self) -> bytes:
        index = self._next
        if index >= len(self._frames):
            raise StopAsyncIteration
        if 0 < index < self._paced:
            await anyio.sleep(self._delay)
        self._next = index + 1
        return self._frames[index]


MODULE = RouteModule(operations=[Operation("/ai/chat", chat, secret_only=True)])
