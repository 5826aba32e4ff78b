"""Helpers for tests: the local emulator in its own process, or in this one, and projects.

Run the emulator in its own process on a free port:

    from aerostack_async.testing import run_emulator

    with run_emulator() as emulator:
        print(emulator.base_url, emulator.api_key)

Or in this process and event loop, with no socket (fast unit tests; asyncio or trio):

    from aerostack_async.testing import in_process_client

    async with in_process_client() as client:
        await client.cache.set("k", 1)

Every key pair ``sk_local_<name>``/``pk_local_<name>`` reaches its own project, minted on first
use (see `Project`); the pytest plugin (``aerostack_async.pytest_plugin``) gives each
test a fresh one. Needs the ``server`` extra. The emulator gets a throw-away store unless
``data_dir`` is given.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any

from ._constants import EMULATOR_API_KEY, EMULATOR_PUBLIC_KEY

if TYPE_CHECKING:
    import httpx

    from ._client import AsyncAerostack

DEFAULT_API_KEY = EMULATOR_API_KEY
DEFAULT_PUBLIC_KEY = EMULATOR_PUBLIC_KEY
IN_PROCESS_BASE_URL = "http://aerostack.in-process/v1"
"""The base URL of an in-process emulator (no such host: requests never leave the process)."""
_BANNER = re.compile(r"listening on (http://\S+)")
# The emulator is on loopback: never through a proxy named by HTTP_PROXY and friends.
_direct = urllib.request.build_opener(urllib.request.ProxyHandler({}))
_SERVER_EXTRA_HINT = (
    "the Aerostack emulator needs the server extra: pip install 'aerostack-async[testing]'"
)


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
        with _direct.open(url, timeout=2) as response:
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
    """Run an emulator for the duration of a ``with`` block (see `start_emulator()`)."""
    emulator = start_emulator(
        *args, data_dir=data_dir, api_key=api_key, public_key=public_key, timeout=timeout
    )
    try:
        yield emulator
    finally:
        emulator.stop()
        emulator.log_path.unlink(missing_ok=True)


def require_server_extra() -> None:
    """Raise `ImportError` with the install command if the ``server`` extra is missing."""
    try:
        import aerostack_async.server  # noqa: F401
    except ImportError as exc:
        raise ImportError(f"{_SERVER_EXTRA_HINT} ({exc})") from exc


@dataclass(frozen=True)
class Project:
    """One project of an emulator: its own database, cache, queue, users, storage and search.

    Its keys are ``sk_local_<name>`` (secret) and ``pk_local_<name>`` (public); the emulator
    mints the project the first time either is used. `fresh()` picks an unused name.
    """

    name: str
    base_url: str

    @classmethod
    def fresh(cls, base_url: str, prefix: str = "t") -> Project:
        """A project nobody has used yet (a random name) on the emulator at ``base_url``."""
        return cls(f"{prefix}{secrets.token_hex(8)}", base_url)

    @property
    def api_key(self) -> str:
        """The project's secret key."""
        return f"sk_local_{self.name}"

    @property
    def public_key(self) -> str:
        """The project's public key."""
        return f"pk_local_{self.name}"

    def drop(self, timeout: float = 30.0) -> bool:
        """Delete the project and all its data on a running emulator; whether it existed.

        Blocking (for a socket emulator, from sync code such as a fixture's teardown); a later
        call with its keys mints it again, empty.
        """
        origin = self.base_url.rstrip("/").rsplit("/v1", 1)[0]
        request = urllib.request.Request(  # noqa: S310 (the emulator's own URL)
            origin + "/_emulator/project",
            method="DELETE",
            headers={"X-Aerostack-Key": self.api_key},
        )
        with _direct.open(request, timeout=timeout) as response:
            return bool(json.loads(response.read())["deleted"])


