"""Batching and time to first token when a round trip costs something: through a latency proxy.

Run: ``.venv/bin/python benchmarks/bench_latency.py [--delay-ms 25] [--keys 10000] [--jobs 2000]``

Starts its own emulator and ``latency_proxy.LatencyProxy`` in front of it (``--delay-ms`` each
way, so a round trip costs twice that, and a new connection one round trip more, as a TCP
handshake does). Every client below talks to the emulator through the proxy:

- ``get_many`` of ``--keys`` keys and ``enqueue_many`` of ``--jobs`` jobs: our client with its
  defaults (a fresh client, so its pool's warm-up is in the time, then the same batch again on
  the warm client); the seed SDK ``aerostack==0.1.2`` under ``asyncio.gather`` with a semaphore
  of 64 (one call per item, as its users write it); a hand-written ``aiohttp`` gather (all
  calls at once on aiohttp's default connector of 100 connections; 100 keys per
  ``/cache/getMany`` call, as ours sends).
- the concurrency sweep: our batches at ``concurrency`` 10/20/50/100, with the default pool
  limits (20 connections kept alive) and with ``max_keepalive_connections`` raised to match,
  to show what the default costs when a round trip is expensive and what connection churn
  costs.
- time to first token of a chat stream: a fresh client each time (cold: the connection is part
  of it) and on a warm client (median of ``--ttft-runs``). The seed SDK cannot stream: its row
  is the time to the whole reply (which the emulator sends without pacing, so that row flatters
  it).

Prints tables; ``--json PATH`` writes the numbers for ``run_all.py``.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.util
import json
import os
import platform
import statistics
import sys
import time
from collections.abc import Awaitable, Callable
from importlib.metadata import version
from pathlib import Path
from typing import Any

import aiohttp
import anyio
from aerostack import SDK

from aerostack_async import AsyncAerostack, Limits
from aerostack_async.testing import start_emulator

HERE = Path(__file__).resolve().parent
SEED_CONCURRENCY = 64
SWEEP = (10, 20, 50, 100)
MESSAGES = [{"role": "user", "content": "How fast is the first token?"}]


def _load_proxy() -> Any:
    spec = importlib.util.spec_from_file_location("latency_proxy", HERE / "latency_proxy.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


async def timed(work: Callable[[], Awaitable[Any]]) -> tuple[float, Any]:
    started = time.perf_counter()
    result = await work()
    return time.perf_counter() - started, result


async def seed_gather(calls: list[Callable[[], Awaitable[Any]]]) -> list[Any]:
    semaphore = asyncio.Semaphore(SEED_CONCURRENCY)

    async def one(call: Callable[[], Awaitable[Any]]) -> Any:
        async with semaphore:
            return await call()

    return await asyncio.gather(*(one(call) for call in calls))


# --- batches ---------------------------------------------------------------------------------


async def ours_get(url: str, key: str, keys: list[str], **client_args: Any) -> dict[str, float]:
    """A fresh client: the first batch (its pool warming up), then the same batch warm."""
    concurrency = client_args.pop("concurrency", None)
    async with AsyncAerostack(api_key=key, base_url=url, **client_args) as client:
        cold, entries = await timed(lambda: client.cache.get_many(keys, concurrency=concurrency))
        warm, again = await timed(lambda: client.cache.get_many(keys, concurrency=concurrency))
    assert (
        [e.value for e in entries]
        == [e.value for e in again]
        == [{"n": n} for n in range(len(keys))]
    )
    return {"cold_s": cold, "warm_s": warm}


async def ours_enqueue(url: str, key: str, count: int, **client_args: Any) -> dict[str, float]:
    concurrency = client_args.pop("concurrency", None)
    jobs = [("latency", {"n": n}) for n in range(count)]
    async with AsyncAerostack(api_key=key, base_url=url, **client_args) as client:
        cold, first = await timed(lambda: client.queue.enqueue_many(jobs, concurrency=concurrency))
        warm, second = await timed(lambda: client.queue.enqueue_many(jobs, concurrency=concurrency))
    assert len({r.job_id for r in first + second}) == 2 * count
    return {"cold_s": cold, "warm_s": warm}


async def seed_get(url: str, key: str, keys: list[str]) -> float:
    async with SDK(api_key_auth=key, server_url=url) as sdk:
        calls = [lambda k=k: sdk.cache.cache_get_async(request={"key": k}) for k in keys]
        elapsed, answers = await timed(lambda: seed_gather(calls))
    assert [a.value for a in answers] == [{"n": n} for n in range(len(keys))]
    return elapsed


async def seed_enqueue(url: str, key: str, count: int) -> float:
    jobs = [{"type": "latency", "data": {"n": n}} for n in range(count)]
    async with SDK(api_key_auth=key, server_url=url) as sdk:
        calls = [lambda j=j: sdk.queue.queue_enqueue_async(request=j) for j in jobs]  # type: ignore[misc]
        elapsed, answers = await timed(lambda: seed_gather(calls))
    assert len({a.job_id for a in answers}) == count
    return elapsed


async def aiohttp_get(url: str, key: str, keys: list[str]) -> float:
    """What a careful hand-written client does: 100 keys per call, every call gathered."""
    headers = {"X-Aerostack-Key": key}
    async with aiohttp.ClientSession(headers=headers) as session:

        async def chunk(part: list[str]) -> list[Any]:
            async with session.post(url + "/cache/getMany", json={"keys": part}) as response:
                response.raise_for_status()
                return (await response.json())["results"]  # type: ignore[no-any-return]

        parts = [keys[i : i + 100] for i in range(0, len(keys), 100)]
        elapsed, answers = await timed(lambda: asyncio.gather(*(chunk(p) for p in parts)))
    values = [entry["value"] for answer in answers for entry in answer]
    assert values == [{"n": n} for n in range(len(keys))]
    return elapsed


async def aiohttp_enqueue(url: str, key: str, count: int) -> float:
    headers = {"X-Aerostack-Key": key}
    async with aiohttp.ClientSession(headers=headers) as session:

        async def one(n: int) -> str:
            body = {"type": "latency", "data": {"n": n}}
            async with session.post(url + "/queue/enqueue", json=body) as response:
                response.raise_for_status()
                return (await response.json())["jobId"]  # type: ignore[no-any-return]

        elapsed, ids = await timed(lambda: asyncio.gather(*(one(n) for n in range(count))))
    assert len(set(ids)) == count
    return elapsed


# --- time to first token ---------------------------------------------------------------------


async def ours_ttft(client: AsyncAerostack) -> float:
    started = time.perf_counter()
    first = None
    async with client.ai.chat_stream(MESSAGES, max_tokens=8) as stream:
        async for _ in stream.text_stream:
            if first is None:
                first = time.perf_counter() - started
    assert first is not None
    return first


async def aiohttp_ttft(session: aiohttp.ClientSession, url: str) -> float:
    body = {"messages": MESSAGES, "stream": True, "max_tokens": 8}
    started = time.perf_counter()
    first = None
    async with session.post(url + "/ai/chat", json=body) as response:
        async for line in response.content:
            if first is None and line.startswith(b"data: {"):
                json.loads(line[6:])["choices"][0]["delta"]["content"]
                first = time.perf_counter() - started
    assert first is not None
    return first


async def seed_reply(sdk: SDK) -> float:
    started = time.perf_counter()
    answer = await sdk.ai.ai_chat_async(request={"messages": MESSAGES, "max_tokens": 8})  # type: ignore[typeddict-item]
    assert answer is not None
    return time.perf_counter() - started


async def ttft_round(url: str, key: str, runs: int) -> dict[str, dict[str, float]]:
    cold: dict[str, list[float]] = {"ours": [], "aiohttp": [], "seed (whole reply)": []}
    headers = {"X-Aerostack-Key": key}
    for _ in range(5):  # a fresh client each time: connecting is part of the first token
        async with AsyncAerostack(api_key=key, base_url=url) as client:
            cold["ours"].append(await ours_ttft(client))
        async with aiohttp.ClientSession(headers=headers) as session:
            cold["aiohttp"].append(await aiohttp_ttft(session, url))
        async with SDK(api_key_auth=key, server_url=url) as sdk:
            cold["seed (whole reply)"].append(await seed_reply(sdk))
    warm: dict[str, list[float]] = {name: [] for name in cold}
    async with (
        AsyncAerostack(api_key=key, base_url=url) as client,
        aiohttp.ClientSession(headers=headers) as session,
        SDK(api_key_auth=key, server_url=url) as sdk,
    ):
        await ours_ttft(client), await aiohttp_ttft(session, url), await seed_reply(sdk)
        for _ in range(runs):
            warm["ours"].append(await ours_ttft(client))
            warm["aiohttp"].append(await aiohttp_ttft(session, url))
            warm["seed (whole reply)"].append(await seed_reply(sdk))
    return {
        name: {
            "cold_ms": statistics.median(cold[name]) * 1e3,
            "warm_ms": statistics.median(warm[name]) * 1e3,
        }
        for name in cold
    }


# --- the run ---------------------------------------------------------------------------------


def run(options: argparse.Namespace) -> dict[str, Any]:
    proxy_module = _load_proxy()
    delay = options.delay_ms / 1000
    emulator = start_emulator("--ai-token-delay-ms", str(options.token_delay_ms))
    try:
        port = int(emulator.origin.rsplit(":", 1)[1])
        keys = [f"latency:key:{n:05d}" for n in range(options.keys)]

        async def fill() -> None:  # straight to the emulator: filling is not measured
            async with AsyncAerostack(api_key=emulator.api_key, base_url=emulator.base_url) as c:
                await c.cache.set_many({key: {"n": n} for n, key in enumerate(keys)})

        asyncio.run(fill())
        with proxy_module.LatencyProxy(
            "127.0.0.1", port, delay=delay, max_seconds=options.max_seconds
        ) as proxy:
            url, key = f"http://127.0.0.1:{proxy.port}/v1", emulator.api_key
            data: dict[str, Any] = {
                "delay_ms": options.delay_ms,
                "keys": options.keys,
                "jobs": options.jobs,
                "token_delay_ms": options.token_delay_ms,
            }
            print(
                f"proxy: {options.delay_ms:g} ms each way; round trip {2 * options.delay_ms:g} ms"
            )
            data["get_many"] = {
                "ours": asyncio.run(ours_get(url, key, keys)),
                "ours_trio": anyio.run(ours_get, url, key, keys, backend="trio"),
                "aiohttp_s": asyncio.run(aiohttp_get(url, key, keys)),
                "seed_s": asyncio.run(seed_get(url, key, keys)),
            }
            print("get_many done", flush=True)
            data["enqueue_many"] = {
                "ours": asyncio.run(ours_enqueue(url, key, options.jobs)),
                "aiohttp_s": asyncio.run(aiohttp_enqueue(url, key, options.jobs)),
                "seed_s": asyncio.run(seed_enqueue(url, key, options.jobs)),
            }
            print("enqueue_many done", flush=True)
            sweep = []
            for where, target in (("loopback", emulator.base_url), ("latency", url)):
                for concurrency in SWEEP:
                    # A pool keeping fewer connections alive than the batch uses churns them;
                    # on the latency path, also measured with the two matched.
                    matched = (False, True) if where == "latency" and concurrency > 20 else (False,)
                    for match in matched:
                        limits = (
                            Limits(max_keepalive_connections=concurrency) if match else Limits()
                        )
                        row: dict[str, Any] = {
                            "path": where,
                            "concurrency": concurrency,
                            "keepalive": limits.max_keepalive_connections,
                        }
                        opened = proxy.connections
                        row["get_many"] = asyncio.run(
                            ours_get(target, key, keys, concurrency=concurrency, limits=limits)
                        )
                        row["get_many"]["connections"] = proxy.connections - opened
                        opened = proxy.connections
                        row["enqueue_many"] = asyncio.run(
                            ours_enqueue(
                                target, key, options.jobs, concurrency=concurrency, limits=limits
                            )
                        )
                        row["enqueue_many"]["connections"] = proxy.connections - opened
                        sweep.append(row)
            data["sweep"] = sweep
            print("sweep done", flush=True)
            data["ttft"] = asyncio.run(ttft_round(url, key, options.ttft_runs))
            data["connections"] = proxy.connections
    finally:
        emulator.stop()
        emulator.log_path.unlink(missing_ok=True)
    return data


def report(data: dict[str, Any]) -> None:
    keys, jobs = data["keys"], data["jobs"]
    print(f"\n## Batches through {data['delay_ms']:g} ms each way\n")
    print(f"{'operation':<34} {'client':<34} {'seconds':>8} {'items/s':>9}")
    for name, items in (("get_many", keys), ("enqueue_many", jobs)):
        block = data[name]
        rows = [
            ("ours, fresh client (defaults)", block["ours"]["cold_s"]),
            ("ours, warm client", block["ours"]["warm_s"]),
        ]
        if "ours_trio" in block:
            rows.append(("ours on trio, fresh client", block["ours_trio"]["cold_s"]))
        rows += [("aiohttp gather (100 conns)", block["aiohttp_s"]),
                 ("seed SDK, gather + semaphore 64", block["seed_s"])]  # fmt: skip
        for label, seconds in rows:
            print(
                f"{name + f' {items:,}':<34} {label:<34} {seconds:>8.3f} {items / seconds:>9,.0f}"
            )
    print("\n## Our concurrency: fresh client / warm client, seconds (connections opened)\n")
    print(f"{'path':<9} {'concurrency':>11} {'keepalive':>9} {'get_many':>24} {'enqueue_many':>24}")
    for row in data["sweep"]:
        cells = []
        for name in ("get_many", "enqueue_many"):
            cell = row[name]
            opened = f"({cell['connections']})" if row["path"] == "latency" else ""
            cells.append(f"{cell['cold_s']:.3f} / {cell['warm_s']:.3f} {opened}")
        print(
            f"{row['path']:<9} {row['concurrency']:>11} {row['keepalive']:>9} "
            f"{cells[0]:>24} {cells[1]:>24}"
        )
    print("\n## Time to first token (median ms)\n")
    for name, values in data["ttft"].items():
        print(f"{name:<22} cold {values['cold_ms']:>8.1f}   warm {values['warm_ms']:>8.1f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--delay-ms", type=float, default=25.0, help="one-way latency")
    parser.add_argument("--keys", type=int, default=10_000)
    parser.add_argument("--jobs", type=int, default=2_000)
    parser.add_argument("--ttft-runs", type=int, default=20)
    parser.add_argument("--token-delay-ms", type=float, default=15.0, help="emulator's pace")
    parser.add_argument("--max-seconds", type=float, default=900.0, help="the proxy's lifetime")
    parser.add_argument("--json", metavar="PATH", help="also write the results as JSON to PATH")
    options = parser.parse_args()
    print(
        f"machine: {platform.platform()}, {os.cpu_count()} CPUs, Python {platform.python_version()}"
    )
    names = ("aerostack-async", "aerostack", "aiohttp", "anyio", "httpx")
    print("versions: " + ", ".join(f"{name} {version(name)}" for name in names))
    print("load average at start: " + ", ".join(f"{load:.1f}" for load in os.getloadavg()))
    data = run(options)
    report(data)
    if options.json:
        Path(options.json).write_text(json.dumps(data, indent=1) + "\n")


if __name__ == "__main__":
    main()
