"""Fixtures for the chat page's browser tests: a paced emulator, the app, headless Chromium.

Chromium is Debian's (``/usr/bin/chromium``), driven by Playwright's Python package; nothing is
downloaded. Without Chromium or Playwright the tests are skipped on a developer's machine and
fail in CI (``CI`` set), where ``.ci/run`` installs both.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NoReturn

import msgspec
import psutil
import pytest

from aerostack_async.testing import Emulator, run_emulator

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
# What works here as root and without a display, network access or a keyring.
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def _unavailable(reason: str) -> NoReturn:
    if os.environ.get("CI", "").lower() not in ("", "0", "false"):
        pytest.fail(f"{reason}; .ci/run installs it", pytrace=False)
    pytest.skip(reason)


# Module-scoped: while Playwright's sync API is open, its event loop counts as running in this
# thread, so tests after this module (anyio.run, asyncio.run) must find it closed.
@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """Headless Chromium with a fresh profile (a Playwright ``BrowserContext``)."""
    if not (os.path.exists(CHROMIUM) or shutil.which(CHROMIUM)):
        _unavailable(f"Chromium is not installed at {CHROMIUM} (apt-get install chromium)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _unavailable("Playwright is not installed (the dev extra has it)")
    with sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            str(tmp_path_factory.mktemp("chromium-profile")),
            executable_path=CHROMIUM,
            headless=True,
            args=CHROMIUM_FLAGS,
        )
        try:
            yield context
        finally:
            context.close()


@pytest.fixture(scope="module")
def paced_emulator() -> Iterator[Emulator]:
    """An emulator that streams a token every 60 ms, so a reply takes a few seconds."""
    with run_emulator("--ai-token-delay-ms", "60") as running:
        yield running


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class WebApp:
    """The chat page's app, running as ``python -m examples.web_chat``."""

    url: str
    process: subprocess.Popen[bytes]
    upstream_port: int

    def stats(self) -> dict[str, int]:
        """The app's ``GET /stats``: chat relays open, completed, cancelled, failed."""
        with urllib.request.urlopen(self.url + "stats", timeout=10) as response:
            return msgspec.json.decode(response.read(), type=dict[str, int])

    def upstream_connections(self) -> set[int]:
        """Local ports of the app's established TCP connections to the emulator."""
        return {
            conn.laddr.port
            for conn in psutil.Process(self.process.pid).net_connections(kind="tcp")
            if conn.raddr
            and conn.raddr.port == self.upstream_port
            and conn.status == psutil.CONN_ESTABLISHED
        }


@pytest.fixture
def web_app(paced_emulator: Emulator, tmp_path: Path) -> Iterator[WebApp]:
    """A fresh app process (so its pool starts empty) talking to the paced emulator."""
    port = _free_port()
    env = {
        **os.environ,
        "AEROSTACK_BASE_URL": paced_emulator.base_url,
        "AEROSTACK_API_KEY": paced_emulator.api_key,
    }
    log = (tmp_path / "web_chat.log").open("wb")
    process = subprocess.Popen(
        [sys.executable, "-m", "examples.web_chat", "--port", str(port)],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    app = WebApp(f"http://127.0.0.1:{port}/", process, int(paced_emulator.origin.rsplit(":", 1)[1]))
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                app.stats()
                break
            except OSError:
                if process.poll() is not None or time.monotonic() > deadline:
                    pytest.fail(
                        "the app did not start:\n" + (tmp_path / "web_chat.log").read_text()
                    )
                time.sleep(0.05)
        yield app
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()
