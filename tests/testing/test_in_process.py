"""The in-process emulator: its transport (streaming, lifespan, disconnects) and the client on it.

Every test runs on asyncio and on trio.
"""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator, Awaitable, Callable, MutableMapping
from typing import Any

import anyio
import httpx
import pytest

from aerostack_async import AsyncAerostack
from aerostack_async.errors import NotFoundError
from aerostack_async.server._inprocess import InProcessTransport
from aerostack_async.testing import IN_PROCESS_BASE_URL, InProcessEmulator, in_process_client

pytestmark = pytest.mark.anyio

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]


def with_lifespan(
    handler: Callable[[Scope, Receive, Send], Awaitable[None]],
) -> Callable[[Scope, Receive, Send], Awaitable[None]]:
    """An ASGI app: ``handler`` for HTTP, a lifespan that only says "started" and "stopped"."""

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                await send({"type": message["type"] + ".complete"})
                if message["type"] == "lifespan.shutdown":
                    return
        await handler(scope, receive, send)

    return app


async def start(send: Send, status: int = 200) -> None:
    await send({"type": "http.response.start", "status": status, "headers": []})


async def test_a_response_streams_while_the_app_is_still_sending() -> None:
    go_on = anyio.Event()

    async def handler(scope: Scope, receive: Receive, send: Send) -> None:
        await start(send)
        await send({"type": "http.response.body", "body": b"first", "more_body": True})
        # A transport that buffered the whole response would wait here forever.
        await go_on.wait()
        await send({"type": "http.response.body", "body": b"second"})

    async with httpx.AsyncClient(transport=InProcessTransport(with_lifespan(handler))) as http:
        with anyio.fail_after(10):
            async with http.stream("GET", "http://app/") as response:
                chunks = response.aiter_bytes()
                assert await chunks.__anext__() == b"first"
                go_on.set()
                assert [chunk async for chunk in chunks] == [b"second"]


