"""A chat page: one ``AsyncAerostack`` for the whole app, replies streamed to the browser.

Routes:

- ``GET /`` the page (``page.html``: plain HTML and a little JavaScript).
- ``POST /chat`` with ``{"messages": [{"role": "user", "content": "..."}, ...]}``: the reply
  as server-sent events, ``token`` (``{"text": ...}``) as each arrives, then ``done``
  (``{"finish_reason": ...}``) or ``error`` (``{"message": ...}``).
- ``POST /upload?key=KEY`` with the file as the raw body: stored with
  ``client.storage.upload``, streamed through as it arrives (never held whole in memory).
- ``GET /stats``: chat relays open now, and how the others ended (``completed``,
  ``cancelled`` when the browser went away mid-reply, ``failed``).

The browser closing the page (or the page's Stop button) ends the HTTP request; the relay
notices, cancels the upstream stream and leaves ``async with client.ai.chat_stream``, which
closes that stream's connection instead of reading the rest of a reply nobody will see.

Settings come from ``AEROSTACK_BASE_URL`` (default: the emulator at
``http://localhost:8787/v1``) and ``AEROSTACK_API_KEY`` (default: the emulator's key).
"""

from __future__ import annotations

import json
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Literal

import anyio
import msgspec
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from aerostack_async import AsyncAerostack
from aerostack_async.errors import AerostackError, APIStatusError, InvalidRequestError

PAGE = (Path(__file__).parent / "page.html").read_text(encoding="utf-8")


class Turn(msgspec.Struct):
    """One message of the conversation, as the page sends it."""

    role: Literal["system", "user", "assistant"]
    content: str


class ChatRequest(msgspec.Struct):
    """The body of ``POST /chat``: the whole conversation so far, the question last."""

    messages: list[Turn]


@dataclass
class RelayStats:
    """Chat relays open now, and how the finished ones ended."""

    open: int = 0
    completed: int = 0
    cancelled: int = 0  # the browser went away (closed the page, pressed Stop) mid-reply
    failed: int = 0


def _event(name: str, data: object) -> dict[str, object]:
    # One server-sent event as an ASGI body message; json.dumps never writes a newline, so the
    # data is always a single "data:" line.
    frame = f"event: {name}\ndata: {json.dumps(data)}\n\n".encode()
    return {"type": "http.response.body", "body": frame, "more_body": True}


class ChatRelay:
    """An ASGI response: one reply's tokens, relayed as server-sent events as they arrive."""

    def __init__(self, client: AsyncAerostack, messages: list[Turn], stats: RelayStats) -> None:
        self.client = client
        self.messages = [{"role": turn.role, "content": turn.content} for turn in messages]
        self.stats = stats

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [
                    (b"content-type", b"text/event-stream; charset=utf-8"),
                    (b"cache-control", b"no-cache"),
                    (b"x-accel-buffering", b"no"),  # proxies: pass each event on at once
                ],
            }
        )
        async with anyio.create_task_group() as relay:
            relay.start_soon(self._cancel_on_disconnect, receive, relay.cancel_scope)
            await self._relay(send)
            await send({"type": "http.response.body", "body": b"", "more_body": False})
            relay.cancel_scope.cancel()  # done: stop listening for a disconnect

    @staticmethod
    async def _cancel_on_disconnect(receive: Receive, relay: anyio.CancelScope) -> None:
        # The request body was read already, so the next message is the disconnect: the
        # browser closed the page or aborted the fetch.
        while (await receive())["type"] != "http.disconnect":
            pass
        relay.cancel()

    async def _relay(self, send: Send) -> None:
        self.stats.open += 1
        ended = "cancelled"  # unless we get to say otherwise below
        try:
            async with self.client.ai.chat_stream(self.messages) as stream:
                async for text in stream.text_stream:
                    await send(_event("token", {"text": text}))
                final = await stream.get_final_message()
            ended = "completed"
            await send(_event("done", {"finish_reason": final.choices[0].finish_reason}))
        except AerostackError as exc:  # refused, or failed mid-stream: tell the page
            ended = "failed"
            await send(_event("error", {"message": str(exc)}))
        except Exception:
            ended = "failed"
            raise
        finally:
            # Past the async with: the upstream stream is closed, its connection freed.
            self.stats.open -= 1
            setattr(self.stats, ended, getattr(self.stats, ended) + 1)


def _error(status: int, message: str) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status)


async def page(request: Request) -> Response:
    """The chat page."""
    return HTMLResponse(PAGE)


async def chat(request: Request) -> Response | ChatRelay:
    """Relay the reply to the conversation in the body, token by token."""
    try:
        body = msgspec.json.decode(await request.body(), type=ChatRequest)
    except msgspec.DecodeError as exc:  # ValidationError included
        return _error(400, f"bad chat request: {exc}")
    if not body.messages:
        return _error(400, "bad chat request: no messages")
    return ChatRelay(request.app.state.client, body.messages, request.app.state.stats)


async def upload(request: Request) -> Response:
    """Store the request's body under ``?key=``, streamed to storage as it arrives."""
    client: AsyncAerostack = request.app.state.client
    key = request.query_params.get("key", "")
    length = request.headers.get("content-length")
    try:
        result = await client.storage.upload(
            key,
            request.stream(),  # chunks as the browser sends them
            content_type=request.headers.get("content-type") or None,
            size=int(length) if length and length.isdigit() else None,
        )
    except InvalidRequestError as exc:  # refused before sending: a bad key
        return _error(400, str(exc))
    except APIStatusError as exc:  # the platform said no (too large, bad key, ...)
        return _error(502, str(exc))
    return JSONResponse({"key": key, **msgspec.to_builtins(result)})


async def stats(request: Request) -> Response:
    """How many chat relays are open, and how the finished ones ended."""
    return JSONResponse(asdict(request.app.state.stats))


@asynccontextmanager
async def lifespan(app: Starlette) -> AsyncIterator[None]:
    """One client, so one connection pool, for every request the app serves."""
    async with AsyncAerostack(
        api_key=os.environ.get("AEROSTACK_API_KEY", "sk_local_aerostack"),
        base_url=os.environ.get("AEROSTACK_BASE_URL", "http://localhost:8787/v1"),
    ) as client:
        app.state.client = client
        app.state.stats = RelayStats()
        yield


app = Starlette(
    routes=[
        Route("/", page),
        Route("/chat", chat, methods=["POST"]),
        Route("/upload", upload, methods=["POST"]),
        Route("/stats", stats),
    ],
    lifespan=lifespan,
)
