"""Fixtures for the client suite: ``make_client`` is the one place integration clients are made.

Every integration test gets its client from ``client`` or ``make_client``, so the whole suite
can later run over other transports or the sync facade by changing this file alone.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest

from aerostack_async import AsyncAerostack, RetryPolicy
from aerostack_async.testing import Emulator

ClientFactory = Callable[..., AsyncAerostack]

# Quick, jitter-free retries keep retry tests short; they never assert timings.
FAST_RETRY = RetryPolicy(attempts=3, wait_initial=0.01, wait_max=0.05, wait_jitter=0.0)


@pytest.fixture
async def make_client(emulator: Emulator) -> AsyncIterator[ClientFactory]:
    """Build clients bound to the session emulator (or elsewhere); all are closed afterwards.

    Keyword arguments go to :class:`AsyncAerostack`; ``api_key`` and ``base_url`` default to
    the emulator's.
    """
    made: list[AsyncAerostack] = []

    def factory(**kwargs: Any) -> AsyncAerostack:
        kwargs.setdefault("api_key", emulator.api_key)
        kwargs.setdefault("base_url", emulator.base_url)
        kwargs.setdefault("retry", FAST_RETRY)
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
def unique() -> str:
    """A fresh prefix, so tests sharing the session emulator never see each other's data."""
    return f"t{uuid.uuid4().hex[:12]}"
