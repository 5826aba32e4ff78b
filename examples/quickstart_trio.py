"""Quick start on trio: the same client, unchanged, under ``trio.run``.

aerostack-async is built on anyio, so it runs on trio natively (no asyncio bridge)::

    aerostack-async serve --memory &
    AEROSTACK_API_KEY=sk_local_aerostack python examples/quickstart_trio.py
"""

import trio

from aerostack_async import AsyncAerostack


async def main() -> None:
    async with AsyncAerostack(environment="local") as client:
        # A nursery runs calls side by side; they share the client's connection pool.
        async with trio.open_nursery() as nursery:
            for n in range(3):
                nursery.start_soon(client.cache.set, f"trio:{n}", n * n)
        values = await client.cache.get_many([f"trio:{n}" for n in range(3)])
        print("squares:", [entry.value for entry in values])

        async with client.ai.chat_stream("Name three rivers.") as stream:
            print("ai: ", end="")
            async for text in stream.text_stream:
                print(text, end="", flush=True)
        print()


if __name__ == "__main__":
    trio.run(main)
