"""Client CPU per request and requests/s: our HTTP/1.1 pool against stock httpx and aiohttp.

Every row talks to the same near-free canned server (``canned_server.py``, its own process) and
runs in a fresh client process, so "client CPU" is exactly that process's CPU time (user + system,
``time.process_time``) divided by the requests it made. Rows, at concurrency 1, 16 and 64:

- ``httpx + ours``: ``httpx.AsyncClient(transport=AsyncPoolTransport(...))``
- ``httpx stock``: ``httpx.AsyncClient(...)`` on httpcore's pool
- ``aiohttp``: ``aiohttp.ClientSession`` (asyncio only)
- ``AsyncAerostack + ours`` / ``+ stock``: our client's ``cache.get``, the client building its
  own HTTP client (as users get it) on our pool or, with ``AEROSTACK_HTTP_TRANSPORT=httpx``, on
  httpx's own transport

on asyncio and on trio, plus one TLS row, all in one run. Both httpx rows use the same limits
(100 connections, all kept alive), so that neither churns connections at c=64.

    python benchmarks/bench_transport.py [--requests 2000] [--repeat 1] [--rows ours,stock,...]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
CONCURRENCY = (1, 16, 64)
ROWS = ("ours", "stock", "aiohttp", "client-ours", "client-stock")
LABELS = {
    "ours": "httpx + ours",
    "stock": "httpx stock",
    "aiohttp": "aiohttp",
    "client-ours": "AsyncAerostack + ours",
    "client-stock": "AsyncAerostack + stock",
}
WARMUP = 200


# ------------------------------------------------------------------------------------------
# The worker: one configuration, in its own process


def _httpx_client(row: str, tls_ca: str | None) -> Any:
    import ssl

    import httpx

    from aerostack_async._pool import AsyncPoolTransport

    limits = httpx.Limits(max_connections=100, max_keepalive_connections=100, keepalive_expiry=60)
    verify: Any = ssl.create_default_context(cafile=tls_ca) if tls_ca else True
    if row.endswith("ours"):
        transport: httpx.AsyncBaseTransport = AsyncPoolTransport(verify=verify, limits=limits)
    else:
        transport = httpx.AsyncHTTPTransport(verify=verify, limits=limits)
    return httpx.AsyncClient(transport=transport, timeout=30)


async def _drive(
    call: Callable[[], Awaitable[object]], concurrency: int, total: int
) -> dict[str, float]:
    import anyio

    async def run(count: int) -> None:
        remaining = count

        async def worker() -> None:
            nonlocal remaining
            while remaining > 0:
                remaining -= 1
                await call()

        async with anyio.create_task_group() as tg:
            for _ in range(concurrency):
                tg.start_soon(worker)

    await run(WARMUP)
    cpu, wall = time.process_time(), time.perf_counter()
    await run(total)
    cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    return {"cpu_us": cpu / total * 1e6, "rps": total / wall}


async def _worker(
    row: str, url: str, concurrency: int, total: int, tls_ca: str | None
) -> dict[str, float]:
    if row == "aiohttp":
        import ssl

        import aiohttp

        context = ssl.create_default_context(cafile=tls_ca) if tls_ca else None
        connector = aiohttp.TCPConnector(limit=100, ssl=context if context else True)
        async with aiohttp.ClientSession(connector=connector) as session:

            async def get() -> None:
                async with session.get(url) as response:
                    await response.read()

            return await _drive(get, concurrency, total)
    if row.startswith("client"):
        # The client as users get it: it builds its own pool (so calls take its fast path).
        from aerostack_async import AsyncAerostack, Limits

        os.environ["AEROSTACK_HTTP_TRANSPORT"] = "pool" if row == "client-ours" else "httpx"
        limits = Limits(max_connections=100, max_keepalive_connections=100, keepalive_expiry=60)
        async with AsyncAerostack(
            api_key="sk_local_bench", base_url=url + "/v1", limits=limits
        ) as aerostack:

            async def cache_get() -> None:
                await aerostack.cache.get("k")

            return await _drive(cache_get, concurrency, total)
    client = _httpx_client(row, tls_ca)
    async with client:

        async def get() -> None:
            (await client.get(url)).raise_for_status()

        return await _drive(get, concurrency, total)


def worker_main(args: argparse.Namespace) -> None:
    """Run one configuration and print its numbers as JSON."""
    import anyio

    result = anyio.run(
        _worker,
        args.row,
        args.url,
        args.concurrency,
        args.requests,
        args.tls_ca,
        backend=args.backend,
    )
    print(json.dumps(result))


# ------------------------------------------------------------------------------------------
# The driver: servers, one process per configuration, the table


@contextmanager
def canned_server(*tls: str) -> Iterator[int]:
    """Run canned_server.py in its own process; yield its port."""
    command = [sys.executable, str(HERE / "canned_server.py")]
    if tls:
        command += ["--tls", *tls]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        if not line.startswith("PORT"):
            raise RuntimeError(f"canned server did not start: {line!r}")
        yield int(line.split()[1])
    finally:
        process.terminate()
        process.wait(timeout=10)


def make_certificate(folder: str) -> tuple[str, str]:
    """A throw-away self-signed certificate for 127.0.0.1 (openssl command)."""
    cert, key = os.path.join(folder, "cert.pem"), os.path.join(folder, "key.pem")
    subprocess.run(
        [
            shutil.which("openssl") or "openssl",
            "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
            "-nodes", "-days", "1", "-subj", "/CN=127.0.0.1",
            "-addext", "subjectAltName=IP:127.0.0.1",
            "-keyout", key, "-out", cert,
        ],
        check=True,
        capture_output=True,
    )  # fmt: skip
    return cert, key


def measure(
    row: str,
    backend: str,
    url: str,
    concurrency: int,
    total: int,
    tls_ca: str | None = None,
    repeat: int = 1,
) -> dict[str, float]:
    """One configuration, best (least CPU) of ``repeat`` runs, each in a fresh process."""
    runs = [measure_once(row, backend, url, concurrency, total, tls_ca) for _ in range(repeat)]
    good = [run for run in runs if "error" not in run]
    return min(good, key=lambda run: run["cpu_us"]) if good else runs[0]


def measure_once(
    row: str, backend: str, url: str, concurrency: int, total: int, tls_ca: str | None
) -> dict[str, float]:
    """One configuration in a fresh process."""
    command = [
        sys.executable, __file__, "--worker", "--row", row, "--backend", backend,
        "--url", url, "--concurrency", str(concurrency), "--requests", str(total),
    ]  # fmt: skip
    if tls_ca:
        command += ["--tls-ca", tls_ca]
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode:
        return {"error": 1.0, "message": done.stderr.strip().splitlines()[-1]}  # type: ignore[dict-item]
    return json.loads(done.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


def client_available() -> bool:
    """Whether the core client exists yet, with an injectable ``http_client``."""
    try:
        import inspect

        from aerostack_async import AsyncAerostack
    except ImportError:
        return False
    return "http_client" in inspect.signature(AsyncAerostack).parameters


def print_header(args: argparse.Namespace) -> None:
    """Machine, versions and load: what every benchmark prints beside its numbers."""
    import aiohttp
    import anyio  # noqa: F401
    import h11
    import httpcore
    import httpx
    import trio

    load = os.getloadavg()
    print(
        f"machine: {platform.machine()} {platform.processor() or ''} cores={os.cpu_count()} "
        f"python={platform.python_version()} load={load[0]:.2f}/{load[1]:.2f}/{load[2]:.2f}"
    )
    print(
        f"httpx={httpx.__version__} httpcore={httpcore.__version__} h11={h11.__version__} "
        f"aiohttp={aiohttp.__version__} trio={trio.__version__} requests/config={args.requests} "
        f"(+{WARMUP} warm-up), best of {args.repeat}"
    )
    print("client CPU = the client process's user+system CPU per request; server: canned_server.py")
    print()


def fmt(result: dict[str, float] | None) -> str:
    """``cpu µs | req/s`` for one cell."""
    if result is None:
        return "pending"
    if "error" in result:
        return "error"
    return f"{result['cpu_us']:>6,.0f} µs {result['rps']:>7,.0f}/s"


def main() -> None:
    """Command line entry point."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--repeat", type=int, default=1, help="best of N runs per configuration")
    parser.add_argument("--rows", default=",".join(ROWS))
    parser.add_argument("--backends", default="asyncio,trio")
    parser.add_argument("--concurrency", default=",".join(map(str, CONCURRENCY)))
    parser.add_argument("--no-tls", action="store_true")
    parser.add_argument("--json", metavar="PATH", help="also write the results as JSON to PATH")
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--row", help=argparse.SUPPRESS)
    parser.add_argument("--backend", help=argparse.SUPPRESS)
    parser.add_argument("--url", help=argparse.SUPPRESS)
    parser.add_argument("--tls-ca", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        args.concurrency = int(args.concurrency)
        worker_main(args)
        return

    rows = [row for row in args.rows.split(",") if row]
    backends = [backend for backend in args.backends.split(",") if backend]
    levels = [int(level) for level in args.concurrency.split(",")]
    has_client = client_available()
    print_header(args)
    results: dict[tuple[str, str, int], dict[str, float] | None] = {}
    with canned_server() as port:
        url = f"http://127.0.0.1:{port}"
        for backend in backends:
            for row in rows:
                if row == "aiohttp" and backend != "asyncio":
                    continue
                for level in levels:
                    if row.startswith("client") and not has_client:
                        results[(row, backend, level)] = None
                        continue
                    result = measure(row, backend, url, level, args.requests, None, args.repeat)
                    results[(row, backend, level)] = result
                    progress = f"  {backend:7} {LABELS[row]:24} c={level:<3} {fmt(result)}"
                    print(progress, file=sys.stderr, flush=True)
    tls_results: dict[tuple[str, str], dict[str, float]] = {}
    if not args.no_tls:
        with tempfile.TemporaryDirectory() as folder:
            cert, key = make_certificate(folder)
            with canned_server(cert, key) as port:
                url = f"https://127.0.0.1:{port}"
                for backend in backends:
                    for row in ("ours", "stock"):
                        tls_results[(row, backend)] = measure(
                            row, backend, url, 16, args.requests, cert, args.repeat
                        )

    print_table(results, tls_results, rows, backends, levels)
    if args.json:
        data = {
            "requests": args.requests,
            "repeat": args.repeat,
            "rows": [
                {"row": row, "label": LABELS[row], "backend": backend, "concurrency": level}
                | (result or {"error": "not run"})
                for (row, backend, level), result in results.items()
            ],
            "tls": [
                {"row": row, "label": LABELS[row], "backend": backend, "concurrency": 16} | result
                for (row, backend), result in tls_results.items()
            ],
        }
        with open(args.json, "w") as out:
            json.dump(data, out, indent=1)


def print_table(
    results: dict[tuple[str, str, int], dict[str, float] | None],
    tls_results: dict[tuple[str, str], dict[str, float]],
    rows: list[str],
    backends: list[str],
    levels: list[int],
) -> None:
    """The table: CPU µs per request and requests/s, then the ratios the targets are about."""
    head = " | ".join(f"c={level:<2} CPU/req    req/s" for level in levels)
    print(f"| backend | client                 | {head} |")
    print("|---|---|" + "---|" * len(levels))
    for backend in backends:
        for row in rows:
            if (row, backend, levels[0]) not in results:
                continue
            cells = " | ".join(fmt(results[(row, backend, level)]) for level in levels)
            print(f"| {backend:7} | {LABELS[row]:22} | {cells} |")
    print()

    def ratio(a: tuple[str, str, int], b: tuple[str, str, int]) -> str:
        x, y = results.get(a), results.get(b)
        if not x or not y or "error" in x or "error" in y:
            return "n/a"
        return f"{x['cpu_us'] / y['cpu_us']:.2f}x"

    print("CPU per request ratios (how many times more CPU the first name takes):")
    for backend in backends:
        for level in levels:
            stock = ("stock", backend, level)
            parts = [
                f"stock/client-ours {ratio(stock, ('client-ours', backend, level))}",
                f"stock/ours {ratio(stock, ('ours', backend, level))}",
            ]
            if backend == "asyncio":
                aio = ("aiohttp", backend, level)
                parts.append(f"client-ours/aiohttp {ratio(('client-ours', backend, level), aio)}")
                parts.append(f"ours/aiohttp {ratio(('ours', backend, level), aio)}")
            parts.append(
                "client stock/ours "
                + ratio(("client-stock", backend, level), ("client-ours", backend, level))
            )
            print(f"  {backend:7} c={level:<3} " + ", ".join(parts))
    if tls_results:
        print()
        print("TLS (c=16, same canned server behind TLS):")
        for backend in backends:
            ours, stock = tls_results.get(("ours", backend)), tls_results.get(("stock", backend))
            plain = results.get(("ours", backend, 16))
            extra = ""
            if ours and plain and "error" not in ours and "error" not in plain:
                extra = f"  (TLS adds {ours['cpu_us'] - plain['cpu_us']:,.0f} µs/req to ours)"
            print(f"  {backend:7} httpx + ours {fmt(ours)} | httpx stock {fmt(stock)}{extra}")


if __name__ == "__main__":
    main()
