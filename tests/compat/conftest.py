"""Fixtures for the seed-compatibility tests: a header-recording server, log state restored."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest

from .._loopback import Receiver, run_receiver


class RecordingServer:
    """A loopback server answering every POST like ``/cache/get`` and keeping request headers."""

    def __init__(self, receiver: Receiver) -> None:
        self._receiver = receiver
        self.base_url = receiver.url + "/v1"

    @property
    def headers(self) -> list[dict[str, str]]:
        """Each request's headers, names lowercased, in arrival order."""
        with self._receiver.lock:
            return [{k.lower(): v for k, v in r.headers.items()} for r in self._receiver.received]


@pytest.fixture
def recording_server() -> Iterator[RecordingServer]:
    with run_receiver(lambda path, body: (200, {"exists": False, "value": None})) as receiver:
        yield RecordingServer(receiver)


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
