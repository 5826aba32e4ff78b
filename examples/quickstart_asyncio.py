"""Quick start on asyncio: one client, a few calls to the database, cache, queue and AI.

Run the emulator, then this script::

    aerostack-async serve --memory &
    AEROSTACK_API_KEY=sk_local_aerostack python examples/quickstart_asyncio.py

The client reads its key from AEROSTACK_API_KEY; ``environment="local"`` is the emulator at
http://localhost:8787/v1 (an argument you pass wins over AEROSTACK_BASE_URL).
"""

import asyncio

from aerostack_async import AsyncAerostack


async def main() -> None:
    # One client per process: it holds the connection pool. "async with" closes it.
    async with AsyncAerostack(environment="local") as client:
        await client.database.query(
            "CREATE TABLE IF NOT EXISTS notes (id INTEGER PRIMARY KEY, body TEXT)"
        )
        await client.database.query("INSERT INTO notes (body) VALUES (?)", ["hello from asyncio"])
        rows = await client.database.query("SELECT id, body FROM notes ORDER BY id DESC LIMIT 1")
        print("latest note:", rows.results[0]["body"])

        await client.cache.set("greeting", {"text": "hello"}, ttl=60)
        cached = await client.cache.get("greeting")
        print("cached:", cached.value)

        job = await client.queue.enqueue("send-welcome-email", {"to": "ada@example.com"})
        print("enqueued job", job.job_id)

        reply = await client.ai.chat("Say hello in five words.")
        print("ai:", reply.text)


if __name__ == "__main__":
    asyncio.run(main())
