"""Issue 16's measurements: our client against aiohttp (plain and TLS), the sync client against
urllib3, requests and the vendor SDK, a new client's first HTTPS request, and import time.

Every cell runs in a fresh process and is the median of ``--repeat`` such processes; "client CPU"
is that process's own CPU time (user + system) divided by the calls it made. Parts:

- ``async``: client CPU per call against ``canned_server.py`` (a near-free keep-alive server),
  plain and TLS, at c=1/16/64, for the same POST with a small JSON body and a JSON decode on
  both sides: ``AsyncAerostack.cache.get`` (``POST /v1/cache/get {"key": ...}``, decoded into
  its typed result) and ``aiohttp`` (``session.post(url, json=...)`` then ``response.json()``);
  on asyncio, on uvloop (aiohttp on the same loop each time) and on trio (ours only: aiohttp
  does not run there, so trio's cells are compared with aiohttp on asyncio).
- ``first-tls``: CPU of a new client's first HTTPS request (connect, handshake, call), for the
  process's first client and for a second one built after it (the SSL context is cached per
  process; the first client pays for loading the CA bundle).
- ``sync``: sequential calls against the emulator, ops/s and client CPU per call: our
  ``Aerostack`` (the sync facade), the vendor SDK ``aerostack==0.1.2``'s sync
  ``cache.cache_get``, raw ``urllib3`` and ``requests`` doing the same POST and JSON decode, and
  ``AsyncAerostack`` at c=1 (what the facade's hop adds); plus the hop alone (a no-op call), in
  turns with the floor under any such hop on this machine (a bare hand-off onto a loop in
  another thread, no library code), since that floor moves with the host.
- ``import``: ``python -X importtime`` of ``import aerostack_async``, of
  ``from aerostack_async import AsyncAerostack``, of ``import httpx`` and of ``import aiohttp``
  (median of 5 fresh interpreters each).

    python benchmarks/bench_parity.py [--parts async,first-tls,sync,import] [--repeat 3]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from bench_transport import WARMUP, _drive, canned_server, make_certificate  # noqa: E402

CONCURRENCY = (1, 16, 64)
LOOPS = ("asyncio", "uvloop", "trio")
PARTS = ("async", "first-tls", "sync", "import")
SYNC_CLIENTS = ("ours-sync", "ours-sync-trio", "vendor-sdk", "urllib3", "requests", "ours-async")
SYNC_LABELS = {
    "ours-sync": "Aerostack (sync facade)",
    "ours-sync-trio": "Aerostack (sync facade), trio loop",
    "vendor-sdk": "vendor SDK aerostack 0.1.2 (sync)",
    "urllib3": "raw urllib3",
    "requests": "raw requests",
    "ours-async": "AsyncAerostack, c=1",
}
IMPORTS = {
    "aerostack_async": "import aerostack_async",
    "AsyncAerostack": "from aerostack_async import AsyncAerostack",
    "httpx": "import httpx",
    "aiohttp": "import aiohttp",
}
LIMITS = {"max_connections": 100, "max_keepalive_connections": 100, "keepalive_expiry": 60}


# ------------------------------------------------------------------------------------------
# Workers (each in its own process)


async def _async_worker(client: str, url: str, concurrency: int, total: int, ca: str | None) -> Any:
    if client == "aiohttp":
        import ssl

        import aiohttp

        context = ssl.create_default_context(cafile=ca) if ca else None
        connector = aiohttp.TCPConnector(limit=100, ssl=context if context else True)
        async with aiohttp.ClientSession(connector=connector) as session:
            target = url + "/v1/cache/get"
            headers = {"X-Aerostack-Key": "sk_local_bench"}

            async def post() -> None:
                async with session.post(target, json={"key": "k"}, headers=headers) as response:
                    response.raise_for_status()
                    await response.json()

            return await _drive(post, concurrency, total)
    from aerostack_async import AsyncAerostack, Limits

    async with AsyncAerostack(
        api_key="sk_local_bench", base_url=url + "/v1", limits=Limits(**LIMITS)
    ) as aerostack:

        async def cache_get() -> None:
            await aerostack.cache.get("k")

        return await _drive(cache_get, concurrency, total)


async def _first_tls_worker(url: str) -> dict[str, float]:
    from aerostack_async import AsyncAerostack

    out: dict[str, float] = {}
    for which in ("first_client_ms", "new_client_ms"):
        cpu = time.process_time()
        async with AsyncAerostack(api_key="sk_local_bench", base_url=url + "/v1") as aerostack:
            await aerostack.cache.get("k")
        out[which] = (time.process_time() - cpu) * 1e3
    return out


def _sync_worker(client: str, base_url: str, api_key: str, total: int) -> dict[str, float]:
    body = {"key": "bench:1"}
    call: Callable[[], object]
    closer: Callable[[], object] = lambda: None  # noqa: E731
    if client in ("ours-sync", "ours-sync-trio"):
        from aerostack_async import Aerostack

        backend = "trio" if client == "ours-sync-trio" else "asyncio"
        aerostack = Aerostack(api_key=api_key, base_url=base_url, backend=backend)
        call, closer = (lambda: aerostack.cache.get("bench:1")), aerostack.close
    elif client == "vendor-sdk":
        from aerostack import SDK

        sdk = SDK(api_key_auth=api_key, server_url=base_url)
        call = lambda: sdk.cache.cache_get(request=body)  # noqa: E731
    elif client == "urllib3":
        import urllib3

        pool = urllib3.PoolManager()
        headers = {"X-Aerostack-Key": api_key, "Content-Type": "application/json"}
        payload = json.dumps(body).encode()

        def call() -> object:
            response = pool.request("POST", base_url + "/cache/get", body=payload, headers=headers)
            if response.status != 200:
                raise RuntimeError(response.status)
            return json.loads(response.data)

        closer = pool.clear
    elif client == "requests":
        import requests

        session = requests.Session()
        session.headers["X-Aerostack-Key"] = api_key

        def call() -> object:
            response = session.post(base_url + "/cache/get", json=body)
            response.raise_for_status()
            return response.json()

        closer = session.close
    elif client == "ours-async":
        import anyio

        from aerostack_async import AsyncAerostack

        async def run() -> dict[str, float]:
            async with AsyncAerostack(api_key=api_key, base_url=base_url) as aerostack:

                async def get() -> None:
                    await aerostack.cache.get("bench:1")

                return await _drive(get, 1, total)

        result: dict[str, float] = anyio.run(run)
        return {"cpu_us": result["cpu_us"], "ops": result["rps"]}
    else:
        raise ValueError(client)
    for _ in range(WARMUP):
        call()
    cpu, wall = time.process_time(), time.perf_counter()
    for _ in range(total):
        call()
    cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    closer()
    return {"cpu_us": cpu / total * 1e6, "ops": total / wall}


def _hop_worker(backend: str, total: int) -> dict[str, float]:
    from aerostack_async._sync import SyncClient

    class Root:
        async def noop(self) -> None:
            return None

    client = SyncClient(Root, backend=backend)
    try:
        client.noop()
        cpu, wall = time.process_time(), time.perf_counter()
        for _ in range(total):
            client.noop()
        cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    finally:
        client.close()
    return {"cpu_us": cpu / total * 1e6, "wall_us": wall / total * 1e6}


def _hop_floor_worker(backend: str, total: int) -> dict[str, float]:
    """The floor under any hop onto one loop serving other threads, with no library code: a
    thread hands a coroutine to a loop running in another thread (``call_soon_threadsafe`` or
    ``TrioToken.run_sync_soon``, then a task) and blocks on a lock that the task releases."""
    import threading

    async def release(lock: threading.Lock) -> None:
        lock.release()

    started = threading.Event()
    handle: dict[str, Any] = {}
    if backend == "asyncio":
        import asyncio

        loop = asyncio.new_event_loop()
        threading.Thread(target=loop.run_forever, daemon=True).start()

        def hand_off(lock: threading.Lock) -> None:
            loop.call_soon_threadsafe(lambda: loop.create_task(release(lock)))

    else:
        import trio

        async def serve() -> None:
            handle["token"] = trio.lowlevel.current_trio_token()
            started.set()
            await trio.sleep_forever()

        threading.Thread(target=trio.run, args=(serve,), daemon=True).start()
        started.wait()
        token = handle["token"]
        spawn = trio.lowlevel.spawn_system_task

        def hand_off(lock: threading.Lock) -> None:
            token.run_sync_soon(lambda: spawn(release, lock))

    def hop() -> None:
        lock = threading.Lock()
        lock.acquire()
        hand_off(lock)
        lock.acquire()

    for _ in range(200):
        hop()
    cpu, wall = time.process_time(), time.perf_counter()
    for _ in range(total):
        hop()
    cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    return {"cpu_us": cpu / total * 1e6, "wall_us": wall / total * 1e6}


def worker_main(args: argparse.Namespace) -> None:
    """One measurement in this process; prints it as JSON."""
    import anyio

    spec = json.loads(args.worker)
    kind = spec["kind"]
    if kind == "async":
        loop = spec["loop"]
        backend = "trio" if loop == "trio" else "asyncio"
        options = {"use_uvloop": True} if loop == "uvloop" else {}
        result = anyio.run(
            _async_worker,
            spec["client"],
            spec["url"],
            spec["concurrency"],
            spec["total"],
            spec.get("ca"),
            backend=backend,
            backend_options=options,
        )
    elif kind == "first-tls":
        result = anyio.run(_first_tls_worker, spec["url"])
    elif kind == "sync":
        result = _sync_worker(spec["client"], spec["base_url"], spec["api_key"], spec["total"])
    elif kind == "hop":
        result = _hop_worker(spec["backend"], spec["total"])
    elif kind == "hop-floor":
        result = _hop_floor_worker(spec["backend"], spec["total"])
    else:
        raise ValueError(kind)
    print(json.dumps(result))


# ------------------------------------------------------------------------------------------
# The driver


def _run(spec: dict[str, Any], env: dict[str, str] | None = None) -> dict[str, float]:
    command = [sys.executable, str(Path(__file__).resolve()), "--worker", json.dumps(spec)]
    done = subprocess.run(command, capture_output=True, text=True, env=env, check=False)
    if done.returncode:
        raise RuntimeError(f"worker {spec} failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


def _median(runs: list[dict[str, float]]) -> dict[str, float]:
    return {key: statistics.median(run[key] for run in runs) for key in runs[0]}


def part_async(
    repeat: int, total: int, loops: list[str], levels: list[int]
) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory() as folder:
        cert, key = make_certificate(folder)
        env = dict(os.environ, SSL_CERT_FILE=cert)  # our client trusts it as users would
        for tls in (False, True):
            with canned_server(*((cert, key) if tls else ())) as port:
                url = f"{'https' if tls else 'http'}://127.0.0.1:{port}"
                for loop in loops:
                    for level in levels:
                        clients = ["ours"] if loop == "trio" else ["ours", "aiohttp"]
                        runs: dict[str, list[dict[str, float]]] = {c: [] for c in clients}
                        # In turns (ours, aiohttp, ours, ...): a drift in the machine's load
                        # then hits both sides of a ratio alike.
                        for _ in range(repeat):
                            for client in clients:
                                spec = {
                                    "kind": "async",
                                    "client": client,
                                    "loop": loop,
                                    "url": url,
                                    "concurrency": level,
                                    "total": total,
                                    "ca": cert if tls else None,
                                }
                                runs[client].append(_run(spec, env))
                        for client in clients:
                            row = {
                                "client": client,
                                "loop": loop,
                                "tls": tls,
                                "concurrency": level,
                                "runs_cpu_us": [r["cpu_us"] for r in runs[client]],
                            } | _median(runs[client])
                            rows.append(row)
                            print(
                                f"  {'TLS' if tls else 'plain':5} {loop:7} {client:8} "
                                f"c={level:<3} {row['cpu_us']:6.0f} µs {row['rps']:8,.0f}/s",
                                file=sys.stderr,
                                flush=True,
                            )
    return rows


def part_first_tls(repeat: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as folder:
        cert, key = make_certificate(folder)
        env = dict(os.environ, SSL_CERT_FILE=cert)
        with canned_server(cert, key) as port:
            spec = {"kind": "first-tls", "url": f"https://127.0.0.1:{port}"}
            runs = [_run(spec, env) for _ in range(max(repeat, 5))]
    return _median(runs) | {"runs": runs}


def part_sync(repeat: int, total: int) -> dict[str, Any]:
    from aerostack_async.testing import run_emulator

    rows = []
    with run_emulator() as emulator:
        import httpx

        httpx.post(
            emulator.base_url + "/cache/set",
            json={"key": "bench:1", "value": {"name": "Ada", "visits": 42}},
            headers={"X-Aerostack-Key": emulator.api_key},
        ).raise_for_status()
        # Round-robin: each repeat measures every client once, so load drifts hit all alike.
        runs: dict[str, list[dict[str, float]]] = {client: [] for client in SYNC_CLIENTS}
        for _ in range(repeat):
            for client in SYNC_CLIENTS:
                spec = {
                    "kind": "sync",
                    "client": client,
                    "base_url": emulator.base_url,
                    "api_key": emulator.api_key,
                    "total": total,
                }
                runs[client].append(_run(spec))
        for client in SYNC_CLIENTS:
            row = {"client": client, "label": SYNC_LABELS[client]} | _median(runs[client])
            rows.append(row)
            print(
                f"  sync {row['label']:36} {row['ops']:7,.0f}/s {row['cpu_us']:6.0f} µs",
                file=sys.stderr,
            )
    # The hop, and in turns with it the floor under any hop on this machine at this moment.
    hops, floors = {}, {}
    for backend in ("asyncio", "trio"):
        measured: dict[str, list[dict[str, float]]] = {"hop": [], "hop-floor": []}
        for _ in range(repeat):
            for kind in measured:
                measured[kind].append(_run({"kind": kind, "backend": backend, "total": 5000}))
        hops[backend] = _median(measured["hop"])
        floors[backend] = _median(measured["hop-floor"])
    return {"rows": rows, "hop": hops, "hop_floor": floors}


def _importtime(statement: str) -> list[tuple[str, int, bool]]:
    """(module, cumulative µs, top level) for each line ``-X importtime`` prints."""
    done = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", statement],
        capture_output=True,
        text=True,
        check=True,
    )
    out = []
    for line in done.stderr.splitlines():
        if not line.startswith("import time:") or "cumulative" in line:
            continue
        _, cumulative, name = line.split("|")
        out.append((name.strip(), int(cumulative), not name.startswith("  ")))
    return out


def part_import(runs: int = 5) -> dict[str, Any]:
    # What the interpreter imports at start-up is not the statement's: leave it out.
    startup = {name for name, _, _ in _importtime("pass")}
    out: dict[str, Any] = {}
    for name, statement in IMPORTS.items():
        samples = []
        for _ in range(runs):
            lines = _importtime(statement)
            total = sum(us for module, us, top in lines if top and module not in startup)
            samples.append(total / 1000)
        out[name] = {
            "statement": statement,
            "ms": statistics.median(samples),
            "samples_ms": samples,
        }
    return out


def print_report(data: dict[str, Any]) -> None:
    rows = data.get("async") or []
    if rows:
        print(
            "Client CPU per call (µs), median of fresh processes; ours / aiohttp on the same loop"
        )
        for tls in (False, True):
            print(f"\n{'TLS' if tls else 'plain HTTP'}:")
            for loop in LOOPS:
                cells = []
                for level in CONCURRENCY:
                    ours = _find(rows, "ours", loop, tls, level)
                    ref = _find(rows, "aiohttp", "asyncio" if loop == "trio" else loop, tls, level)
                    if ours is None:
                        continue
                    ratio = f" ({ours['cpu_us'] / ref['cpu_us']:.2f}x)" if ref else ""
                    aio = f" vs {ref['cpu_us']:.0f}" if ref else ""
                    cells.append(f"c={level}: {ours['cpu_us']:.0f}{aio}{ratio}")
                if cells:
                    print(f"  {loop:8} " + "   ".join(cells))
    first = data.get("first-tls")
    if first:
        print(
            f"\nfirst HTTPS request: first client {first['first_client_ms']:.1f} ms CPU, "
            f"a new client after it {first['new_client_ms']:.1f} ms CPU"
        )
    sync = data.get("sync")
    if sync:
        print("\nSequential calls against the emulator:")
        vendor = next(r for r in sync["rows"] if r["client"] == "vendor-sdk")
        for row in sync["rows"]:
            print(
                f"  {row['label']:36} {row['ops']:7,.0f}/s ({row['ops'] / vendor['ops']:.2f}x"
                f" the vendor SDK)  {row['cpu_us']:6.0f} µs CPU"
                f" ({row['cpu_us'] / vendor['cpu_us']:.2f}x)"
            )
        for backend, hop in sync["hop"].items():
            floor = sync.get("hop_floor", {}).get(backend)
            print(
                f"  the hop alone ({backend}): {hop['cpu_us']:.0f} µs CPU a call"
                + (f" (the bare hand-off, no library: {floor['cpu_us']:.0f} µs)" if floor else "")
            )
    imports = data.get("import")
    if imports:
        print("\nImport time (median of 5, -X importtime):")
        for row in imports.values():
            print(f"  {row['statement']:45} {row['ms']:6.1f} ms")


def _find(rows: list[dict[str, Any]], client: str, loop: str, tls: bool, level: int) -> Any:
    for row in rows:
        if (row["client"], row["loop"], row["tls"], row["concurrency"]) == (
            client,
            loop,
            tls,
            level,
        ):
            return row
    return None


def main() -> None:
    """Command line entry point."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--parts", default=",".join(PARTS))
    parser.add_argument("--repeat", type=int, default=3, help="fresh processes per cell")
    parser.add_argument("--requests", type=int, default=3000, help="calls per async cell")
    parser.add_argument("--sync-calls", type=int, default=2000, help="calls per sync cell")
    parser.add_argument("--loops", default=",".join(LOOPS))
    parser.add_argument("--concurrency", default=",".join(map(str, CONCURRENCY)))
    parser.add_argument("--json", metavar="PATH", help="also write the results as JSON to PATH")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        worker_main(args)
        return
    parts = [part for part in args.parts.split(",") if part]
    print(
        f"machine: {platform.machine()}, {os.cpu_count()} CPUs; python "
        f"{platform.python_version()}; load average {os.getloadavg()[0]:.2f}",
        file=sys.stderr,
    )
    data: dict[str, Any] = {"repeat": args.repeat, "requests": args.requests}
    if "async" in parts:
        loops = [loop for loop in args.loops.split(",") if loop]
        levels = [int(level) for level in args.concurrency.split(",")]
        data["async"] = part_async(args.repeat, args.requests, loops, levels)
    if "first-tls" in parts:
        data["first-tls"] = part_first_tls(args.repeat)
    if "sync" in parts:
        data["sync"] = part_sync(args.repeat, args.sync_calls)
    if "import" in parts:
        data["import"] = part_import()
    print_report(data)
    if args.json:
        Path(args.json).write_text(json.dumps(data, indent=1))


if __name__ == "__main__":
    main()
