"""Batching throughput: aerostack_async's batch methods against the seed SDK's gather loops.

Run: ``.venv/bin/python benchmarks/bench_batching.py [--keys 10000] [--jobs 5000]``

Starts its own emulator (throw-away store) and, in one run, times:

- reading 10,000 cache keys: ``client.cache.get_many(keys)`` against the seed SDK's
  ``sdk.cache.cache_get_async`` once per key under ``asyncio.gather`` with a semaphore of 64;
- enqueueing 5,000 jobs: ``client.queue.enqueue_many(jobs)`` against the seed's
  ``sdk.queue.queue_enqueue_async`` the same way (best of two rounds each, taking turns);
- the fan-out mechanism alone: ``map_concurrently`` (bounded workers) against one task per item
  under a ``CapacityLimiter``, 10,000 no-op calls, on asyncio and trio.

Prints the machine, the versions and a table with the ratios. Targets (issue 5): get_many at
least 50x the seed, enqueue_many at least 3x. Our client uses its default HTTP pool; run with
``AEROSTACK_HTTP_TRANSPORT=httpx`` to measure it on httpx's pool instead.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from importlib.metadata import version
from typing import Any

import anyio
from aerostack import SDK
from anyio.lowlevel import checkpoint

from aerostack_async import AsyncAerostack
from aerostack_async.batching import map_concurrently
from aerostack_async.testing import start_emulator

SEED_CONCURRENCY = 64


async def timed(work: Callable[[], Awaitable[Any]]) -> tuple[float, Any]:
    started = time.perf_counter()
    result = await work()
    return time.perf_counter() - started, result


async def seed_gather(calls: list[Callable[[], Awaitable[Any]]]) -> list[Any]:
    """What seed users write: gather everything, a semaphore of 64 to spare the pool."""
    semaphore = asyncio.Semaphore(SEED_CONCURRENCY)

    async def one(call: Callable[[], Awaitable[Any]]) -> Any:
        async with semaphore:
            return await call()

    return await asyncio.gather(*(one(call) for call in calls))


@asynccontextmanager
async def our_client(base_url: str, api_key: str) -> AsyncIterator[AsyncAerostack]:
    """A fresh client, as a batch job would make one (its connections are part of the time)."""
    async with AsyncAerostack(api_key=api_key, base_url=base_url) as client:
        yield client


async def ours_get(base_url: str, api_key: str, keys: list[str]) -> float:
    async with our_client(base_url, api_key) as client:
        elapsed, entries = await timed(lambda: client.cache.get_many(keys))
    assert [entry.value for entry in entries] == [{"n": n} for n in range(len(keys))]
    return elapsed


async def seed_get(base_url: str, api_key: str, keys: list[str]) -> float:
    async with SDK(api_key_auth=api_key, server_url=base_url) as sdk:
        calls = [lambda key=key: sdk.cache.cache_get_async(request={"key": key}) for key in keys]
        elapsed, answers = await timed(lambda: seed_gather(calls))
    assert [answer.value for answer in answers] == [{"n": n} for n in range(len(keys))]
    return elapsed


def cache_rounds(base_url: str, api_key: str, keys: list[str]) -> dict[str, float]:
    """Ours: best of three (a second each); the seed: one round (over a minute)."""

    async def fill() -> None:
        async with our_client(base_url, api_key) as client:
            await client.cache.set_many({key: {"n": n} for n, key in enumerate(keys)})

    asyncio.run(fill())
    ours = min(asyncio.run(ours_get(base_url, api_key, keys)) for _ in range(3))
    return {"ours": ours, "seed": asyncio.run(seed_get(base_url, api_key, keys))}


async def ours_enqueue(base_url: str, api_key: str, jobs: list[dict[str, Any]]) -> float:
    async with our_client(base_url, api_key) as client:
        elapsed, results = await timed(lambda: client.queue.enqueue_many(jobs))
    assert len({result.job_id for result in results}) == len(jobs)
    return elapsed


async def seed_enqueue(base_url: str, api_key: str, jobs: list[dict[str, Any]]) -> float:
    async with SDK(api_key_auth=api_key, server_url=base_url) as sdk:
        calls = [
            lambda job=job: sdk.queue.queue_enqueue_async(request=job)  # type: ignore[misc]
            for job in jobs
        ]
        elapsed, answers = await timed(lambda: seed_gather(calls))
    assert len({answer.job_id for answer in answers}) == len(jobs)
    return elapsed


def queue_rounds(base_url: str, api_key: str, count: int, rounds: int) -> dict[str, float]:
    """Best of ``rounds`` for each side, taking turns, so that load from elsewhere on the
    machine hits both sides alike."""
    jobs = [{"type": "bench", "data": {"n": n}} for n in range(count)]
    best = {"ours": float("inf"), "seed": float("inf")}
    for _ in range(rounds):
        best["ours"] = min(best["ours"], asyncio.run(ours_enqueue(base_url, api_key, jobs)))
        best["seed"] = min(best["seed"], asyncio.run(seed_enqueue(base_url, api_key, jobs)))
    return best


async def _noop(item: int) -> int:
    await checkpoint()
    return item


async def _task_per_item(items: list[int], limit: int) -> list[int]:
    limiter = anyio.CapacityLimiter(limit)
    results = [0] * len(items)

    async def one(index: int, item: int) -> None:
        async with limiter:
            results[index] = await _noop(item)

    async with anyio.create_task_group() as group:
        for index, item in enumerate(items):
            group.start_soon(one, index, item)
    return results


async def mechanism_round(count: int) -> dict[str, float]:
    items = list(range(count))
    best = {"workers": float("inf"), "tasks": float("inf")}
    for _ in range(3):
        elapsed, _ = await timed(lambda: map_concurrently(_noop, items, concurrency=64))
        best["workers"] = min(best["workers"], elapsed)
        elapsed, _ = await timed(lambda: _task_per_item(items, 64))
        best["tasks"] = min(best["tasks"], elapsed)
    return best


def row(name: str, items: int, seed: float, ours: float, target: float | None) -> str:
    ratio = seed / ours
    verdict = "" if target is None else ("met" if ratio >= target else "MISSED")
    target_text = "" if target is None else f">= {target:g}x"
    return (
        f"{name:<34} {items:>7,} {seed:>9.3f} {items / seed:>10,.0f} {ours:>9.3f} "
        f"{items / ours:>10,.0f} {ratio:>8.1f}x {target_text:>8} {verdict}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--keys", type=int, default=10_000)
    parser.add_argument("--jobs", type=int, default=5_000)
    parser.add_argument("--rounds", type=int, default=2, help="enqueue rounds per side (best)")
    parser.add_argument("--json", metavar="PATH", help="also write the results as JSON to PATH")
    options = parser.parse_args()

    print(
        f"machine: {platform.platform()}, {os.cpu_count()} CPUs, Python {platform.python_version()}"
    )
    names = ("aerostack-async", "aerostack", "httpx", "anyio", "trio", "msgspec")
    print("versions: " + ", ".join(f"{name} {version(name)}" for name in names))
    print("load average at start: " + ", ".join(f"{load:.1f}" for load in os.getloadavg()))
    if os.environ.get("AEROSTACK_HTTP_TRANSPORT") == "httpx":
        pool = "httpx's"
    else:
        from aerostack_async._pool._codec import dialect

        pool = f"its own ({dialect().name})"
    print(f"our client's HTTP pool: {pool}; AEROSTACK_HTTP_TRANSPORT=httpx selects httpx's")

    emulator = start_emulator()
    try:
        base_url, api_key = emulator.base_url, emulator.api_key
        keys = [f"bench:key:{n:05d}" for n in range(options.keys)]
        cache = cache_rounds(base_url, api_key, keys)
        queue = queue_rounds(base_url, api_key, options.jobs, options.rounds)
    finally:
        emulator.stop()
        emulator.log_path.unlink(missing_ok=True)
    mechanism = {
        backend: anyio.run(mechanism_round, options.keys, backend=backend)
        for backend in ("asyncio", "trio")
    }

    header = (
        f"{'operation':<34} {'items':>7} {'seed s':>9} {'seed op/s':>10} {'ours s':>9} "
        f"{'ours op/s':>10} {'ratio':>9} {'target':>8}"
    )
    print()
    print(header)
    print("-" * len(header))
    print(row("cache get: get_many vs gather/64", options.keys, cache["seed"], cache["ours"], 50))
    print(row("enqueue: enqueue_many vs gather/64", options.jobs, queue["seed"], queue["ours"], 3))
    for backend, best in mechanism.items():
        name = f"fan-out alone ({backend}): workers"
        print(row(name, options.keys, best["tasks"], best["workers"], None))
    print("\n(fan-out rows: 'seed' columns are one task per item under a CapacityLimiter of 64)")
    if options.json:
        data = {
            "keys": options.keys,
            "jobs": options.jobs,
            "get_many": {"ours_s": cache["ours"], "seed_s": cache["seed"]},
            "enqueue_many": {"ours_s": queue["ours"], "seed_s": queue["seed"]},
            "fan_out": {
                backend: {"workers_s": best["workers"], "tasks_s": best["tasks"]}
                for backend, best in mechanism.items()
            },
        }
        with open(options.json, "w") as out:
            json.dump(data, out, indent=1)


if __name__ == "__main__":
    main()
