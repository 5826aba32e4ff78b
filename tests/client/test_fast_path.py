"""The pool's fast path (issue 16): a plain call goes down as its parts, with no ``httpx.Request``,
under one deadline for the whole call.

The path is proven taken by the pool's counter, and what it sends is read off the wire by a
loopback server: the same headers, a call's own header replacing a shared one, the key masked in
whatever a failure carries.
"""

from __future__ import annotations

import os
import socket
import time
from collections.abc import Awaitable, Callable
from contextlib import suppress

import anyio
import anyio.abc
import httpx
import pytest

from aerostack_async import Limits, Timeout
from aerostack_async._pool import _transport as pool_module
from aerostack_async._pool._deadlines import DeadlineExceeded
from aerostack_async.errors import APITimeoutError
from aerostack_async.testing import Emulator

from .._loopback import Peer, Reply, ScriptedServer, response, scripted_server, serve
from .conftest import ClientFactory

pytestmark = pytest.mark.anyio

# The client-facing suites run a second time on httpx's own transport (scripts/test): there is
# no pool and so no fast path; what the calls must do (deadlines, headers) holds there too.
ON_POOL = os.environ.get("AEROSTACK_HTTP_TRANSPORT") != "httpx"
pool_only = pytest.mark.skipif(not ON_POOL, reason="the fast path is our pool's")

OK_GET = b'{"exists": true, "value": 1}'


@pool_only
async def test_plain_calls_take_the_fast_path(
    make_client: ClientFactory, emulator: Emulator
) -> None:
    client = make_client()
    before = pool_module.fetches.taken
    await client.cache.set("fast-path", 41)
    got = await client.cache.get("fast-path")
    assert got.value == 41
    await client.cache.delete("fast-path")
    assert pool_module.fetches.taken - before == 3


@pytest.mark.async_only
async def test_a_callers_http_client_does_not_take_it(
    make_client: ClientFactory, emulator: Emulator
) -> None:
    async with httpx.AsyncClient() as http:
        client = make_client(http_client=http)
        before = pool_module.fetches.taken
        await client.cache.get("fast-path-httpx")
        assert pool_module.fetches.taken == before


async def _raw_heads(peer: Peer, heads: list[bytes]) -> None:
    """Record each request head as its bytes came, and answer it."""
    buffer = b""
    while True:
        while b"\r\n\r\n" not in buffer:
            try:
                data = await peer.stream.receive()
            except (anyio.EndOfStream, anyio.BrokenResourceError):
                return
            buffer += data
        head, _, buffer = buffer.partition(b"\r\n\r\n")
        heads.append(head)
        length = 0
        for line in head.split(b"\r\n")[1:]:
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                length = int(value)
        while len(buffer) < length:
            buffer += await peer.stream.receive()
        buffer = buffer[length:]
        await peer.send(response(OK_GET, content_type="application/json"))


async def test_a_calls_own_header_replaces_the_shared_one(make_client: ClientFactory) -> None:
    heads: list[bytes] = []

    async def handler(peer: Peer) -> None:
        await _raw_heads(peer, heads)

    async with serve(handler) as server:
        client = make_client(base_url=server.base_url + "/v1", api_key="sk_secret_key_1234")
        before = pool_module.fetches.taken
        await client.cache.get("k", extra_headers={"Accept": "text/plain", "X-Probe": "1"})
        await client.cache.get("k")
        assert pool_module.fetches.taken - before == (2 if ON_POOL else 0)
    first, second = ([line.lower() for line in head.split(b"\r\n")[1:]] for head in heads)
    assert [line for line in first if line.startswith(b"accept:")] == [b"accept: text/plain"]
    assert b"x-probe: 1" in first
    assert [line for line in second if line.startswith(b"accept:")] == [b"accept: application/json"]
    for lines in (first, second):
        names = [line.partition(b":")[0] for line in lines]
        assert len(names) == len(set(names))  # no header twice
        assert names.count(b"host") == 1
        assert b"content-length: " + str(len(b'{"key":"k"}')).encode() in lines
        assert b"x-aerostack-key: sk_secret_key_1234" in lines


async def test_the_whole_deadline_bounds_a_silent_server_with_one_timer(
    make_client: ClientFactory,
) -> None:
    async with scripted_server(Reply(hang=True)) as server:
        client = make_client(base_url=server.base_url, api_key="sk_secret_key_1234")
        started = time.monotonic()
        with pytest.raises(
            APITimeoutError, match=r"no response within the 0\.3 s deadline"
        ) as info:
            # A long read timeout and the default retries: only the call's deadline can end it.
            await client.cache.get("k", timeout=Timeout(read=30, total=0.3))
        assert time.monotonic() - started < 5
    error = info.value
    assert not error.retryable  # sending again cannot beat a deadline that has passed
    assert len(server.received) == 1
    assert "sk_secret_key_1234" not in str(error)
    if not ON_POOL:
        return  # (httpx's transport: the call's cancel scope ended it, no cause)
    cause = error.__cause__
    assert isinstance(cause, DeadlineExceeded)
    # The request the cause carries is built only now, with the key masked.
    assert "sk_secret_key_1234" not in cause.request.headers["x-aerostack-key"]
    assert "sk_secret_key_1234" not in str(error)


