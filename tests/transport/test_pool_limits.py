"""Pool limits: the connection cap, pool timeouts, fair waiting, and cancellation at any point."""

from __future__ import annotations

import random

import anyio
import anyio.lowlevel
import httpx
import pytest

from aerostack_async._pool import AsyncPoolTransport

from .._loopback import Peer, response, serve, serve_forever
from ._kinds import make_transport

pytestmark = pytest.mark.anyio


def held_open(release: anyio.Event) -> object:
    """A handler whose ``/hold`` responses stay unfinished until ``release`` is set."""

    async def handler(peer: Peer) -> None:
        while (request := await peer.read_request()) is not None:
            if request.target == "/hold":
                await peer.send(b"HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nho")
                await release.wait()
                await peer.send(b"ld")
            else:
                await peer.send(response(request.target.encode()))

    return handler


async def test_request_beyond_the_cap_raises_pool_timeout(kind: str) -> None:
    release = anyio.Event()
    limits = httpx.Limits(max_connections=1)
    timeout = httpx.Timeout(5, pool=0.1)
    async with (
        serve(held_open(release)) as server,  # type: ignore[arg-type]
        httpx.AsyncClient(transport=make_transport(kind, limits=limits), timeout=timeout) as client,
    ):
        async with client.stream("GET", server.url + "/hold") as held:
            with pytest.raises(httpx.PoolTimeout):
                await client.get(server.url + "/next")
            release.set()
            await held.aread()
        assert (await client.get(server.url + "/after")).text == "/after"
    assert server.connections == 1


async def test_pool_timeout_leaves_no_waiter_behind() -> None:
    release = anyio.Event()
    transport = AsyncPoolTransport(limits=httpx.Limits(max_connections=1))
    async with (
        serve(held_open(release)) as server,  # type: ignore[arg-type]
        httpx.AsyncClient(transport=transport, timeout=httpx.Timeout(5, pool=0.05)) as client,
    ):
        async with client.stream("GET", server.url + "/hold") as held:
            for _ in range(3):
                with pytest.raises(httpx.PoolTimeout):
                    await client.get(server.url)
            assert transport.slots.waiting == 0
            release.set()
            await held.aread()
        assert (transport.slots.in_use, transport.slots.total) == (0, 1)


async def test_waiters_are_served_first_come_first_served() -> None:
    release = anyio.Event()
    transport = AsyncPoolTransport(limits=httpx.Limits(max_connections=1))
    order: list[str] = []

    async def get(path: str) -> None:
        order.append((await client.get(server.url + path)).text)

    async with (
        serve(held_open(release)) as server,  # type: ignore[arg-type]
        httpx.AsyncClient(transport=transport) as client,
        anyio.create_task_group() as tg,
        client.stream("GET", server.url + "/hold") as held,
    ):
        for number, path in enumerate(["/1", "/2", "/3", "/4"], start=1):
            tg.start_soon(get, path)
            with anyio.fail_after(10):  # each joins the queue before the next starts
                while transport.slots.waiting < number:  # noqa: ASYNC110 - no event for this
                    await anyio.sleep(0.005)
        release.set()
        await held.aread()
    assert order == ["/1", "/2", "/3", "/4"]
    assert [request.target for request in server.requests] == ["/hold", "/1", "/2", "/3", "/4"]


async def test_waiter_for_another_origin_gets_the_freed_slot() -> None:
    release = anyio.Event()
    transport = AsyncPoolTransport(limits=httpx.Limits(max_connections=1))
    async with (
        serve(held_open(release)) as first,  # type: ignore[arg-type]
        serve(serve_forever) as second,
        httpx.AsyncClient(transport=transport) as client,
    ):
        await client.get(first.url + "/warm")  # leaves an idle connection to the first server
        got = await client.get(second.url)  # at the cap: the idle one is closed to make room
        assert got.text == "ok"
        assert (transport.slots.total, transport.open_connections) == (1, 1)


async def test_cancelled_waiter_leaves_the_queue_and_the_slot_goes_on() -> None:
    release = anyio.Event()
    transport = AsyncPoolTransport(limits=httpx.Limits(max_connections=1))
    async with (
        serve(held_open(release)) as server,  # type: ignore[arg-type]
        httpx.AsyncClient(transport=transport) as client,
    ):
        async with client.stream("GET", server.url + "/hold") as held:
            with anyio.move_on_after(0.05):
                await client.get(server.url + "/never")
            assert transport.slots.waiting == 0
            release.set()
            await held.aread()
        assert (await client.get(server.url + "/next")).text == "/next"
        assert (transport.slots.in_use, transport.slots.total) == (0, 1)


