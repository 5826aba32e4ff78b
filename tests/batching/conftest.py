"""Fixtures for the batch methods' integration tests: clients on the session emulator."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import pytest

from aerostack_async import AsyncAerostack
from aerostack_async.testing import Emulator


class CountingTransport(httpx.AsyncBaseTransport):
    """httpx's own transport, counting requests in flight and remembering what was sent."""

    def __init__(self) -> None:
        self._inner = httpx.AsyncHTTPTransport()
        self.now = 0
        self.most = 0
        self.requests: list[httpx.Request] = []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        self.now += 1
        self.most = max(self.most, self.now)
        try:
            response = await self._inner.handle_async_request(request)
            await response.aread()  # the call is in flight until its whole answer is in
            return response
        finally:
            self.now -= 1

    async def aclose(self) -> None:
        await self._inner.aclose()


ClientFactory = Callable[..., AsyncAerostack]


@pytest.fixture
async def make_client(emulator: Emulator) -> AsyncIterator[ClientFactory]:
    """Build clients on the session emulator (keyword arguments go to AsyncAerostack)."""
    made: list[AsyncAerostack] = []

    def factory(**kwargs: Any) -> AsyncAerostack:
        kwargs.setdefault("api_key", emulator.api_key)
        kwargs.setdefault("base_url", emulator.base_url)
        made.append(AsyncAerostack(**kwargs))
        return made[-1]

    try:
        yield factory
    finally:
        for client in made:
            await client.aclose()


@pytest.fixture
async def client(make_client: ClientFactory) -> AsyncAerostack:
    """A client on the session emulator with the secret key."""
    return make_client()


@pytest.fixture
async def counting() -> AsyncIterator[CountingTransport]:
    """A transport that counts requests in flight (give it to a client as ``http_client``)."""
    transport = CountingTransport()
    yield transport
    await transport.aclose()


@pytest.fixture
async def counted_client(
    make_client: ClientFactory, counting: CountingTransport
) -> AsyncIterator[AsyncAerostack]:
    """A client whose requests all go through ``counting``."""
    async with httpx.AsyncClient(transport=counting) as http:
        yield make_client(http_client=http)


@pytest.fixture
def unique() -> str:
    """A fresh prefix, so tests sharing the session emulator never see each other's data."""
    return f"b{uuid.uuid4().hex[:12]}"
