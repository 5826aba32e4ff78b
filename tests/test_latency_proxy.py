"""``benchmarks/latency_proxy.py``: it delays each direction, forwards bytes intact (ends
included), and stops by itself when its time is up.

The delay checks are lower bounds only (the proxy must hold data at least that long, however
slow the machine); nothing here asserts that anything is fast.
"""

from __future__ import annotations

import importlib.util
import os
import socket
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest

PROXY = Path(__file__).resolve().parents[1] / "benchmarks" / "latency_proxy.py"
DELAY = 0.05


@pytest.fixture(scope="module")
def latency_proxy() -> ModuleType:
    spec = importlib.util.spec_from_file_location("bench_latency_proxy", PROXY)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def echo_port() -> Iterator[int]:
    """A blocking echo server: sends back what it reads, closes after the peer's end."""
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(0.2)
    stop = threading.Event()

    def serve(conn: socket.socket) -> None:
        with conn:
            while data := conn.recv(65536):
                conn.sendall(data)

    def accept() -> None:
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            threading.Thread(target=serve, args=(conn,), daemon=True).start()

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield listener.getsockname()[1]
    stop.set()
    thread.join()
    listener.close()


def recv_exactly(sock: socket.socket, size: int) -> bytes:
    chunks = []
    while size:
        chunk = sock.recv(min(size, 1 << 20))
        assert chunk, "connection closed early"
        chunks.append(chunk)
        size -= len(chunk)
    return b"".join(chunks)


def test_bytes_go_both_ways_intact_and_ends_are_passed_on(
    latency_proxy: ModuleType, echo_port: int
) -> None:
    payload = os.urandom(3 * 1024 * 1024 + 17)
    with latency_proxy.LatencyProxy("127.0.0.1", echo_port, delay=0.005) as proxy:
        with socket.create_connection(("127.0.0.1", proxy.port), timeout=30) as sock:
            sender = threading.Thread(target=sock.sendall, args=(payload,))
            sender.start()
            echoed = recv_exactly(sock, len(payload))
            sender.join()
            sock.shutdown(socket.SHUT_WR)  # our end: the echo server sees it and closes
            tail = sock.recv(1)
        connections = proxy.connections

    assert echoed == payload
    assert tail == b""  # the server's close came back through the proxy
    assert connections == 1


def test_each_direction_is_delayed_and_a_new_connection_costs_a_round_trip(
    latency_proxy: ModuleType, echo_port: int
) -> None:
    with (
        latency_proxy.LatencyProxy("127.0.0.1", echo_port, delay=DELAY) as proxy,
        socket.create_connection(("127.0.0.1", proxy.port), timeout=30) as sock,
    ):
        started = time.monotonic()
        sock.sendall(b"first")
        assert recv_exactly(sock, 5) == b"first"
        first = time.monotonic() - started
        started = time.monotonic()
        sock.sendall(b"second")
        assert recv_exactly(sock, 6) == b"second"
        second = time.monotonic() - started

    assert first >= 4 * DELAY  # handshake (one round trip) + the round trip itself
    assert second >= 2 * DELAY  # one way out, one way back


def test_without_the_handshake_a_new_connection_costs_only_its_round_trip(
    latency_proxy: ModuleType, echo_port: int
) -> None:
    with (
        latency_proxy.LatencyProxy("127.0.0.1", echo_port, delay=DELAY, handshake=False) as proxy,
        socket.create_connection(("127.0.0.1", proxy.port), timeout=30) as sock,
    ):
        started = time.monotonic()
        sock.sendall(b"x")
        assert recv_exactly(sock, 1) == b"x"
        elapsed = time.monotonic() - started

    assert elapsed >= 2 * DELAY


def test_it_stops_by_itself_when_its_time_is_up(latency_proxy: ModuleType, echo_port: int) -> None:
    proxy = latency_proxy.LatencyProxy("127.0.0.1", echo_port, delay=0.001, max_seconds=0.5)
    proxy.start()
    sock = socket.create_connection(("127.0.0.1", proxy.port), timeout=30)
    sock.sendall(b"ping")
    assert recv_exactly(sock, 4) == b"ping"

    assert proxy.stopped.wait(30), "the proxy outlived its max_seconds"
    with sock:
        assert sock.recv(1) == b""  # the open connection was closed
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", proxy.port), timeout=5).close()
    proxy.stop()  # a no-op once stopped


def test_bad_settings_are_refused(latency_proxy: ModuleType) -> None:
    with pytest.raises(ValueError, match="delay"):
        latency_proxy.LatencyProxy("127.0.0.1", 1, delay=-1)
    with pytest.raises(ValueError, match="max_seconds"):
        latency_proxy.LatencyProxy("127.0.0.1", 1, max_seconds=0)
