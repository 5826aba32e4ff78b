"""The awaitable view that lets async tests run through ``Aerostack`` (see ``_adapter.py``)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import anyio.to_thread
import pytest

from aerostack_async import errors
from aerostack_async._sync import Aerostack
from aerostack_async.testing import Emulator

from ._adapter import AsyncView, start_in_helper_thread

pytestmark = pytest.mark.anyio


@pytest.fixture
async def view(emulator: Emulator) -> AsyncIterator[AsyncView]:
    client = Aerostack(api_key=emulator.api_key, base_url=emulator.base_url)
    start_in_helper_thread(client)
    try:
        yield AsyncView(client)
    finally:
        await anyio.to_thread.run_sync(client.close)


async def test_coroutine_methods_are_awaitable(view: AsyncView) -> None:
    key = f"view-{uuid.uuid4().hex}"
    await view.cache.set(key, 5)
    assert (await view.cache.get(key)).value == 5


async def test_argument_errors_are_raised_at_the_call(view: AsyncView) -> None:
    with pytest.raises(errors.InvalidRequestError):
        view.cache.list(limit=100_000)


async def test_streams_are_async_context_managers_and_iterators(view: AsyncView) -> None:
    async with view.ai.chat_stream("hi") as stream:
        texts = [text async for text in stream.text_stream]
        assert "".join(texts) == await stream.get_final_text()


async def test_repr_is_the_sync_clients(view: AsyncView) -> None:
    assert "sk_***" in repr(view)
