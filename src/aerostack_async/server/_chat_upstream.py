"""``--ai-upstream URL``: answer ``/ai/chat`` with any OpenAI-compatible server.

The request goes to ``POST {URL}/chat/completions``; the reply is mapped to this API's shapes:
the union body for the non-streaming form, and for the stream our own frames re-built from the
upstream's chunks (content chunks, one final chunk with the finish reason, the usage frame if
asked for, ``[DONE]``). Upstream failures before the stream starts are 502
``AI_UPSTREAM_ERROR`` (429 stays 429); after it starts they become an in-stream error frame.
If ``AEROSTACK_AI_UPSTREAM_KEY`` is set it is sent as ``Authorization: Bearer``.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import anyio
import httpx
import msgspec
from httpx_sse import EventSource
from starlette.responses import Response, StreamingResponse

from ._app import json_response
from ._chat_frames import DONE_FRAME, SSE_HEADERS, Completion, error_frame, usage
from ._chat_model import Message, count_tokens, tokenize
from ._errors import ApiError
from ._state import ServerState

UPSTREAM_ERROR = "AI_UPSTREAM_ERROR"
_decode = msgspec.json.Decoder().decode


@dataclass(frozen=True)
class ChatRequest:
    """A validated ``/ai/chat`` request."""

    messages: list[Message]
    model: str
    stream: bool
    include_usage: bool
    temperature: float | None
    max_tokens: int | None
    top_p: float | None


def _payload(request: ChatRequest) -> dict[str, Any]:
    payload: dict[str, Any] = {
        "model": request.model,
        "messages": [{"role": m.role, "content": m.content} for m in request.messages],
        "stream": request.stream,
    }
    for name in ("temperature", "max_tokens", "top_p"):
        value = getattr(request, name)
        if value is not None:
            payload[name] = value
    if request.stream and request.include_usage:
        payload["stream_options"] = {"include_usage": True}
    return payload


def _upstream_failure(message: str, details: dict[str, Any] | None = None) -> ApiError:
    return ApiError(502, UPSTREAM_ERROR, message, details)


def _finish_reason(value: Any) -> str:
    return "length" if value == "length" else "stop"


def _usage(value: Any, request: ChatRequest, completion_tokens: int) -> dict[str, int]:
    if isinstance(value, dict):
        try:
            return usage(int(value["prompt_tokens"]), int(value["completion_tokens"]))
        except (KeyError, TypeError, ValueError):
            pass
    return usage(count_tokens(request.messages), completion_tokens)


async def forward(state: ServerState, request: ChatRequest) -> Response:
    """Answer ``request`` with the upstream server named by ``--ai-upstream``."""
    assert state.http is not None
    assert state.config.ai_upstream
    url = state.config.ai_upstream.rstrip("/") + "/chat/completions"
    headers = {"accept": "text/event-stream" if request.stream else "application/json"}
    token = os.environ.get("AEROSTACK_AI_UPSTREAM_KEY")
    if token:
        headers["authorization"] = f"Bearer {token}"
    outgoing = state.http.build_request("POST", url, json=_payload(request), headers=headers)
    try:
        response = await state.http.send(outgoing, stream=True)
    except httpx.HTTPError as exc:
        raise _upstream_failure(f"AI upstream unreachable: {type(exc).__name__}") from None
    streaming = False
    try:
        if response.status_code >= 300:
            await _raise_for_status(response)
        if not request.stream:
            return json_response(await _complete(state, request, response))
        streaming = True
    finally:
        if not streaming:
            with anyio.CancelScope(shield=True):
                await response.aclose()
    return StreamingResponse(_relay(state, request, response), headers=SSE_HEADERS)


async def _raise_for_status(response: httpx.Response) -> None:
    try:
        text = (await response.aread()).decode("utf-8", "replace")[:2000]
    except httpx.HTTPError:
        text = ""
    if response.status_code == 429:
        retry_after = response.headers.get("retry-after", "1")
        raise ApiError(
            429,
            "RATE_LIMIT_EXCEEDED",
            "The AI upstream is rate limiting",
            headers={"Retry-After": retry_after if retry_after.isdigit() else "1"},
        )
    raise _upstream_failure(
        f"AI upstream answered {response.status_code}",
        {"upstreamStatus": response.status_code, "upstreamBody": text},
    )


async def _complete(
    state: ServerState, request: ChatRequest, response: httpx.Response
) -> dict[str, Any]:
    try:
        data = _decode(await response.aread())
        choice = data["choices"][0]
        content = choice["message"].get("content") or ""
        if not isinstance(content, str):
            raise TypeError("content is not a string")
    except (httpx.HTTPError, msgspec.DecodeError, LookupError, TypeError, AttributeError) as exc:
        raise _upstream_failure(f"AI upstream sent an unusable reply: {exc}") from None
    completion = _identity(data, request, state)
    counts = _usage(data.get("usage"), request, len(tokenize(content)))
    return completion.body(content, _finish_reason(choice.get("finish_reason")), counts)


def _identity(data: Any, request: ChatRequest, state: ServerState) -> Completion:
    fresh = Completion.new(request.model, state.clock())
    if not isinstance(data, dict):
        return fresh
    ident, created, model = data.get("id"), data.get("created"), data.get("model")
    return Completion(
        ident if isinstance(ident, str) and ident else fresh.id,
        created if isinstance(created, int) and not isinstance(created, bool) else fresh.created,
        model if isinstance(model, str) and model else fresh.model,
    )


async def _relay(
    state: ServerState, request: ChatRequest, response: httpx.Response
) -> AsyncIterator[bytes]:
    completion: Completion | None = None
    finish: str | None = None
    upstream_usage: Any = None
    pieces = 0
    try:
        async for event in EventSource(response).aiter_sse():
            if event.data == "[DONE]":
                break
            try:
                data = _decode(event.data)
            except msgspec.DecodeError:
                continue  # keep-alives and comments carry nothing for us
            if not isinstance(data, dict):
                continue
            if completion is None:
                completion = _identity(data, request, state)
            if "error" in data:
                error = data["error"] if isinstance(data["error"], dict) else {}
                yield error_frame(
                    str(error.get("code") or UPSTREAM_ERROR),
                    str(error.get("message") or "The AI upstream failed"),
                )
                return
            if data.get("usage") is not None:
                upstream_usage = data["usage"]
            for choice in data.get("choices") or []:
                delta = choice.get("delta") if isinstance(choice, dict) else None
                if not isinstance(delta, dict):
                    continue
                content = delta.get("content")
                if isinstance(content, str) and content:
                    pieces += 1
                    yield completion.chunk(content)
                if choice.get("finish_reason") is not None:
                    finish = _finish_reason(choice["finish_reason"])
    except httpx.HTTPError as exc:
        yield error_frame(UPSTREAM_ERROR, f"The AI upstream stream broke: {type(exc).__name__}")
        return
    finally:
        with anyio.CancelScope(shield=True):
            await response.aclose()
    completion = completion or Completion.new(request.model, state.clock())
    yield completion.chunk("", finish or "stop")
    if request.include_usage:
        yield completion.usage_chunk(_usage(upstream_usage, request, pieces))
    yield DONE_FRAME
