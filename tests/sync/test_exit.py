"""Processes always exit: sync clients and ``SDK`` left open never hang the interpreter's exit.

Each case is a real subprocess under a timeout. The process must print its last line, exit with
the status its script asked for, and have closed its connections to the server by the time the
last ``atexit`` hook runs (where the interpreter still allows it, we close them ourselves).
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from aerostack_async.testing import Emulator

SCRIPT = Path(__file__).with_name("_exit_job.py")
STATUS = {"never-closed": 0, "dropped": 0, "sys-exit": 3, "unhandled": 1}


@pytest.mark.parametrize("how", list(STATUS))
@pytest.mark.parametrize(
    ("client", "backend"), [("sync", "asyncio"), ("sync", "trio"), ("sdk", "asyncio")]
)
def test_process_exits_with_a_client_left_open(
    emulator: Emulator, client: str, backend: str, how: str
) -> None:
    done = subprocess.run(
        [sys.executable, "-W", "ignore::ResourceWarning", str(SCRIPT), emulator.base_url,
         emulator.api_key, client, backend, how],
        capture_output=True,
        text=True,
        timeout=60,  # a hang fails here; a healthy run takes well under a second past its work
        check=False,
    )  # fmt: skip
    assert "last line" in done.stdout, done.stderr
    assert done.returncode == STATUS[how], done.stderr
    assert "connections left open: 0" in done.stdout, done.stdout + done.stderr
    if how == "unhandled":
        assert "RuntimeError: boom" in done.stderr
