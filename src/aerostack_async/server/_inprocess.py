"""The emulator served in-process: an httpx transport that calls the ASGI app directly.

No socket, no subprocess: a request becomes an ASGI call in the same event loop. Unlike
``httpx.ASGITransport``, responses stream (a chat's tokens arrive one by one, a download chunk
by chunk), request bodies stream into the app (uploads), closing a response early tells the
app the client went away, and the app's lifespan runs (its background tasks included).

The app's tasks live in a host task that belongs to no caller: on asyncio a plain task, on trio
a system task. So the transport can be opened in one task and closed in another (as
pytest-asyncio runs a fixture's setup and teardown), and a request cancelled by its caller
never cancels the emulator. Works on asyncio and on trio.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Awaitable, Callable, MutableMapping
from types import TracebackType
from typing import Any
from urllib.parse import unquote

import anyio
import httpx
import sniffio
from anyio.abc import TaskGroup
from anyio.streams.memory import MemoryObjectReceiveStream, MemoryObjectSendStream

logger = logging.getLogger("aerostack_async.server")

Message = MutableMapping[str, Any]
ASGIApp = Callable[
    [
        MutableMapping[str, Any],
        Callable[[], Awaitable[Message]],
        Callable[[Message], Awaitable[None]],
    ],
    Awaitable[None],
]
# Response messages buffered ahead of the reader (backpressure past that).
_BUFFERED_MESSAGES = 16
# Strong references to asyncio host tasks (the loop keeps only weak ones).
_asyncio_hosts: set[Any] = set()


class InProcessTransport(httpx.AsyncBaseTransport):
    """Serve ``app`` to an ``httpx.AsyncClient`` without sockets.

    The app starts (lifespan startup) when the client is entered or on the first request,
    and stops when the client is closed. Use one transport per event loop.
    """

    def __init__(self, app: ASGIApp, *, client: tuple[str, int] = ("127.0.0.1", 50000)) -> None:
        self.app = app
        self._client = client
        self._tasks: TaskGroup | None = None
        self._starting: anyio.Event | None = None
        self._startup_error: BaseException | None = None
        self._shutdown: anyio.Event | None = None
        self._stopped: anyio.Event | None = None
        self._closed = False

    # -- lifecycle ------------------------------------------------------------------------------

    async def __aenter__(self) -> InProcessTransport:
        await self._start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None = None,
        exc: BaseException | None = None,
        traceback: TracebackType | None = None,
    ) -> None:
        await self.aclose()

    async def _start(self) -> None:
        if self._closed:
            raise RuntimeError("this in-process transport is closed")
        if self._starting is None:
            self._starting = anyio.Event()
            self._shutdown = anyio.Event()
            self._stopped = anyio.Event()
            _spawn_host(self._host)
        await self._starting.wait()
        if self._startup_error is not None:
            raise RuntimeError("the app's lifespan startup failed") from self._startup_error

    async def aclose(self) -> None:
        """Run the app's lifespan shutdown and stop its tasks (idempotent)."""
        self._closed = True
        if self._starting is None or self._shutdown is None or self._stopped is None:
            return
        await self._starting.wait()
        self._shutdown.set()
        with anyio.CancelScope(shield=True):
            await self._stopped.wait()

    async def _host(self) -> None:
        assert self._starting is not None
        assert self._stopped is not None
        try:
            async with anyio.create_task_group() as tasks:
                self._tasks = tasks
                await self._lifespan()
                tasks.cancel_scope.cancel()
        except Exception as exc:  # a host must not raise (on trio that ends the whole run)
            logger.exception("the in-process emulator stopped with an error")
            self._startup_error = self._startup_error or exc
        finally:
            self._tasks = None
            self._starting.set()
            self._stopped.set()

    async def _lifespan(self) -> None:
        assert self._starting is not None
        assert self._shutdown is not None
        starting, shutdown = self._starting, self._shutdown
        sent_startup = False

        async def receive() -> Message:
            nonlocal sent_startup
            if not sent_startup:
                sent_startup = True
                return {"type": "lifespan.startup"}
            await shutdown.wait()
            return {"type": "lifespan.shutdown"}

        async def send(message: Message) -> None:
            kind = message["type"]
            if kind == "lifespan.startup.complete":
                starting.set()
            elif kind == "lifespan.startup.failed":
                self._startup_error = RuntimeError(message.get("message", "startup failed"))
                starting.set()

        scope = {"type": "lifespan", "asgi": {"version": "3.0"}, "state": {}}
        await self.app(scope, receive, send)
        starting.set()

    # -- requests -------------------------------------------------------------------------------

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        """Run ``request`` through the app; the response streams as the app sends it."""
        if self._tasks is None:
            await self._start()
        tasks = self._tasks
        if tasks is None:
            raise httpx.ConnectError("the in-process emulator is not running", request=request)
        exchange = _Exchange(request, self._client)
        tasks.start_soon(exchange.run, self.app)
        try:
            start = await exchange.response_start()
        except BaseException:
            exchange.abandon()
            raise
        return httpx.Response(
            start["status"],
            headers=start.get("headers", []),
            stream=_ResponseBody(exchange),
            request=request,
            extensions={"http_version": b"HTTP/1.1"},
        )