async def test_a_thousand_random_cancellations_leak_no_slot() -> None:
    rng = random.Random(8)
    transport = AsyncPoolTransport(limits=httpx.Limits(max_connections=4))

    async def handler(peer: Peer) -> None:
        # Each request's answer names it; the pace varies so cancellations land everywhere:
        # waiting for a slot, connecting, writing, waiting for the head, mid-body.
        while (request := await peer.read_request()) is not None:
            body = request.target.encode() * 50
            delay = rng.choice([0, 0, 0.0005, 0.001, 0.002])
            if delay:
                await anyio.sleep(delay)
            if rng.random() < 0.5:
                await peer.send(response(body))
            else:
                head = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
                await peer.send(head)
                for start in range(0, len(body), 97):
                    piece = body[start : start + 97]
                    await peer.send(b"%x\r\n%s\r\n" % (len(piece), piece))
                    await anyio.lowlevel.checkpoint()
                await peer.send(b"0\r\n\r\n")

    cancelled = completed = 0
    next_id = 0

    async def one(client: httpx.AsyncClient, url: str) -> None:
        nonlocal cancelled, completed, next_id
        next_id += 1
        target = f"/r{next_id}"
        expected = target.encode() * 50
        streamed = rng.random() < 0.3
        with anyio.move_on_after(rng.choice([0, 0.002, 0.01, 0.05, 0.2]) * rng.random()) as scope:
            if streamed:
                async with client.stream("GET", url + target) as got:
                    body = b""
                    async for chunk in got.aiter_raw():
                        body += chunk
                    # A connection reused half-read would hand us someone else's bytes.
                    assert body == expected
            else:
                got = await client.get(url + target)
                assert got.content == expected
        if scope.cancelled_caught:
            cancelled += 1
        else:
            completed += 1

    async with (
        serve(handler) as server,
        httpx.AsyncClient(transport=transport) as client,
    ):
        limiter = anyio.CapacityLimiter(12)

        async def limited() -> None:
            async with limiter:
                await one(client, server.url)

        attempts = 0
        while cancelled < 1000 and attempts < 20_000:
            async with anyio.create_task_group() as tg:
                for _ in range(100):
                    attempts += 1
                    tg.start_soon(limited)
        assert cancelled >= 1000
        slots = transport.slots
        assert slots.in_use == 0
        assert slots.waiting == 0
        assert slots.total == slots.idle == transport.open_connections <= 4

        # And the pool still works, at full concurrency.
        async with anyio.create_task_group() as tg:
            for _ in range(20):
                tg.start_soon(client.get, server.url + "/after")
        assert slots.in_use == 0
        assert slots.total <= 4


async def test_closing_the_transport_wakes_waiters_with_an_error() -> None:
    release = anyio.Event()
    transport = AsyncPoolTransport(limits=httpx.Limits(max_connections=1))
    outcome: list[BaseException] = []

    async def wait_for_slot(url: str) -> None:
        try:
            await transport.handle_async_request(httpx.Request("GET", url))
        except RuntimeError as exc:
            outcome.append(exc)

    async with serve(held_open(release)) as server:  # type: ignore[arg-type]
        held = await transport.handle_async_request(httpx.Request("GET", server.url + "/hold"))
        async with anyio.create_task_group() as tg:
            tg.start_soon(wait_for_slot, server.url)
            with anyio.fail_after(10):
                while transport.slots.waiting < 1:  # noqa: ASYNC110 - no event for this
                    await anyio.sleep(0.005)
            await transport.aclose()
        await held.aclose()
        release.set()
    assert len(outcome) == 1
    assert (transport.slots.waiting, transport.open_connections) == (0, 0)


async def test_no_connection_limit_opens_as_many_as_needed() -> None:
    transport = AsyncPoolTransport(limits=httpx.Limits(max_connections=None))
    release = anyio.Event()
    async with (
        serve(held_open(release)) as server,  # type: ignore[arg-type]
        httpx.AsyncClient(transport=transport) as client,
    ):
        held = [
            await client.send(client.build_request("GET", server.url + "/hold"), stream=True)
            for _ in range(150)
        ]
        assert transport.slots.in_use == 150
        release.set()
        for response in held:
            await response.aread()
            await response.aclose()
        assert transport.slots.in_use == 0
