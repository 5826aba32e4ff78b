"""A TCP proxy on loopback that adds network latency: every byte arrives ``delay`` seconds
after it was sent, in each direction, and a new connection costs one round trip first.

Run: ``.venv/bin/python benchmarks/latency_proxy.py --upstream 127.0.0.1:8787 --delay-ms 25``
(listens on a free port, prints it, stops after ``--seconds``), or in a program::

    with LatencyProxy("127.0.0.1", emulator_port, delay=0.025) as proxy:
        client = AsyncAerostack(base_url=f"http://127.0.0.1:{proxy.port}/v1", ...)

What it models, and what it does not:

- **Latency, not bandwidth.** Data read from one side is written to the other ``delay`` seconds
  later, in order, however much there is: a pipe that is long, not narrow. A round trip
  (request out, answer back) costs ``2 * delay`` on top of the server's own time.
- **The TCP handshake.** Over a real network ``connect()`` returns after one round trip, and the
  first request arrives half a round trip later. Here the proxy accepts at once (loopback), so it
  holds a new connection's first bytes until ``3 * delay`` after it was accepted: opening a
  connection costs one extra round trip, as it would. Pass ``handshake=False`` to skip that.
- **Ends.** A side that closes (or half-closes) its end is passed on after the same delay.
- **A bounded run.** The proxy stops by itself after ``max_seconds`` (default 600), closing every
  connection, so a benchmark that dies never leaves it running. ``stop()`` ends it earlier.

It runs on its own thread with its own asyncio loop, so any client in any process (ours on
asyncio or trio, the seed SDK, aiohttp) can go through it, and its work never shares a loop with
the client being measured. Loopback only: it binds 127.0.0.1.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import contextlib
import threading
import time
from types import TracebackType

_CHUNK = 256 * 1024


class LatencyProxy:
    """Forward ``127.0.0.1:<port>`` to ``upstream_host:upstream_port`` with added latency.

    ``delay`` is one way, in seconds. ``port`` is known once :meth:`start` returns (0 asks for
    a free one). ``connections`` counts the connections accepted so far.
    """

    def __init__(
        self,
        upstream_host: str,
        upstream_port: int,
        *,
        delay: float = 0.025,
        handshake: bool = True,
        max_seconds: float = 600.0,
        port: int = 0,
    ) -> None:
        if delay < 0 or max_seconds <= 0:
            raise ValueError("delay must be >= 0 and max_seconds > 0")
        self.upstream = (upstream_host, upstream_port)
        self.delay = delay
        self.handshake = handshake
        self.max_seconds = max_seconds
        self.port = port
        self.connections = 0
        self.stopped = threading.Event()  # set once the proxy has shut down, whatever the cause
        self._ready = threading.Event()
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._error: BaseException | None = None

    # -- lifecycle (from any thread) ------------------------------------------------------------

    def start(self) -> LatencyProxy:
        """Start listening (on a thread of its own); return once the port is known."""
        if self._thread is not None:
            raise RuntimeError("this proxy was already started")
        self._thread = threading.Thread(target=self._main, name="latency-proxy", daemon=True)
        self._thread.start()
        self._ready.wait()
        if self._error is not None:
            raise RuntimeError(f"the proxy did not start: {self._error!r}") from self._error
        return self

    def stop(self, timeout: float = 10.0) -> None:
        """Close the listener and every connection; wait for the thread to end."""
        loop, stop = self._loop, self._stop
        if loop is not None and stop is not None and not self.stopped.is_set():
            with contextlib.suppress(RuntimeError):  # the loop may have just closed
                loop.call_soon_threadsafe(stop.set)
        if self._thread is not None:
            self._thread.join(timeout)

    def __enter__(self) -> LatencyProxy:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # -- the proxy's own thread -----------------------------------------------------------------

    def _main(self) -> None:
        try:
            asyncio.run(self._serve())
        except BaseException as exc:  # reported by start() if it happens before the port is known
            self._error = exc
        finally:
            self.stopped.set()
            self._ready.set()

    async def _serve(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        tasks: set[asyncio.Task[None]] = set()

        async def accepted(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            task = asyncio.current_task()
            assert task is not None
            tasks.add(task)
            try:
                await self._connection(reader, writer)
            except asyncio.CancelledError:
                # Only the proxy's own shutdown cancels a connection. Ending quietly keeps
                # asyncio from logging the cancelled callback task as an error.
                pass
            finally:
                tasks.discard(task)

        server = await asyncio.start_server(accepted, "127.0.0.1", self.port)
        self.port = server.sockets[0].getsockname()[1]
        self._ready.set()
        try:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stop.wait(), self.max_seconds)
        finally:
            server.close()
            for task in list(tasks):
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            await server.wait_closed()

    async def _connection(
        self, client_reader: asyncio.StreamReader, client_writer: asyncio.StreamWriter
    ) -> None:
        self.connections += 1
        accepted = time.monotonic()
        try:
            upstream_reader, upstream_writer = await asyncio.open_connection(*self.upstream)
        except OSError:
            client_writer.close()
            return
        # Requests may not reach the server before the handshake would have completed.
        not_before = accepted + 2 * self.delay if self.handshake else 0.0
        try:
            await asyncio.gather(
                self._pipe(client_reader, upstream_writer, not_before),
                self._pipe(upstream_reader, client_writer, 0.0),
            )
        finally:
            for writer in (client_writer, upstream_writer):
                writer.close()
            for writer in (client_writer, upstream_writer):
                with contextlib.suppress(OSError, asyncio.CancelledError):
                    await writer.wait_closed()

    async def _pipe(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, not_before: float
    ) -> None:
        """Copy ``reader`` to ``writer``, each chunk ``delay`` after it was read (in order)."""
        in_transit: collections.deque[tuple[float, bytes]] = collections.deque()
        arrived = asyncio.Event()
        done_reading = False

        async def read() -> None:
            nonlocal done_reading
            try:
                while data := await reader.read(_CHUNK):
                    in_transit.append((max(time.monotonic(), not_before) + self.delay, data))
                    arrived.set()
            except OSError:
                pass
            finally:
                done_reading = True
                in_transit.append((max(time.monotonic(), not_before) + self.delay, b""))
                arrived.set()

        async def write() -> None:
            while True:
                while not in_transit:
                    arrived.clear()
                    await arrived.wait()
                due, data = in_transit.popleft()
                wait = due - time.monotonic()
                if wait > 0:
                    await asyncio.sleep(wait)
                if not data:  # the other side closed its end: pass the end on
                    if writer.can_write_eof():
                        with contextlib.suppress(OSError):
                            writer.write_eof()
                    return
                writer.write(data)
                try:
                    await writer.drain()
                except OSError:
                    return

        reading = asyncio.ensure_future(read())
        try:
            await write()
        finally:
            if not done_reading:
                reading.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await reading


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--upstream", required=True, help="host:port to forward to")
    parser.add_argument("--delay-ms", type=float, default=25.0, help="one-way delay (ms)")
    parser.add_argument("--port", type=int, default=0, help="port to listen on (0: any free)")
    parser.add_argument("--seconds", type=float, default=600.0, help="stop after this long")
    parser.add_argument("--no-handshake", action="store_true", help="new connections are free")
    args = parser.parse_args()
    host, _, port = args.upstream.rpartition(":")
    proxy = LatencyProxy(
        host or "127.0.0.1",
        int(port),
        delay=args.delay_ms / 1000,
        handshake=not args.no_handshake,
        max_seconds=args.seconds,
        port=args.port,
    ).start()
    print(
        f"127.0.0.1:{proxy.port} -> {args.upstream}, {args.delay_ms:g} ms each way, "
        f"for at most {args.seconds:g} s",
        flush=True,
    )
    try:
        proxy.stopped.wait()
    except KeyboardInterrupt:
        proxy.stop()


if __name__ == "__main__":
    main()
