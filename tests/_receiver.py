"""A tiny HTTP server on 127.0.0.1 that records JSON POSTs and answers them as told.

The one recording server of the suite: the emulator's queue consumers and services
(``tests/emulator``), and the seed-compatibility tests' header recorder (``tests/compat``).
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

# Given the request path and JSON body, return (status, reply body).
Reply = Callable[[str, Any], tuple[int, Any]]


@dataclass
class Received:
    """One request the receiver got, with the wall-clock time it arrived."""

    path: str
    body: Any
    headers: dict[str, str]
    at: float


@dataclass
class Receiver:
    """A running receiver: its URL and what it received."""

    url: str
    received: list[Received] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def wait_for(self, predicate: Callable[[Received], bool], timeout: float = 20.0) -> Received:
        """The first received request matching ``predicate`` (polling up to ``timeout``)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.lock:
                for item in self.received:
                    if predicate(item):
                        return item
            time.sleep(0.02)
        raise AssertionError("the receiver did not get the expected request in time")


@contextmanager
def run_receiver(reply: Reply) -> Iterator[Receiver]:
    """Serve on a free loopback port until the block ends."""
    receiver_ref: list[Receiver] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length", "0"))
            raw = self.rfile.read(length)
            body = json.loads(raw) if raw else None
            receiver = receiver_ref[0]
            with receiver.lock:
                receiver.received.append(
                    Received(self.path, body, dict(self.headers.items()), time.time())
                )
            status, answer = reply(self.path, body)
            payload = answer if isinstance(answer, bytes) else json.dumps(answer).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    receiver_ref.append(Receiver(f"http://127.0.0.1:{server.server_address[1]}"))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield receiver_ref[0]
    finally:
        server.shutdown()
        server.server_close()
        thread.join()
