"""Batching: many cache and queue operations without hand-written gather loops.

aerostack-async serve --memory &
AEROSTACK_API_KEY=sk_local_aerostack python examples/batching.py
"""

import asyncio

from aerostack_async import AsyncAerostack
from aerostack_async.batching import map_concurrently


async def main() -> None:
    async with AsyncAerostack(environment="local") as client:
        # 1,000 keys go 100 per request, several requests at once, results in order.
        entries = {f"user:{n}": {"id": n, "plan": "free" if n % 3 else "pro"} for n in range(1000)}
        written = await client.cache.set_many(entries, ttl=300)
        print("cache entries written:", written.count)

        values = await client.cache.get_many(list(entries))
        pro = sum(1 for entry in values if entry.value["plan"] == "pro")
        print("pro users:", pro)

        # One enqueue per job (each with its own idempotency key), at most 32 in flight.
        jobs = [{"type": "recalculate", "data": {"user": n}} for n in range(100)]
        results = await client.queue.enqueue_many(
            jobs,
            concurrency=32,
            on_progress=lambda done, total: print(f"\renqueued {done}/{total}", end=""),
        )
        print("\njobs enqueued:", len(results))

        # Any async call can be fanned out the same way; with return_exceptions=True a failed
        # item gives its exception instead of stopping the batch.
        async def square(n: int) -> int:
            answer = await client.database.query("SELECT ? * ? AS s", [n, n])
            return answer.results[0]["s"]

        squares = await map_concurrently(square, range(10), concurrency=4)
        print("squares:", squares)

        mixed = await client.cache.get_many(["user:1", "x" * 600], return_exceptions=True)
        print("second key refused:", type(mixed[1]).__name__)


if __name__ == "__main__":
    asyncio.run(main())
