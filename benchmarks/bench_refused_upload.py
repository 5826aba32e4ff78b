"""A refused upload: how long it takes to fail, and how many bytes go out first.

A ``--size-mib`` upload (1 GiB by default) with a wrong key, and one larger than the emulator
accepts (``--max-upload-bytes``), through a byte-counting TCP forwarder on loopback, for:

- ours, on our pool (``Expect: 100-continue``: the body waits for the server's go-ahead);
- ours with the header turned off (the body goes at once, as before);
- ours on httpx's own transport (httpx does not wait for ``100 Continue``);
- the seed SDK (``aerostack==0.1.2``), whose ``storage_upload`` sends the file in one body.

Run: ``.venv/bin/python benchmarks/bench_refused_upload.py [--size-mib 1024] [--json PATH]``
"""

from __future__ import annotations

import argparse
import contextlib
import json
import socket
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anyio
import httpx

from aerostack_async import AsyncAerostack, errors
from aerostack_async.streaming import upload as upload_module
from aerostack_async.testing import run_emulator

MiB = 1024 * 1024
WRONG_KEY = "sk_not_the_key"


class CountingForwarder:
    """127.0.0.1:<port> -> upstream, counting the bytes the client sends (plain threads)."""

    def __init__(self, upstream_port: int) -> None:
        self.upstream_port = upstream_port
        self.sent = 0
        self._lock = threading.Lock()
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = self._listener.getsockname()[1]
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            upstream = socket.create_connection(("127.0.0.1", self.upstream_port))
            threading.Thread(target=self._pipe, args=(client, upstream, True), daemon=True).start()
            threading.Thread(target=self._pipe, args=(upstream, client, False), daemon=True).start()

    def _pipe(self, source: socket.socket, sink: socket.socket, count: bool) -> None:
        try:
            while data := source.recv(256 * 1024):
                if count:
                    with self._lock:
                        self.sent += len(data)
                sink.sendall(data)
        except OSError:
            pass
        finally:
            for sock in (source, sink):
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)

    def reset(self) -> None:
        """Start counting again."""
        with self._lock:
            self.sent = 0

    def close(self) -> None:
        """Stop accepting."""
        self._listener.close()


def _chunks(size: int) -> Iterator[bytes]:
    block = b"z" * MiB
    for _ in range(size // MiB):
        yield block


async def _ours(url: str, key: str, size: int, transport: str) -> str:
    http = None if transport == "pool" else httpx.AsyncClient(transport=httpx.AsyncHTTPTransport())
    try:
        async with AsyncAerostack(base_url=url, api_key=key, retry=None, http_client=http) as c:
            try:
                await c.storage.upload("refused.bin", _chunks(size), size=size)
            except errors.APIStatusError as exc:
                return f"{exc.status_code}"
            except errors.APIConnectionError as exc:
                return f"connection error ({type(exc.__cause__).__name__})"
            return "stored"
    finally:
        if http is not None:
            await http.aclose()


def _seed(url: str, key: str, size: int) -> str:
    from aerostack import SDK
    from aerostack import errors as seed_errors

    with SDK(api_key_auth=key, server_url=url) as sdk:
        try:
            sdk.storage.storage_upload(
                request={"file": {"file_name": "refused.bin", "content": b"z" * size}, "key": "x"}
            )
        except seed_errors.SDKBaseError as exc:
            return str(getattr(exc, "status_code", type(exc).__name__))
        except Exception as exc:
            return type(exc).__name__
    return "stored"


def measure(forwarder: CountingForwarder, label: str, run: Any, *args: Any) -> dict[str, Any]:
    """One refused upload: its outcome, wall time and the bytes the client sent."""
    forwarder.reset()
    started = time.perf_counter()
    outcome = run(*args)
    seconds = time.perf_counter() - started
    time.sleep(0.2)  # let the forwarder count what was still in flight
    row = {"client": label, "outcome": outcome, "seconds": seconds, "sent_bytes": forwarder.sent}
    sent_kib = forwarder.sent / 1024
    print(f"  {label:<34} {outcome:<10} {seconds * 1000:9.1f} ms {sent_kib:14,.1f} KiB sent")
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size-mib", type=int, default=1024)
    parser.add_argument("--seed-size-mib", type=int, default=64, help="the seed holds it in RAM")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    size, seed_size = args.size_mib * MiB, args.seed_size_mib * MiB
    limit = 32 * MiB
    results: dict[str, Any] = {"size_mib": args.size_mib, "limit_mib": 32, "cases": []}
    with run_emulator("--max-upload-bytes", str(limit)) as emulator:
        port = int(emulator.base_url.rsplit(":", 1)[1].split("/")[0])
        forwarder = CountingForwarder(port)
        url = f"http://127.0.0.1:{forwarder.port}/v1"
        for case, key in (("wrong key", WRONG_KEY), ("over the size limit", emulator.api_key)):
            print(f"{case} ({args.size_mib} MiB; seed {args.seed_size_mib} MiB):")
            rows = [
                measure(forwarder, "ours, our pool", anyio.run, _ours, url, key, size, "pool"),
                measure(forwarder, "ours, httpx's transport", anyio.run, _ours, url, key, size,
                        "httpx"),
            ]  # fmt: skip
            saved = upload_module.EXPECT_CONTINUE_OVER
            upload_module.EXPECT_CONTINUE_OVER = sys.maxsize
            try:
                rows.append(
                    measure(forwarder, "ours, our pool, no Expect header", anyio.run, _ours, url,
                            key, size, "pool")
                )  # fmt: skip
            finally:
                upload_module.EXPECT_CONTINUE_OVER = saved
            rows.append(measure(forwarder, "seed SDK 0.1.2", _seed, url, key, seed_size))
            results["cases"].append({"case": case, "rows": rows})
        forwarder.close()
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