class InProcessEmulator:
    """The emulator in this process and event loop: no socket, no subprocess.

    ``async with InProcessEmulator() as emulator`` builds the emulator's ASGI app on a
    throw-away store and runs its lifespan; `client()` gives ``AsyncAerostack`` clients
    on it (any key pair ``sk_local_<name>`` reaches its own project). Responses stream, so chat
    streams and downloads work as over a socket. Works on asyncio and on trio; it may be entered
    in one task and closed in another. ``**config`` are ``ServerConfig`` fields
    (``rate_limit=5``, ``services={...}``); tokens stream without a pause by default.
    """

    base_url = IN_PROCESS_BASE_URL

    def __init__(self, **config: Any) -> None:
        require_server_extra()
        from .server import ServerConfig

        config.setdefault("ai_token_delay_ms", 0.0)
        self.config = ServerConfig(memory=True, public_url=IN_PROCESS_BASE_URL, **config)
        self._http: httpx.AsyncClient | None = None

    @property
    def http(self) -> httpx.AsyncClient:
        """The ``httpx.AsyncClient`` wired to the app (base URL: the emulator's origin)."""
        if self._http is None:
            raise RuntimeError("enter the InProcessEmulator first: async with InProcessEmulator()")
        return self._http

    async def start(self) -> InProcessEmulator:
        """Build the app and run its lifespan startup (what ``async with`` does)."""
        import anyio.to_thread
        import httpx

        from .server import create_app
        from .server._inprocess import InProcessTransport

        # Opening the store is file I/O: a worker thread, so the event loop never waits on it.
        app = await anyio.to_thread.run_sync(create_app, self.config)
        http = httpx.AsyncClient(
            transport=InProcessTransport(app), base_url=IN_PROCESS_BASE_URL.rsplit("/v1", 1)[0]
        )
        await http.__aenter__()
        self._http = http
        return self

    async def aclose(self) -> None:
        """Run the app's lifespan shutdown and delete its store."""
        if self._http is not None:
            http, self._http = self._http, None
            await http.aclose()

    async def __aenter__(self) -> InProcessEmulator:
        return await self.start()

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.aclose()

    def client(self, *, api_key: str = DEFAULT_API_KEY, **options: Any) -> AsyncAerostack:
        """An ``AsyncAerostack`` on this emulator (``options``: its other arguments).

        It shares the emulator's HTTP client, so it needs no closing of its own.
        """
        from ._client import AsyncAerostack

        return AsyncAerostack(
            api_key=api_key, base_url=IN_PROCESS_BASE_URL, http_client=self.http, **options
        )

    async def drop_project(self, name: str) -> bool:
        """Delete project ``name`` and its data; whether it existed."""
        response = await self.http.request(
            "DELETE", "/_emulator/project", headers={"X-Aerostack-Key": f"sk_local_{name}"}
        )
        response.raise_for_status()
        return bool(response.json()["deleted"])


@asynccontextmanager
async def in_process_client(
    *, api_key: str = DEFAULT_API_KEY, **options: Any
) -> AsyncIterator[AsyncAerostack]:
    """An ``AsyncAerostack`` on an emulator of its own, in this process (see
    `InProcessEmulator`); ``options`` go to the client. Everything is gone at exit.

    Example:
        ```python
        async with in_process_client() as client:
            await client.cache.set("greeting", "hello")
        ```
    """
    async with (
        InProcessEmulator() as emulator,
        emulator.client(api_key=api_key, **options) as client,
    ):
        yield client


def __getattr__(name: str) -> Any:
    # InProcessTransport (any ASGI app, served to an httpx.AsyncClient without sockets) is
    # imported on first use: the server package needs the server extra.
    if name == "InProcessTransport":
        from .server._inprocess import InProcessTransport

        return InProcessTransport
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "IN_PROCESS_BASE_URL",
    "Emulator",
    "EmulatorStartError",
    "InProcessEmulator",
    "Project",
    "in_process_client",
    "require_server_extra",
    "run_emulator",
    "start_emulator",
]
