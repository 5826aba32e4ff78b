"""Helpers for tests: run the local emulator in its own process on a free port.

Example::

    from aerostack_async.testing import run_emulator

    with run_emulator() as emulator:
        print(emulator.base_url, emulator.api_key)

Needs the ``server`` extra. The emulator gets a throw-away store unless ``data_dir`` is given.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

DEFAULT_API_KEY = "sk_local_aerostack"
DEFAULT_PUBLIC_KEY = "pk_local_aerostack"
_BANNER = re.compile(r"listening on (http://\S+)")


class EmulatorStartError(RuntimeError):
    """The emulator process did not come up; the message carries its output."""


@dataclass
class Emulator:
    """A running emulator process."""

    base_url: str
    api_key: str
    public_key: str | None
    process: subprocess.Popen[bytes]
    log_path: Path

    @property
    def origin(self) -> str:
        """``http://host:port`` without the ``/v1`` base path."""
        return self.base_url.rsplit("/v1", 1)[0]

    def log(self) -> str:
        """Everything the process printed so far."""
        return self.log_path.read_text(errors="replace")

    def stop(self) -> None:
        """Stop the process (gracefully, then by force)."""
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def start_emulator(
    *args: str,
    data_dir: str | os.PathLike[str] | None = None,
    api_key: str = DEFAULT_API_KEY,
    public_key: str | None = DEFAULT_PUBLIC_KEY,
    port: int = 0,
    timeout: float = 30.0,
) -> Emulator:
    """Start an emulator process and wait until it answers; the caller must ``stop()`` it.

    ``args`` are extra ``aerostack-async serve`` flags (``"--rate-limit", "5"``, …).
    """
    command: list[str] = [
        sys.executable, "-m", "aerostack_async.server",
        "--host", "127.0.0.1", "--port", str(port),
        "--api-key", api_key, "--public-key", public_key or "",
    ]  # fmt: skip
    command += ["--data-dir", os.fspath(data_dir)] if data_dir is not None else ["--memory"]
    command += list(args)
    log_fd, log_name = tempfile.mkstemp(prefix="aerostack-emulator-", suffix=".log")
    log_path = Path(log_name)
    process = subprocess.Popen(  # noqa: S603 (our own interpreter and flags)
        command, stdout=log_fd, stderr=log_fd, stdin=subprocess.DEVNULL
    )
    os.close(log_fd)
    deadline = time.monotonic() + timeout
    base_url = None
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise EmulatorStartError(
                f"emulator exited with {process.returncode}:\n{log_path.read_text()}"
            )
        if base_url is None:
            match = _BANNER.search(log_path.read_text(errors="replace"))
            if match:
                base_url = match.group(1)
        if base_url is not None and _healthy(base_url.rsplit("/v1", 1)[0] + "/health"):
            return Emulator(base_url, api_key, public_key, process, log_path)
        time.sleep(0.05)
    process.kill()
    process.wait()
    raise EmulatorStartError(f"emulator did not start in {timeout} s:\n{log_path.read_text()}")


def _healthy(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:  # noqa: S310 (loopback URL we built)
            return bool(response.status == 200)
    except OSError:
        return False


@contextmanager
def run_emulator(
    *args: str,
    data_dir: str | os.PathLike[str] | None = None,
    api_key: str = DEFAULT_API_KEY,
    public_key: str | None = DEFAULT_PUBLIC_KEY,
    timeout: float = 30.0,
) -> Iterator[Emulator]:
    """Run an emulator for the duration of a ``with`` block (see :func:`start_emulator`)."""
    emulator = start_emulator(
        *args, data_dir=data_dir, api_key=api_key, public_key=public_key, timeout=timeout
    )
    try:
        yield emulator
    finally:
        emulator.stop()
        emulator.log_path.unlink(missing_ok=True)


__all__ = ["Emulator", "EmulatorStartError", "run_emulator", "start_emulator"]