class _Exchange:
    """One request's ASGI call, run in the host, and the messages it sends back."""

    def __init__(self, request: httpx.Request, client: tuple[str, int]) -> None:
        url = request.url
        self.scope: dict[str, Any] = {
            "type": "http",
            "asgi": {"version": "3.0"},
            "http_version": "1.1",
            "method": request.method,
            "headers": [(name.lower(), value) for name, value in request.headers.raw],
            "scheme": url.scheme,
            "path": unquote(url.path),
            "raw_path": url.raw_path.split(b"?", 1)[0],
            "query_string": url.query,
            "root_path": "",
            "server": (url.host, url.port or (443 if url.scheme == "https" else 80)),
            "client": client,
        }
        self.request = request
        self.cancel_scope = anyio.CancelScope()
        self.closed = anyio.Event()
        self.error: BaseException | None = None
        channel: tuple[MemoryObjectSendStream[Message], MemoryObjectReceiveStream[Message]]
        channel = anyio.create_memory_object_stream(_BUFFERED_MESSAGES)
        self.outbox, self.inbox = channel
        self._body: AsyncIterator[bytes] | None = None
        self._request_done = False
        self.response_done = False

    async def run(self, app: ASGIApp) -> None:
        try:
            with self.cancel_scope:
                await app(self.scope, self._receive, self._send)
        except Exception as exc:
            self.error = exc
        finally:
            self.outbox.close()

    async def _receive(self) -> Message:
        if not self._request_done:
            if self._body is None:
                stream = self.request.stream
                assert isinstance(stream, httpx.AsyncByteStream)
                self._body = stream.__aiter__()
            try:
                chunk = await self._body.__anext__()
            except StopAsyncIteration:
                self._request_done = True
                return {"type": "http.request", "body": b"", "more_body": False}
            return {"type": "http.request", "body": bytes(chunk), "more_body": True}
        # The body is all read: the next thing to say is that the client went away.
        await self.closed.wait()
        return {"type": "http.disconnect"}

    async def _send(self, message: Message) -> None:
        if self.closed.is_set():
            raise OSError("the client closed the response")
        await self.outbox.send(message)

    async def response_start(self) -> Message:
        async for message in self.inbox:
            if message["type"] == "http.response.start":
                return message
        if self.error is not None:
            raise self.error
        raise httpx.RemoteProtocolError("the app sent no response", request=self.request)

    async def next_chunk(self) -> bytes | None:
        """The next piece of the response body; ``None`` once it is complete."""
        if self.response_done:
            return None
        async for message in self.inbox:
            if message["type"] != "http.response.body":
                continue
            chunk: bytes = message.get("body", b"")
            if not message.get("more_body", False):
                self.response_done = True
                return chunk or None
            if chunk:
                return chunk
        raise httpx.RemoteProtocolError(
            "the app stopped before its response was complete", request=self.request
        )

    def abandon(self) -> None:
        """The caller is done (or gave up): tell the app, and stop it if it is still going."""
        self.closed.set()
        self.cancel_scope.cancel()
        self.inbox.close()


class _ResponseBody(httpx.AsyncByteStream):
    # An iterator class, not an async generator: a body left unread leaves nothing behind for
    # the garbage collector to finalize (which trio warns about).
    def __init__(self, exchange: _Exchange) -> None:
        self._exchange = exchange

    def __aiter__(self) -> _ResponseBody:
        return self

    async def __anext__(self) -> bytes:
        chunk = await self._exchange.next_chunk()
        if chunk is None:
            raise StopAsyncIteration
        return chunk

    async def aclose(self) -> None:
        self._exchange.abandon()


def _spawn_host(host: Callable[[], Awaitable[None]]) -> None:
    """Start ``host`` as a task of its own, outside the caller's task tree."""
    library = sniffio.current_async_library()
    if library == "trio":
        import trio

        trio.lowlevel.spawn_system_task(host)
    elif library == "asyncio":
        import asyncio

        async def run() -> None:
            await host()

        task = asyncio.get_running_loop().create_task(run())
        _asyncio_hosts.add(task)
        task.add_done_callback(_asyncio_hosts.discard)
    else:  # pragma: no cover
        raise RuntimeError(f"the in-process emulator runs on asyncio or trio, not {library}")
