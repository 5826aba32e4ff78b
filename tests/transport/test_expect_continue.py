"""``Expect: 100-continue`` on our pool: a refused upload is answered before its body goes out.

Against purpose-built servers (both parsers, both backends): a server that refuses at the head
gets no body; one that sends ``100 Continue`` gets the whole body; one that ignores the header
gets the body after a short wait. Then against the real emulator through a byte-counting
proxy: a 1 GiB upload with a wrong key, and one larger than the emulator accepts, each fail
having sent less than a megabyte.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import anyio
import anyio.abc
import httpx
import pytest

from aerostack_async import AsyncAerostack, errors
from aerostack_async._pool import AsyncPoolTransport
from aerostack_async.testing import Emulator, run_emulator

from .._loopback import Peer, dropping_proxy, response, serve

pytestmark = pytest.mark.anyio

MiB = 1024 * 1024
EXPECT = {"Expect": "100-continue", "Content-Type": "application/octet-stream"}


async def _read_head(peer: Peer) -> tuple[bytes, bytes]:
    """The request head as it came, and any bytes after it."""
    data = b""
    while b"\r\n\r\n" not in data:
        data += await peer.stream.receive()
    head, _, rest = data.partition(b"\r\n\r\n")
    return head, rest


async def _drain(peer: Peer) -> int:
    """Read until the client closes; the number of bytes read."""
    total = 0
    while True:
        try:
            total += len(await peer.stream.receive())
        except (anyio.EndOfStream, anyio.BrokenResourceError, anyio.ClosedResourceError):
            return total


async def _chunks(size: int, chunk: int = MiB) -> AsyncIterator[bytes]:
    sent = 0
    while sent < size:
        yield b"x" * chunk
        sent += chunk


@pytest.mark.parametrize("body", ["bytes", "stream"])
async def test_a_refusal_at_the_head_means_the_body_is_never_sent(body: str) -> None:
    after_head: list[int] = []
    drained = anyio.Event()

    async def refuse(peer: Peer) -> None:
        _, rest = await _read_head(peer)
        await peer.send(response(b"no", status=401, reason="Unauthorized"))
        after_head.append(len(rest) + await _drain(peer))
        drained.set()

    size = 8 * MiB
    content = b"x" * size if body == "bytes" else _chunks(size)
    headers = {**EXPECT, "Content-Length": str(size)}
    async with (
        serve(refuse) as server,
        httpx.AsyncClient(transport=AsyncPoolTransport()) as client,
    ):
        reply = await client.post(server.url, content=content, headers=headers)
        assert reply.status_code == 401
        assert reply.content == b"no"
        await client.aclose()  # the withheld-body connection is not reused: it closes here
        with anyio.fail_after(10):
            await drained.wait()
    assert after_head == [0]


async def test_a_server_that_says_continue_gets_the_whole_body() -> None:
    async def accept(peer: Peer) -> None:
        head, rest = await _read_head(peer)
        assert b"expect: 100-continue" in head.lower()
        assert rest == b""  # nothing before the go-ahead
        await peer.send(b"HTTP/1.1 100 Continue\r\n\r\n")
        total = 0
        while total < 3 * MiB:
            total += len(await peer.stream.receive())
        await peer.send(response(str(total).encode()))

    async with (
        serve(accept) as server,
        httpx.AsyncClient(transport=AsyncPoolTransport()) as client,
    ):
        reply = await client.post(
            server.url, content=_chunks(3 * MiB), headers={**EXPECT, "Content-Length": str(3 * MiB)}
        )
    assert (reply.status_code, reply.content) == (200, str(3 * MiB).encode())


async def test_a_server_that_ignores_the_header_still_gets_the_body() -> None:
    async def ignore(peer: Peer) -> None:
        _, rest = await _read_head(peer)
        total = len(rest)
        while total < 2 * MiB:
            total += len(await peer.stream.receive())
        await peer.send(response(str(total).encode()))

    async with (
        serve(ignore) as server,
        httpx.AsyncClient(transport=AsyncPoolTransport()) as client,
    ):
        reply = await client.post(
            server.url, content=b"y" * (2 * MiB), headers={**EXPECT, "Content-Length": str(2 * MiB)}
        )
    assert (reply.status_code, reply.content) == (200, str(2 * MiB).encode())


# -- against the emulator ------------------------------------------------------------------------


@pytest.fixture(scope="module")
def small_upload_emulator() -> Iterator[Emulator]:
    """An emulator that refuses files over 4 MiB."""
    with run_emulator("--max-upload-bytes", str(4 * MiB)) as running:
        yield running


def _source(size: int) -> Iterator[bytes]:
    for _ in range(size // MiB):
        yield b"z" * MiB


@pytest.mark.parametrize(
    ("key", "size", "error"),
    [
        pytest.param("wrong", 1024 * MiB, errors.AuthenticationError, id="1GiB-wrong-key"),
        pytest.param("right", 256 * MiB, errors.APIStatusError, id="256MiB-too-large"),
    ],
)
async def test_a_refused_upload_sends_less_than_a_megabyte(
    small_upload_emulator: Emulator, key: str, size: int, error: type[Exception]
) -> None:
    port = int(small_upload_emulator.base_url.rsplit(":", 1)[1].split("/")[0])
    api_key = small_upload_emulator.api_key if key == "right" else "sk_not_the_key"
    # Our pool explicitly, whatever AEROSTACK_HTTP_TRANSPORT says: httpx's own transport does
    # not wait for 100 Continue (it sends the body at once).
    async with (
        dropping_proxy(port, drop_first=0, record=False) as proxy,
        httpx.AsyncClient(transport=AsyncPoolTransport()) as http,
        AsyncAerostack(
            base_url=proxy.base_url,
            api_key=api_key,
            http_client=http,
            retry=None,
        ) as client,
    ):
        with pytest.raises(error) as caught:
            await client.storage.upload("big.bin", _source(size), size=size)
    assert caught.value.status_code in (401, 413)  # type: ignore[attr-defined]
    assert proxy.sent < MiB