async def test_a_read_timeout_before_the_deadline_is_a_read_timeout(
    make_client: ClientFactory,
) -> None:
    async with scripted_server(Reply(hang=True)) as server:
        client = make_client(base_url=server.base_url, retry=None)
        with pytest.raises(APITimeoutError, match="ReadTimeout") as info:
            await client.cache.get("k", timeout=Timeout(read=0.2, total=30))
    assert info.value.retryable


async def _until_received(server: ScriptedServer, count: int) -> None:
    with anyio.fail_after(5):
        while len(server.received) < count:  # noqa: ASYNC110 (the server's list, no event)
            await anyio.sleep(0.01)


@pytest.mark.async_only
async def test_the_deadline_bounds_the_wait_for_a_pooled_connection(
    make_client: ClientFactory,
) -> None:
    async with scripted_server(Reply(hang=True)) as server:
        client = make_client(base_url=server.base_url, limits=Limits(max_connections=1), retry=None)
        async with anyio.create_task_group() as tg:
            tg.start_soon(client.cache.get, "holds-the-only-connection")
            await _until_received(server, 1)
            with pytest.raises(APITimeoutError, match="deadline"):
                await client.cache.get("k", timeout=Timeout(pool=30, read=30, total=0.3))
            tg.cancel_scope.cancel()
    assert len(server.received) == 1  # the second call never had a connection to send on


async def _endless_body(peer: Peer) -> None:
    """Answer with a body announced as 1 GiB that keeps coming (a read never has to wait)."""
    await peer.read_request()
    await peer.send(
        b'HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n"'
        % (1 << 30)
    )
    chunk = b"a" * (1 << 20)
    with suppress(anyio.BrokenResourceError, anyio.ClosedResourceError, OSError):
        for _ in range(1 << 10):
            await peer.send(chunk)


async def _trickled_head(peer: Peer) -> None:
    """Answer one byte at a time, each well within the read timeout."""
    await peer.read_request()
    with suppress(anyio.BrokenResourceError, anyio.ClosedResourceError, OSError):
        for byte in response(OK_GET, content_type="application/json") * 100:
            await peer.send(bytes([byte]))
            await anyio.sleep(0.02)


@pytest.mark.parametrize("handler", [_endless_body, _trickled_head], ids=["body", "head"])
async def test_bytes_that_keep_coming_do_not_outlast_the_deadline(
    make_client: ClientFactory, handler: Callable[[Peer], Awaitable[None]]
) -> None:
    async with serve(handler) as server:
        client = make_client(base_url=server.base_url + "/v1", retry=None)
        started = time.monotonic()
        with pytest.raises(APITimeoutError, match="deadline"):
            await client.cache.get("k", timeout=Timeout(read=30, total=0.3))
        assert time.monotonic() - started < 5


async def test_a_write_the_server_will_not_read_is_bounded(make_client: ClientFactory) -> None:
    async def never_reads(peer: Peer) -> None:
        # A small receive buffer, so the kernel cannot take the whole request on our behalf.
        raw = peer.stream.extra(anyio.abc.SocketAttribute.raw_socket)
        raw.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        await anyio.sleep_forever()

    async with serve(never_reads) as server:
        # A head larger than the socket buffers: the "one write that cannot block" blocks.
        client = make_client(
            base_url=server.base_url + "/v1",
            retry=None,
            default_headers={"X-Large": "x" * (8 << 20)},
        )
        started = time.monotonic()
        with pytest.raises(APITimeoutError, match="WriteTimeout"):
            await client.cache.get("k", timeout=Timeout(write=0.3, total=30))
        assert time.monotonic() - started < 10


async def test_a_header_is_sent_once_whatever_its_spelling(make_client: ClientFactory) -> None:
    heads: list[bytes] = []

    async def handler(peer: Peer) -> None:
        await _raw_heads(peer, heads)

    async with serve(handler) as server:
        client = make_client(base_url=server.base_url + "/v1")
        await client.cache.set(
            "k", 1, idempotency_key="idem-1", extra_headers={"idempotency-key": "mine"}
        )
    lines = [line.lower() for line in heads[0].split(b"\r\n")[1:]]
    assert [line for line in lines if line.startswith(b"idempotency-key:")] == [
        b"idempotency-key: mine"
    ]
