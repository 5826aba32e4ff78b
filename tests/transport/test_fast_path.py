"""The pool's fast path, below the client: a request given by its parts, and reads bounded by a
timeout and a deadline without a cancel scope.

- ``prepare_call`` writes the same head ``prepare`` writes for the same request, on both
  dialects; it refuses what ``prepare`` refuses (before a connection is touched); a call's own
  header replaces a shared one; framing headers take the general way.
- ``receive_within`` and ``send_within`` on every stream: buffered bytes come back (and a write
  the socket takes goes out) with no timer; a wait ends with TimeoutError at its timeout or at
  the deadline, whichever is first; bytes that arrive in time are returned.
"""

from __future__ import annotations

import socket

import anyio
import anyio.abc
import httpx
import pytest

from aerostack_async._pool import AsyncPoolTransport
from aerostack_async._pool._codec import HeadFields, InvalidRequest, dialect
from aerostack_async._pool._http11 import Connection

from .._loopback import Peer, serve, serve_forever
from ._kinds import fetch

pytestmark = pytest.mark.anyio

SHARED = [
    (b"Host", b"api.example.test"),
    (b"User-Agent", b"aerostack-async/test"),
    (b"Accept", b"application/json"),
    (b"Content-Type", b"application/json"),
    (b"X-Aerostack-Key", b"sk_test_123456"),
]


@pytest.fixture(params=["httptools", "h11"])
def parser(request: pytest.FixtureRequest) -> str:
    return request.param  # type: ignore[no-any-return]


def _head(prepared: object, parser: str) -> bytes:
    codec = dialect(parser).codec()
    return codec.start(prepared)


def _lines(head: bytes) -> list[bytes]:
    return sorted(line.lower() for line in head.split(b"\r\n")[1:] if line)


@pytest.mark.parametrize(
    ("method", "extra", "length"),
    [
        ("POST", {}, 11),
        ("POST", {"Idempotency-Key": "c0ffee"}, 11),
        ("POST", {}, 0),
        ("GET", {}, None),
        (
            "DELETE",
            {"traceparent": "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"},
            None,
        ),
    ],
)
def test_prepare_call_writes_what_prepare_writes(
    parser: str, method: str, extra: dict[str, str], length: int | None
) -> None:
    chosen = dialect(parser)
    fast = chosen.prepare_call(method, b"/v1/cache/get", HeadFields(SHARED), extra, length)
    headers = httpx.Headers(SHARED)
    headers.update(extra)
    if length is not None:
        headers["Content-Length"] = str(length)
    request = httpx.Request(method, "http://api.example.test/v1/cache/get", headers=headers)
    general = chosen.prepare(request)
    fast_head, general_head = _head(fast, parser), _head(general, parser)
    assert fast_head.split(b"\r\n")[0] == general_head.split(b"\r\n")[0]
    assert _lines(fast_head) == _lines(general_head)


def test_a_calls_own_header_replaces_a_shared_one(parser: str) -> None:
    fields = HeadFields(SHARED)
    prepared = dialect(parser).prepare_call(
        "POST", b"/v1/x", fields, {"accept": "text/plain", "X-Aerostack-Key": "sk_other"}, 2
    )
    lines = _lines(_head(prepared, parser))
    assert [line for line in lines if line.startswith(b"accept:")] == [b"accept: text/plain"]
    assert [line for line in lines if line.startswith(b"x-aerostack-key:")] == [
        b"x-aerostack-key: sk_other"
    ]


@pytest.mark.parametrize(
    "extra",
    [
        {"X-Evil": "a\r\nX-Injected: 1"},
        {"X-Evil": "nul\x00"},
        {"Bad Name": "v"},
        {"X-Space": " padded"},
        {"Content-Length": "5"},  # disagrees with the body's own length
        {"Transfer-Encoding": "chunked"},  # both framings at once
    ],
)
def test_prepare_call_refuses_what_could_split_or_smuggle_a_request(
    parser: str, extra: dict[str, str]
) -> None:
    with pytest.raises(InvalidRequest):
        dialect(parser).prepare_call("POST", b"/v1/x", HeadFields(SHARED), extra, 2)


def test_shared_fields_are_checked_once_and_a_bad_one_is_still_refused(parser: str) -> None:
    bad = HeadFields([*SHARED, (b"X-Bad", b"line\r\nbreak")])
    with pytest.raises(InvalidRequest):
        dialect(parser).prepare_call("GET", b"/v1/x", bad, {}, None)
    good = HeadFields(SHARED)
    dialect(parser).prepare_call("GET", b"/v1/x", good, {}, None)
    if parser == "httptools":
        assert "httptools" in good.checked  # kept for the next call


