"""Shared fixtures: both anyio backends, and one emulator process for the whole session."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from aerostack_async.testing import Emulator, run_emulator


@pytest.fixture(
    params=[
        pytest.param(("asyncio", {"use_uvloop": False}), id="asyncio"),
        pytest.param(("trio", {}), id="trio"),
    ]
)
def anyio_backend(request: pytest.FixtureRequest) -> tuple[str, dict[str, object]]:
    """Every async test runs on asyncio and on trio."""
    return request.param  # type: ignore[no-any-return]


@pytest.fixture(scope="session")
def emulator() -> Iterator[Emulator]:
    """One emulator (throw-away store, fast token pace) shared by the session's tests."""
    with run_emulator("--ai-token-delay-ms", "2") as running:
        yield running
