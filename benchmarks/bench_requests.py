"""Request/response speed: cache set/get through aerostack_async, the seed SDK and raw httpx.

Run: ``.venv/bin/python benchmarks/bench_requests.py [--seconds 3] [--concurrency 1 16 64]``

Starts its own emulator (a separate process, throw-away store) and, in one run, drives
``/cache/set`` then ``/cache/get`` in a loop from ``C`` concurrent workers (C = 1, 16, 64) for a
fixed time, with each of:

- ``aerostack_async``: ``client.cache.set`` / ``client.cache.get`` (its default HTTP pool);
- ``aerostack_async + _pool``: the same client on our own h11 keep-alive pool transport;
- the seed SDK ``aerostack==0.1.2``: ``sdk.cache.cache_set_async`` / ``cache_get_async``;
- raw ``httpx.AsyncClient``: ``client.post(url, json=...)`` of the same JSON, ``.json()`` read.

All use one pool of up to 100 kept-alive connections. It prints ops/s (wall clock) and the
client's CPU per request (``time.process_time()`` of this process only: the emulator's CPU is
not counted), and the ratios the issue sets targets for: ops/s at least 2.5x the seed's at every
concurrency, client CPU per request within 1.2x of raw httpx. The machine is shared and the
server runs on the same cores, so absolute numbers move between runs; ratios move less. Each
cell is run ``--repeat`` times, interleaved, and the best run is kept (most ops/s, least CPU).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from importlib.metadata import version
from typing import Any

import anyio
import httpx

from aerostack_async import AsyncAerostack, Limits
from aerostack_async.testing import Emulator, start_emulator

Op = Callable[[int], Awaitable[Any]]
VALUE = {"user": "ada", "visits": 42, "tags": ["a", "b", "c"]}
POOL = 100


@dataclass
class Result:
    client: str
    concurrency: int
    ops: int
    wall: float
    cpu: float

    @property
    def ops_per_s(self) -> float:
        return self.ops / self.wall

    @property
    def cpu_us(self) -> float:
        return self.cpu / self.ops * 1e6


async def drive(name: str, op: Op, concurrency: int, seconds: float) -> Result:
    """Run ``op`` from ``concurrency`` workers for ``seconds`` (after a short warm-up)."""
    warm_until = time.monotonic() + min(0.5, seconds / 4)

    async def warm(worker: int) -> None:
        n = 0
        while time.monotonic() < warm_until:
            await op(worker * 1_000_000 + n)
            n += 1

    async with anyio.create_task_group() as tg:
        for worker in range(concurrency):
            tg.start_soon(warm, worker)

    done = 0
    stop_at = time.monotonic() + seconds

    async def work(worker: int) -> None:
        nonlocal done
        n = 0
        while time.monotonic() < stop_at:
            await op(worker * 1_000_000 + n)
            n += 1
            done += 2  # a set and a get

    cpu0, wall0 = time.process_time(), time.perf_counter()
    async with anyio.create_task_group() as tg:
        for worker in range(concurrency):
            tg.start_soon(work, worker)
    return Result(name, concurrency, done, time.perf_counter() - wall0, time.process_time() - cpu0)


async def run_ours(em: Emulator, concurrency: int, seconds: float, pool: bool) -> Result:
    limits = Limits(max_connections=POOL, max_keepalive_connections=POOL)
    http: httpx.AsyncClient | None = None
    if pool:
        from aerostack_async._pool import AsyncPoolTransport

        http = httpx.AsyncClient(
            transport=AsyncPoolTransport(
                limits=httpx.Limits(max_connections=POOL, max_keepalive_connections=POOL)
            )
        )
    async with AsyncAerostack(
        api_key=em.api_key, base_url=em.base_url, limits=limits, http_client=http
    ) as client:
        cache = client.cache

        async def op(n: int) -> None:
            key = f"bench:{n % 1000}"
            await cache.set(key, VALUE)
            await cache.get(key)

        name = "aerostack_async + _pool" if pool else "aerostack_async"
        result = await drive(name, op, concurrency, seconds)
    if http is not None:
        await http.aclose()
    return result


async def run_seed(em: Emulator, concurrency: int, seconds: float) -> Result:
    from aerostack import SDK

    limits = httpx.Limits(max_connections=POOL, max_keepalive_connections=POOL)
    async with httpx.AsyncClient(limits=limits, follow_redirects=True) as http:
        sdk = SDK(api_key_auth=em.api_key, server_url=em.base_url, async_client=http)

        async def op(n: int) -> None:
            key = f"bench:{n % 1000}"
            await sdk.cache.cache_set_async(request={"key": key, "value": VALUE})
            await sdk.cache.cache_get_async(request={"key": key})

        return await drive("seed SDK 0.1.2", op, concurrency, seconds)


async def run_raw(em: Emulator, concurrency: int, seconds: float) -> Result:
    limits = httpx.Limits(max_connections=POOL, max_keepalive_connections=POOL)
    headers = {"X-Aerostack-Key": em.api_key}
    set_url, get_url = em.base_url + "/cache/set", em.base_url + "/cache/get"
    async with httpx.AsyncClient(limits=limits) as http:

        async def op(n: int) -> None:
            key = f"bench:{n % 1000}"
            (await http.post(set_url, json={"key": key, "value": VALUE}, headers=headers)).json()
            (await http.post(get_url, json={"key": key}, headers=headers)).json()

        return await drive("raw httpx", op, concurrency, seconds)


def best(runs: list[Result]) -> Result:
    """The least disturbed of repeated runs: the most ops/s and the least CPU per request."""
    fastest = max(runs, key=lambda r: r.ops_per_s)
    leanest = min(runs, key=lambda r: r.cpu_us)
    # Keep ops/s from the fastest run and CPU/request from the leanest one.
    return Result(
        fastest.client,
        fastest.concurrency,
        fastest.ops,
        fastest.wall,
        leanest.cpu_us * fastest.ops / 1e6,
    )


def print_table(results: list[Result]) -> None:
    by = {(r.client, r.concurrency): r for r in results}
    print(
        f"{'client':<26}{'C':>4}{'ops/s':>10}{'CPU µs/req':>12}{'x seed ops/s':>14}"
        f"{'CPU / raw':>11}"
    )
    for r in results:
        seed = by.get(("seed SDK 0.1.2", r.concurrency))
        raw = by.get(("raw httpx", r.concurrency))
        speed = f"{r.ops_per_s / seed.ops_per_s:.2f}x" if seed else "-"
        cpu = f"{r.cpu_us / raw.cpu_us:.2f}" if raw else "-"
        print(
            f"{r.client:<26}{r.concurrency:>4}{r.ops_per_s:>10.0f}{r.cpu_us:>12.0f}"
            f"{speed:>14}{cpu:>11}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=3.0, help="measured time per cell")
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 16, 64])
    parser.add_argument("--repeat", type=int, default=2, help="runs per cell (best one kept)")
    parser.add_argument("--no-pool", action="store_true", help="skip the _pool transport rows")
    parser.add_argument("--json", metavar="PATH", help="also write the results as JSON to PATH")
    args = parser.parse_args()

    print(f"machine: {platform.platform()}, {os.cpu_count()} CPUs, load {os.getloadavg()}")
    print(
        f"python {platform.python_version()}, asyncio (no uvloop); aerostack-async "
        f"{version('aerostack-async')}, aerostack (seed) {version('aerostack')}, httpx "
        f"{version('httpx')}, httpcore {version('httpcore')}, msgspec {version('msgspec')}"
    )
    emulator = start_emulator()
    print(f"emulator: {emulator.base_url} (separate process)\n")
    results: list[Result] = []
    try:
        for concurrency in args.concurrency:
            runs: list[Callable[[], Awaitable[Result]]] = [
                lambda c=concurrency: run_ours(emulator, c, args.seconds, pool=False),
                lambda c=concurrency: run_seed(emulator, c, args.seconds),
                lambda c=concurrency: run_raw(emulator, c, args.seconds),
            ]
            if not args.no_pool:
                runs.insert(1, lambda c=concurrency: run_ours(emulator, c, args.seconds, True))
            # Repeats are interleaved, so a burst of load elsewhere hits every client alike.
            cells: list[list[Result]] = [[] for _ in runs]
            for _ in range(args.repeat):
                for cell, run in zip(cells, runs, strict=True):
                    cell.append(anyio.run(run))
            results.extend(best(cell) for cell in cells)
    finally:
        emulator.stop()
        emulator.log_path.unlink(missing_ok=True)
    print_table(results)
    if args.json:
        write_json(args.json, results, args)


def write_json(path: str, results: list[Result], args: argparse.Namespace) -> None:
    """The table as data: one record per (client, concurrency) cell."""
    rows = [
        {
            "client": r.client,
            "concurrency": r.concurrency,
            "ops_per_s": r.ops_per_s,
            "cpu_us": r.cpu_us,
        }
        for r in results
    ]
    options = {"seconds": args.seconds, "repeat": args.repeat}
    with open(path, "w") as out:
        json.dump({"options": options, "rows": rows}, out, indent=1)


if __name__ == "__main__":
    main()