async def test_a_refused_fast_request_touches_no_connection(parser: str) -> None:
    transport = AsyncPoolTransport(parser=parser)
    async with serve(serve_forever) as server:
        with pytest.raises(httpx.LocalProtocolError, match="X-Evil") as info:
            await transport.fetch(
                "POST",
                httpx.URL(server.url),
                HeadFields([(b"Host", b"127.0.0.1")]),
                {"X-Evil": "a\r\nb"},
                b"{}",
                {},
            )
        assert "a\r\nb" not in str(info.value)  # the value is never shown
        assert server.connections == 0
    await transport.aclose()


async def test_fetch_sends_and_reuses_on_both_dialects(parser: str) -> None:
    transport = AsyncPoolTransport(parser=parser)
    async with serve(serve_forever) as server:
        for _ in range(3):
            got = await fetch(transport, httpx.Request("POST", server.url, content=b'{"a":1}'))
            assert got.body == b"ok"
        await transport.aclose()
    assert server.connections == 1


# -- receive_within on each stream -----------------------------------------------------------


async def _connection(transport: AsyncPoolTransport, url: str) -> Connection:
    """A pooled connection of ``transport`` to ``url`` (after one exchange)."""
    response = await transport.handle_async_request(httpx.Request("GET", url))
    assert await response.aread() == b"ok"
    (conn,) = transport._connections
    return conn


async def _silent_after_one(peer: Peer) -> None:
    await peer.read_request()
    await peer.send(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
    await peer.read_some()
    await anyio.sleep(0.3)
    await peer.send(b"late")
    await anyio.sleep_forever()


async def test_receive_within_times_out_at_its_timeout_or_the_deadline() -> None:
    transport = AsyncPoolTransport()
    async with serve(_silent_after_one) as server:
        conn = await _connection(transport, server.url)
        stream = conn.stream
        await stream.send(b"next")
        with anyio.fail_after(5):
            started = anyio.current_time()
            with pytest.raises(TimeoutError):
                await conn.receive_within(1024, 0.05, None)
            assert anyio.current_time() - started >= 0.04
            with pytest.raises(TimeoutError):  # the deadline, well before the timeout
                await conn.receive_within(1024, 30, anyio.current_time() + 0.05)
            # In time: the bytes come back, and the timer does not fire later.
            assert await conn.receive_within(1024, 5, anyio.current_time() + 5) == b"late"
        await anyio.sleep(0.05)
        await transport.aclose()


async def test_receive_within_returns_buffered_bytes_even_past_the_deadline() -> None:
    async def two_pieces(peer: Peer) -> None:
        await peer.read_request()
        await peer.send(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
        await peer.read_some()
        await peer.send(b"here")
        await anyio.sleep_forever()

    transport = AsyncPoolTransport()
    async with serve(two_pieces) as server:
        conn = await _connection(transport, server.url)
        await conn.stream.send(b"next")
        await anyio.sleep(0.2)  # "here" is in the buffer (or the socket) by now
        # A deadline already past: what is there is still taken, nothing waits.
        assert await conn.receive_within(1024, None, anyio.current_time() - 1) == b"here"
        with pytest.raises(TimeoutError):
            await conn.receive_within(1024, None, anyio.current_time() - 1)
        await transport.aclose()


async def test_send_within_times_out_only_when_the_socket_makes_it_wait() -> None:
    async def answer_then_stop_reading(peer: Peer) -> None:
        await peer.read_request()
        await peer.send(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
        raw = peer.stream.extra(anyio.abc.SocketAttribute.raw_socket)
        raw.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        await anyio.sleep_forever()

    transport = AsyncPoolTransport()
    async with serve(answer_then_stop_reading) as server:
        conn = await _connection(transport, server.url)
        with anyio.fail_after(10):
            await conn.send_within(b"small", 0.2, None)  # fits: no wait, no timeout
            started = anyio.current_time()
            with pytest.raises(TimeoutError):
                await conn.send_within(b"x" * (32 << 20), 0.2, None)
            assert anyio.current_time() - started >= 0.15
            with pytest.raises(TimeoutError):  # the deadline, well before the timeout
                await conn.send_within(b"x" * (32 << 20), 30, anyio.current_time() + 0.2)
        await transport.aclose()
