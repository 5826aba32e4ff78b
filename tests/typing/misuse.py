"""Wrong uses of the sync facade: ``mypy --strict`` must report every marked line."""

from __future__ import annotations

from aerostack_async import Aerostack


async def misuse() -> None:
    client = Aerostack(api_key="sk_test", backend="curio")  # E: backend
    await client.cache.get("k")  # E: not awaitable
    client.cache.get(42)  # E: key is a str
    client.cache.gett("k")  # E: no such method
    value: int = client.cache.get("k")  # E: a CacheGetResult, not int
    print(value)
    async for info in client.cache.list():  # E: a sync iterator
        print(info)
    async with client.ai.chat_stream("Hi"):  # E: a sync context manager
        pass
    client.close()