async def test_a_request_body_streams_into_the_app() -> None:
    seen: list[tuple[bytes, bool]] = []

    async def handler(scope: Scope, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            seen.append((message["body"], message["more_body"]))
            if not message["more_body"]:
                break
        await start(send)
        await send({"type": "http.response.body", "body": b"ok"})

    async def body() -> AsyncIterator[bytes]:
        for part in (b"a" * 10, b"b" * 20, b"c" * 30):
            yield part

    async with httpx.AsyncClient(transport=InProcessTransport(with_lifespan(handler))) as http:
        response = await http.post("http://app/upload", content=body())
    assert response.content == b"ok"
    assert [chunk for chunk, _ in seen if chunk] == [b"a" * 10, b"b" * 20, b"c" * 30]
    assert seen[-1][1] is False


async def test_closing_a_response_early_tells_the_app_the_client_left() -> None:
    stopped = anyio.Event()

    async def handler(scope: Scope, receive: Receive, send: Send) -> None:
        await receive()  # the (empty) request body
        await start(send)
        try:
            while True:
                await send({"type": "http.response.body", "body": b"x", "more_body": True})
        finally:
            stopped.set()

    async with httpx.AsyncClient(transport=InProcessTransport(with_lifespan(handler))) as http:
        with anyio.fail_after(10):
            async with http.stream("GET", "http://app/endless") as response:
                assert response.status_code == 200  # and out, the body unread
            await stopped.wait()


async def test_an_app_error_before_its_response_reaches_the_caller() -> None:
    async def handler(scope: Scope, receive: Receive, send: Send) -> None:
        raise LookupError("broken app")

    async with httpx.AsyncClient(transport=InProcessTransport(with_lifespan(handler))) as http:
        with pytest.raises(LookupError, match="broken app"):
            await http.get("http://app/")


async def test_the_lifespan_starts_on_first_use_and_stops_at_close() -> None:
    events: list[str] = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                events.append(message["type"])
                await send({"type": message["type"] + ".complete"})
                if message["type"] == "lifespan.shutdown":
                    return
        await start(send)
        await send({"type": "http.response.body", "body": b"hi"})

    http = httpx.AsyncClient(transport=InProcessTransport(app))
    assert events == []
    assert (await http.get("http://app/")).content == b"hi"
    assert events == ["lifespan.startup"]
    await http.aclose()
    assert events == ["lifespan.startup", "lifespan.shutdown"]


async def test_the_emulator_can_be_closed_by_another_task_than_the_one_that_opened_it() -> None:
    # What pytest-asyncio does with a fixture: setup and teardown in different tasks.
    holder: list[InProcessEmulator] = []

    async def open_it() -> None:
        holder.append(await InProcessEmulator().start())

    async with anyio.create_task_group() as tg:
        tg.start_soon(open_it)
    emulator = holder[0]
    assert (await emulator.client().cache.set("k", 1)).success
    await emulator.aclose()
    with pytest.raises(RuntimeError):
        _ = emulator.http


async def test_every_area_of_the_api_works_in_process() -> None:
    data = bytes(range(256)) * 4096  # 1 MiB
    async with in_process_client() as client:
        assert client.base_url == IN_PROCESS_BASE_URL
        await client.cache.set("k", {"n": 1})
        assert (await client.cache.get("k")).value == {"n": 1}
        await client.database.query("CREATE TABLE t (x INTEGER)")
        await client.database.query("INSERT INTO t VALUES (?)", [7])
        assert (await client.database.query("SELECT x FROM t")).results == [{"x": 7}]
        job = await client.queue.enqueue("in-process", {"a": 1})
        assert (await client.queue.get_job(job.job_id)).exists
        user = await client.authentication.sign_up("in@process.example", "password-1")
        assert user.user.email == "in@process.example"
        await client.storage.upload("blob.bin", data)
        assert hashlib.sha256(await client.storage.get("blob.bin")).digest() == (
            hashlib.sha256(data).digest()
        )
        with pytest.raises(NotFoundError):
            await client.storage.get("missing.bin")


async def test_a_chat_streams_token_by_token_and_adds_up_to_the_whole_reply() -> None:
    async with InProcessEmulator() as emulator:
        client = emulator.client()
        whole = (await client.ai.chat("Tell me about in-process emulators")).text
        async with client.ai.chat_stream("Tell me about in-process emulators") as stream:
            pieces = [piece async for piece in stream.text_stream]
        assert len(pieces) > 3
        assert "".join(pieces) == whole


async def test_a_chat_cut_short_leaves_the_emulator_serving() -> None:
    async with InProcessEmulator(ai_token_delay_ms=5) as emulator:
        client = emulator.client()
        with anyio.move_on_after(30):
            async with client.ai.chat_stream("A long story, please") as stream:
                async for _ in stream.text_stream:
                    break
        assert (await client.cache.set("after", 1)).success


async def test_signed_urls_and_projects_work_in_process() -> None:
    async with InProcessEmulator() as emulator:
        first = emulator.client(api_key="sk_local_first")
        second = emulator.client(api_key="sk_local_second")
        url = (await first.storage.upload("f.txt", b"first")).url
        assert url.startswith(IN_PROCESS_BASE_URL)
        assert (await emulator.http.get(url)).content == b"first"
        assert (await second.storage.exists("f.txt")).exists is False
        assert await emulator.drop_project("first") is True
        assert (await emulator.http.get(url)).status_code == 403


async def test_a_client_of_the_emulator_needs_no_closing_of_its_own() -> None:
    async with InProcessEmulator() as emulator:
        client = emulator.client()
        assert isinstance(client, AsyncAerostack)
        await client.cache.set("k", 1)
    # The emulator is closed: the client says so instead of hanging.
    with pytest.raises(Exception, match=r"closed|not running"):
        await client.cache.get("k")
