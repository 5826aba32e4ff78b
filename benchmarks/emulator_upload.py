"""Upload a large file to the emulator and measure the server's memory and throughput.

The emulator must stream uploads to disk: its resident memory should grow by less than 64 MB
whatever the file size. This script starts an emulator (its own process, a temporary data
directory), writes a file of ``--size-mib`` MiB (default 1024) of random-ish bytes to disk,
uploads it with httpx streaming the file from disk, samples the server's RSS with psutil during
the upload, checks the stored size and ETag, then deletes everything.

    .venv/bin/python benchmarks/emulator_upload.py [--size-mib 1024]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import sys
import tempfile
import threading
import time
from importlib.metadata import version
from pathlib import Path

import httpx
import psutil

from aerostack_async.testing import start_emulator

MIB = 1 << 20
TARGET_GROWTH_MB = 64


def write_file(path: Path, size: int) -> str:
    """Write ``size`` bytes to ``path`` (a repeating random block); return the hex MD5."""
    block = os.urandom(4 * MIB)
    md5 = hashlib.md5(usedforsecurity=False)
    with path.open("wb") as out:
        left = size
        while left:
            piece = block[: min(left, len(block))]
            out.write(piece)
            md5.update(piece)
            left -= len(piece)
    return md5.hexdigest()


class RssSampler(threading.Thread):
    """Samples a process's resident set size until stopped; keeps the peak."""

    def __init__(self, pid: int, interval: float = 0.02) -> None:
        super().__init__(daemon=True)
        self.process = psutil.Process(pid)
        self.interval = interval
        self.peak = self.process.memory_info().rss
        self.samples = 0
        self._done = threading.Event()

    def run(self) -> None:
        while not self._done.is_set():
            self.peak = max(self.peak, self.process.memory_info().rss)
            self.samples += 1
            time.sleep(self.interval)

    def stop(self) -> None:
        self._done.set()
        self.join()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size-mib", type=int, default=1024, help="file size in MiB")
    parser.add_argument("--json", metavar="PATH", help="also write the results as JSON to PATH")
    args = parser.parse_args()
    size = args.size_mib * MIB

    print(f"machine: {platform.platform()}, {os.cpu_count()} CPUs, Python {sys.version.split()[0]}")
    print(
        "versions: "
        + ", ".join(
            f"{name} {version(name)}"
            for name in ("aerostack-async", "starlette", "uvicorn", "python-multipart", "httpx")
        )
    )
    with tempfile.TemporaryDirectory(prefix="aerostack-upload-bench-") as scratch:
        data_dir, source = Path(scratch) / "data", Path(scratch) / "upload.bin"
        print(f"writing a {args.size_mib} MiB file ...", flush=True)
        expected_md5 = write_file(source, size)
        emulator = start_emulator(data_dir=data_dir)
        try:
            with httpx.Client(
                base_url=emulator.base_url,
                headers={"X-Aerostack-Key": emulator.api_key},
                timeout=httpx.Timeout(600),
            ) as http:
                # Warm up: import and initialise everything the upload path touches.
                http.post(
                    "/storage/upload", files={"file": ("w", b"warm")}, data={"key": "warm-up"}
                )
                sampler = RssSampler(emulator.process.pid)
                baseline = sampler.peak
                sampler.start()
                started = time.perf_counter()
                with source.open("rb") as stream:
                    response = http.post(
                        "/storage/upload",
                        files={"file": ("upload.bin", stream, "application/octet-stream")},
                        data={"key": "bench/upload.bin"},
                    )
                elapsed = time.perf_counter() - started
                sampler.stop()
                response.raise_for_status()
                meta = http.post("/storage/getMetadata", json={"key": "bench/upload.bin"}).json()
                http.post("/storage/delete", json={"key": "bench/upload.bin"})
        finally:
            emulator.stop()
            emulator.log_path.unlink(missing_ok=True)

    growth_mb = (sampler.peak - baseline) / 1e6
    print()
    print(f"{'file size':<28}{size / MIB:>12.0f} MiB")
    print(f"{'upload time':<28}{elapsed:>12.2f} s")
    print(f"{'throughput':<28}{size / 1e6 / elapsed:>12.1f} MB/s")
    print(f"{'server RSS before':<28}{baseline / 1e6:>12.1f} MB")
    print(f"{'server RSS peak':<28}{sampler.peak / 1e6:>12.1f} MB  ({sampler.samples} samples)")
    verdict = "ok" if growth_mb < TARGET_GROWTH_MB else "OVER TARGET"
    print(
        f"{'server RSS growth':<28}{growth_mb:>12.1f} MB  (target < {TARGET_GROWTH_MB}: {verdict})"
    )
    intact = meta["size"] == size and meta["etag"] == expected_md5
    print(f"{'stored size and ETag match':<28}{intact!s:>12}")
    if args.json:
        data = {
            "size_mib": args.size_mib,
            "seconds": elapsed,
            "mb_per_s": size / 1e6 / elapsed,
            "rss_before_mb": baseline / 1e6,
            "rss_peak_mb": sampler.peak / 1e6,
            "rss_growth_mb": growth_mb,
            "intact": intact,
        }
        with open(args.json, "w") as out:
            json.dump(data, out, indent=1)
    if not intact or growth_mb >= TARGET_GROWTH_MB:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
