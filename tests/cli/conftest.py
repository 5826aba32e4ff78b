"""Helpers for the command's tests: run ``main([...])`` in-process or the command as a process."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass

import pytest

from aerostack_async.cli import main
from aerostack_async.testing import Emulator


@dataclass
class Ran:
    """What one run of the command did."""

    status: int
    out: str
    err: str


@pytest.fixture(autouse=True)
def _clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    # The developer's own settings must not leak into what the tests expect.
    for name in ("AEROSTACK_API_KEY", "AEROSTACK_BASE_URL", "AEROSTACK_LOG"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("COLUMNS", "160")  # rich wraps tables at the terminal's width


@pytest.fixture
def cli(capsys: pytest.CaptureFixture[str]) -> Callable[..., Ran]:
    """Run ``aerostack-async ARGS`` in this process; exit status and captured output."""

    def run(*argv: str) -> Ran:
        try:
            main(list(argv))
            status = 0
        except SystemExit as exc:
            status = exc.code if isinstance(exc.code, int) else 1
        captured = capsys.readouterr()
        return Ran(status, captured.out, captured.err)

    return run


@pytest.fixture
def on_emulator(emulator: Emulator) -> list[str]:
    """The flags that point a command at the session's emulator."""
    return ["--base-url", emulator.base_url, "--api-key", emulator.api_key]


def run_process(
    *argv: str, stdin: str | None = None, env: dict[str, str] | None = None, timeout: float = 60
) -> Ran:
    """Run ``aerostack-async ARGS`` as its own process (as a user would)."""
    environment = {**os.environ, "COLUMNS": "160", **(env or {})}
    for name in ("AEROSTACK_API_KEY", "AEROSTACK_BASE_URL"):
        if env is None or name not in env:
            environment.pop(name, None)
    done = subprocess.run(
        [sys.executable, "-c", "from aerostack_async.cli import main; main()", *argv],
        input=stdin,
        capture_output=True,
        text=True,
        env=environment,
        timeout=timeout,
        check=False,
    )
    return Ran(done.returncode, done.stdout, done.stderr)
