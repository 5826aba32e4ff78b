"""Chat streams over the wire: events per second and client CPU per event, our pool vs httpx's.

A canned server (its own process, 127.0.0.1) answers every POST with a chunked
``text/event-stream`` of ``--events`` chat chunks, written ``--per-write`` events at a time
(``--pace`` seconds apart: then each write is one read, as tokens arrive from a model), then
``[DONE]``. The client is ``AsyncAerostack.ai.chat_stream`` reading every chunk, on our pool and
on httpx's transport (``AEROSTACK_HTTP_TRANSPORT``), each in a fresh process; best of
``--repeat``. This measures what sits between the socket and the chunks (the transport, the body
iterator, SSE decoding, chunk decoding), not the emulator.

    python benchmarks/bench_stream_pool.py [--events 20000] [--per-write 8] [--repeat 3]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time

_SERVER = r"""
import asyncio, sys
EVENTS, PER_WRITE, PACE = int(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3])
FRAME = ('data: {"id":"c","object":"chat.completion.chunk","created":1,"model":"m",'
         '"choices":[{"index":0,"delta":%s,"finish_reason":%s}]}\n\n')
EVENT = (FRAME % ('{"content":"tok "}', "null")).encode()
LAST = (FRAME % ("{}", '"stop"')).encode() + b"data: [DONE]\n\n"
HEAD = b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n"
def chunk(data): return b"%x\r\n%s\r\n" % (len(data), data)
BLOCK = chunk(EVENT * PER_WRITE)
async def handle(reader, writer):
    try:
        while True:
            head = await reader.readuntil(b"\r\n\r\n")
            length = 0
            for line in head.split(b"\r\n"):
                if line.lower().startswith(b"content-length:"):
                    length = int(line.split(b":")[1])
            await reader.readexactly(length)
            writer.write(HEAD)
            for _ in range(EVENTS // PER_WRITE):
                writer.write(BLOCK)
                await writer.drain()
                if PACE:
                    await asyncio.sleep(PACE)
            writer.write(chunk(LAST) + b"0\r\n\r\n")
            await writer.drain()
    except (asyncio.IncompleteReadError, ConnectionError):
        writer.close()
async def main():
    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    print("PORT", server.sockets[0].getsockname()[1], flush=True)
    await server.serve_forever()
asyncio.run(main())
"""


def worker(url: str, backend: str, streams: int) -> None:
    """Run ``streams`` chat streams; print events, wall and CPU seconds as JSON."""
    import anyio

    from aerostack_async import AsyncAerostack

    async def run() -> tuple[int, float, float]:
        events = 0
        async with AsyncAerostack(api_key="sk_bench", base_url=url) as client:
            async with client.ai.chat_stream([{"role": "user", "content": "w"}]) as stream:
                async for _ in stream:
                    pass  # warm up
            wall, cpu = time.perf_counter(), time.process_time()
            for _ in range(streams):
                async with client.ai.chat_stream([{"role": "user", "content": "x"}]) as stream:
                    async for _chunk in stream:
                        events += 1
            return events, time.perf_counter() - wall, time.process_time() - cpu

    events, wall, cpu = anyio.run(run, backend=backend)
    print(json.dumps({"events": events, "wall": wall, "cpu": cpu}))


def main() -> None:
    """Command line entry point."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=20000)
    parser.add_argument("--per-write", type=int, default=8)
    parser.add_argument(
        "--pace", type=float, default=0.0, help="seconds between writes (0: as fast as it can)"
    )
    parser.add_argument("--streams", type=int, default=3)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--backends", default="asyncio,trio")
    parser.add_argument("--json", metavar="PATH")
    parser.add_argument("--worker", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        worker(args.worker[0], args.worker[1], int(args.worker[2]))
        return
    server = subprocess.Popen(
        [sys.executable, "-c", _SERVER, str(args.events), str(args.per_write), str(args.pace)],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert server.stdout is not None
        port = int(server.stdout.readline().split()[1])
        url = f"http://127.0.0.1:{port}/v1"
        results = []
        print("| backend | transport | events/s | CPU µs/event |")
        print("|---|---|---|---|")
        for backend in args.backends.split(","):
            for transport in ("pool", "httpx"):
                best: dict[str, float] | None = None
                for _ in range(args.repeat):
                    out = subprocess.run(
                        [sys.executable, __file__, "--worker", url, backend, str(args.streams)],
                        env={**os.environ, "AEROSTACK_HTTP_TRANSPORT": transport},
                        capture_output=True,
                        text=True,
                        check=True,
                    )
                    run = json.loads(out.stdout.strip().splitlines()[-1])
                    if best is None or run["cpu"] < best["cpu"]:
                        best = run
                assert best is not None
                rate = best["events"] / best["wall"]
                cpu_us = best["cpu"] / best["events"] * 1e6
                print(f"| {backend} | {transport} | {rate:,.0f} | {cpu_us:.2f} |")
                results.append(
                    {"backend": backend, "transport": transport, "rate": rate, "cpu_us": cpu_us}
                )
        if args.json:
            with open(args.json, "w") as file:
                json.dump(results, file, indent=1)
    finally:
        server.kill()
        server.wait()


if __name__ == "__main__":
    main()
