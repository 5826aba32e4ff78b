"""Fixtures for the client suite: ``make_client`` is the one place integration clients are made.

Every integration test gets its client from ``client`` or ``make_client``, and runs twice: on an
``AsyncAerostack``, and through the sync facade (``Aerostack``, seen through an awaitable view
whose blocking calls run in worker threads; see ``tests/sync/_adapter.py``). Tests of behaviour
that only exists inside the client's own event loop (cancellation scopes, in-loop hooks) are
marked ``async_only``.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable
from typing import Any

import anyio.to_thread
import pytest

from aerostack_async import Aerostack, AsyncAerostack, RetryPolicy
from aerostack_async.testing import Emulator

from ..sync._adapter import AsyncView, start_in_helper_thread

ClientFactory = Callable[..., AsyncAerostack]

# Quick, jitter-free retries keep retry tests short; they never assert timings.
FAST_RETRY = RetryPolicy(attempts=3, wait_initial=0.01, wait_max=0.05, wait_jitter=0.0)


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "async_only: not run through the sync facade")


@pytest.fixture(params=["async", "sync"])
async def make_client(
    emulator: Emulator, request: pytest.FixtureRequest, anyio_backend: tuple[str, Any]
) -> AsyncIterator[ClientFactory]:
    """Build clients bound to the session emulator (or elsewhere); all are closed afterwards.

    Keyword arguments go to :class:`AsyncAerostack`; ``api_key`` and ``base_url`` default to
    the emulator's. The ``sync`` variant builds an :class:`Aerostack` with the same arguments.
    """
    sync = request.param == "sync"
    if sync and request.node.get_closest_marker("async_only"):
        pytest.skip("async only")
    made: list[AsyncAerostack | Aerostack] = []

    def factory(**kwargs: Any) -> AsyncAerostack:
        kwargs.setdefault("api_key", emulator.api_key)
        kwargs.setdefault("base_url", emulator.base_url)
        kwargs.setdefault("retry", FAST_RETRY)
        if sync:
            # The facade's loop runs the test's backend, so objects a test builds for it
            # (an http_client on our pool, say) meet the library they were made for.
            blocking = Aerostack(**kwargs, backend=anyio_backend[0])
            made.append(blocking)
            start_in_helper_thread(blocking)
            return AsyncView(blocking)  # type: ignore[return-value]
        made.append(AsyncAerostack(**kwargs))
        return made[-1]  # type: ignore[return-value]

    try:
        yield factory
    finally:
        for client in made:
            if isinstance(client, Aerostack):
                await anyio.to_thread.run_sync(client.close)
            else:
                await client.aclose()


@pytest.fixture
async def client(make_client: ClientFactory) -> AsyncAerostack:
    """A client on the session emulator with the secret key."""
    return make_client()


@pytest.fixture
def unique() -> str:
    """A fresh prefix, so tests sharing the session emulator never see each other's data."""
    return f"t{uuid.uuid4().hex[:12]}"
