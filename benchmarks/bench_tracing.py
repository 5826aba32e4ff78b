"""What observability costs: client CPU per request with tracing off and on, and with hooks.

Run: ``.venv/bin/python benchmarks/bench_tracing.py [--requests 4000] [--repeat 3]``

Every row is our client's ``cache.get`` on its own pool against the near-free canned server
(``canned_server.py``, its own process), at concurrency 16, on asyncio; each run is a fresh
process, so "client CPU" is that process's CPU time (user + system, all threads: a span
processor's export thread counts) divided by the requests it made. Rows:

- ``no otel``: OpenTelemetry cannot be imported (as without the ``otel`` extra);
- ``otel, no provider``: ``opentelemetry.trace`` imported, no tracer provider set (tracing off);
- ``otel, tracing on``: the SDK's ``TracerProvider`` with a ``BatchSpanProcessor`` and an
  exporter that drops what it gets (the cost of making, propagating and queueing each span);
- ``event hooks``: tracing off, one sync request hook and one sync response hook (no-ops).

It also times the check a call makes when tracing is off (``_tracing.tracer()``), against
asking the API for its provider each call, with ``timeit``. Runs are interleaved and the least
CPU of ``--repeat`` is kept per row (use a multiple of 4 to start a round from each row).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from bench_transport import canned_server  # noqa: E402

ROWS = ("no-otel", "off", "on", "hooks")
LABELS = {
    "no-otel": "no otel (extra absent)",
    "off": "otel, no provider",
    "on": "otel, tracing on",
    "hooks": "event hooks (tracing off)",
}
CONCURRENCY = 16
WARMUP = 300


async def _worker(row: str, url: str, total: int) -> dict[str, float]:
    import anyio

    from aerostack_async import AsyncAerostack, Limits

    hooks: dict[str, list[Any]] | None = None
    if row == "hooks":
        hooks = {"request": [lambda request: None], "response": [lambda response: None]}
    limits = Limits(max_connections=100, max_keepalive_connections=100, keepalive_expiry=60)
    async with AsyncAerostack(
        api_key="sk_local_bench", base_url=url + "/v1", limits=limits, event_hooks=hooks
    ) as client:

        async def run(count: int) -> None:
            remaining = count

            async def worker() -> None:
                nonlocal remaining
                while remaining > 0:
                    remaining -= 1
                    await client.cache.get("k")

            async with anyio.create_task_group() as tg:
                for _ in range(CONCURRENCY):
                    tg.start_soon(worker)

        await run(WARMUP)
        cpu, wall = time.process_time(), time.perf_counter()
        await run(total)
        cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    return {"cpu_us": cpu / total * 1e6, "rps": total / wall}


def _setup(row: str) -> None:
    """Put this worker process in the row's state before the client exists."""
    if row == "no-otel":
        sys.modules["opentelemetry"] = None  # type: ignore[assignment]  # import fails
        return
    from opentelemetry import trace

    if row != "on":
        return
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import (
        BatchSpanProcessor,
        SpanExporter,
        SpanExportResult,
    )

    class Drop(SpanExporter):
        def export(self, spans: Any) -> SpanExportResult:
            return SpanExportResult.SUCCESS

    provider = TracerProvider()
    provider.add_span_processor(BatchSpanProcessor(Drop()))
    trace.set_tracer_provider(provider)


def worker_main(args: argparse.Namespace) -> None:
    """One row in this process; print its numbers as JSON."""
    import anyio

    _setup(args.row)
    result = anyio.run(_worker, args.row, args.url, args.requests)
    print(json.dumps(result))


def measure_once(row: str, url: str, total: int) -> dict[str, float]:
    command = [sys.executable, __file__, "--worker", "--row", row, "--url", url]
    command += ["--requests", str(total)]
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode:
        raise RuntimeError(f"{row}: {done.stderr.strip().splitlines()[-1]}")
    return json.loads(done.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


def check_cost() -> dict[str, float]:
    """ns per call of the off-path check, in this process (OpenTelemetry imported, no provider)."""
    code = (
        "import timeit, sys\n"
        "from aerostack_async import _tracing\n"
        "best = lambda f: min(timeit.repeat(f, number=200_000, repeat=5)) / 200_000 * 1e9\n"
        "absent = best(_tracing.tracer)\n"
        "from opentelemetry import trace\n"
        "_tracing.reset_for_tests()\n"
        "off = best(_tracing.tracer)\n"
        "api = best(trace.get_tracer_provider)\n"
        "print(absent, off, api)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=HERE.parent
    )
    absent, off, api = (float(x) for x in done.stdout.split())
    return {"absent_ns": absent, "off_ns": off, "get_tracer_provider_ns": api}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--requests", type=int, default=4000)
    parser.add_argument("--repeat", type=int, default=4)
    parser.add_argument("--json", type=Path, help="write the numbers here")
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--row", choices=ROWS, help=argparse.SUPPRESS)
    parser.add_argument("--url", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        worker_main(args)
        return
    print(f"machine: {platform.platform()}, {os.cpu_count()} CPUs, load {os.getloadavg()}")
    print(f"our client's cache.get on its pool, c={CONCURRENCY}, asyncio, canned server")
    runs: dict[str, list[dict[str, float]]] = {row: [] for row in ROWS}
    with canned_server() as port:
        url = f"http://127.0.0.1:{port}"
        for round_ in range(args.repeat):
            # Interleaved, and each round starting from another row, so that load drifts and
            # the order of runs hit every row alike.
            for row in ROWS[round_ % len(ROWS) :] + ROWS[: round_ % len(ROWS)]:
                runs[row].append(measure_once(row, url, args.requests))
    rows = []
    base = min(run["cpu_us"] for run in runs["no-otel"])
    print(f"{'':<28}{'CPU µs/req':>12}{'vs no otel':>12}{'req/s':>10}")
    for row in ROWS:
        best = min(runs[row], key=lambda run: run["cpu_us"])
        rows.append({"row": row, "label": LABELS[row], **best})
        print(
            f"{LABELS[row]:<28}{best['cpu_us']:>12.1f}{best['cpu_us'] / base:>11.2f}x"
            f"{best['rps']:>10.0f}"
        )
    check = check_cost()
    print(
        f"the off-path check per call: {check['absent_ns']:.0f} ns without OpenTelemetry, "
        f"{check['off_ns']:.0f} ns with it and no provider "
        f"(get_tracer_provider() per call: {check['get_tracer_provider_ns']:.0f} ns)"
    )
    if args.json:
        data = {
            "concurrency": CONCURRENCY,
            "requests": args.requests,
            "repeat": args.repeat,
            "rows": rows,
            "check": check,
        }
        args.json.write_text(json.dumps(data, indent=2))


if __name__ == "__main__":
    main()
