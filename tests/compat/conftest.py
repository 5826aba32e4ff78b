"""Fixtures for the seed-compatibility tests: a header-recording server, log state restored."""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest


@dataclass
class RecordingServer:
    """A loopback server answering every POST like ``/cache/get`` and keeping request headers."""

    base_url: str
    headers: list[dict[str, str]] = field(default_factory=list)


@pytest.fixture
def recording_server() -> Iterator[RecordingServer]:
    record = RecordingServer(base_url="")

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("content-length", "0"))
            self.rfile.read(length)
            record.headers.append({k.lower(): v for k, v in self.headers.items()})
            body = json.dumps({"exists": False, "value": None}).encode()
            self.send_response(200)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    record.base_url = f"http://127.0.0.1:{server.server_address[1]}/v1"
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield record
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


@pytest.fixture
def restore_package_logging() -> Iterator[None]:
    """Undo what a ``debug_logger`` does to the ``aerostack_async`` logger."""
    package = logging.getLogger("aerostack_async")
    level, handlers = package.level, list(package.handlers)
    try:
        yield
    finally:
        package.setLevel(level)
        package.handlers[:] = handlers
