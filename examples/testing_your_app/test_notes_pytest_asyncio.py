"""The same fixture under pytest-asyncio (``@pytest.mark.asyncio``, its default strict mode)."""

from __future__ import annotations

import notes
import pytest

from aerostack_async import AsyncAerostack

pytest.importorskip("pytest_asyncio")


@pytest.mark.asyncio
async def test_pytest_asyncio_gets_its_own_project(async_aerostack: AsyncAerostack) -> None:
    assert await notes.add_note(async_aerostack, "from pytest-asyncio") == 1
    assert await notes.list_notes(async_aerostack) == ["from pytest-asyncio"]


@pytest.mark.asyncio
@pytest.mark.aerostack_in_process
async def test_pytest_asyncio_in_process(async_aerostack: AsyncAerostack) -> None:
    assert await notes.add_note(async_aerostack, "in-process") == 1
    assert await notes.note_count(async_aerostack) == 1
