"""A near-free HTTP/1.1 server for the transport benchmark: every request gets the same small JSON.

It does the least a keep-alive HTTP/1.1 server can do, so that the benchmark measures the client:
it finds where each request ends (its head, plus a Content-Length body if it has one) and writes a
fixed response, batching the answers to pipelined requests into one write. It runs on uvloop when
that is installed, in its own process, on 127.0.0.1 only.

    python benchmarks/canned_server.py [--port 0] [--tls CERT KEY]

prints ``PORT <number>`` once it is listening, then serves until killed.
"""

from __future__ import annotations

import argparse
import asyncio
import re
import ssl
import sys

BODY = b'{"exists":true,"value":"hello"}'
RESPONSE = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s" % (
    len(BODY),
    BODY,
)
_CONTENT_LENGTH = re.compile(rb"\r\ncontent-length:[ \t]*(\d+)", re.IGNORECASE)


class Canned(asyncio.Protocol):
    """One connection: count complete requests in what arrives, answer each with RESPONSE."""

    def __init__(self) -> None:
        self.buffer = bytearray()
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]  # uvloop's is not a subclass

    def data_received(self, data: bytes) -> None:
        buffer = self.buffer
        buffer += data
        answered = 0
        while True:
            end = buffer.find(b"\r\n\r\n")
            if end < 0:
                break
            length = _CONTENT_LENGTH.search(buffer, 0, end)
            size = end + 4 + (int(length.group(1)) if length else 0)
            if len(buffer) < size:
                break
            del buffer[:size]
            answered += 1
        if answered and self.transport is not None:
            self.transport.write(RESPONSE * answered)


async def serve(port: int, tls: tuple[str, str] | None) -> None:
    """Listen on 127.0.0.1:``port`` (0 = any free port) and print the port."""
    context = None
    if tls:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(*tls)
    loop = asyncio.get_running_loop()
    server = await loop.create_server(Canned, "127.0.0.1", port, ssl=context, backlog=1024)
    print("PORT", server.sockets[0].getsockname()[1], flush=True)
    async with server:
        await server.serve_forever()


def main() -> None:
    """Command line entry point."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--tls", nargs=2, metavar=("CERT", "KEY"))
    args = parser.parse_args()
    try:
        import uvloop
    except ImportError:  # pragma: no cover - plain asyncio is fine, a little slower
        runner = asyncio.run
    else:
        runner = uvloop.run
    try:
        runner(serve(args.port, tuple(args.tls) if args.tls else None))
    except KeyboardInterrupt:
        sys.exit(0)


if __name__ == "__main__":
    main()
