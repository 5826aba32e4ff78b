"""Every script in ``examples/`` runs against the emulator and prints what it promises."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from aerostack_async.testing import Emulator

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"

# What each example must print; a new example needs an entry here.
EXPECTED: dict[str, list[str]] = {
    "quickstart_asyncio.py": ["latest note: hello from asyncio", "cached: {'text': 'hello'}"],
    "quickstart_trio.py": ["squares: [0, 1, 4]", "ai: "],
    "quickstart_sync.py": ["visits: 3", "answer: 42", "ai: "],
    "streaming_chat.py": ["finish reason:", "completion tokens:"],
    "upload_download.py": ["upload   100.0%", "download 100.0%", "checksums match: True"],
    "batching.py": ["cache entries written: 1000", "jobs enqueued: 100", "squares: [0, 1, 4"],
    "migrating_from_seed.py": [
        "seed style, cached: hello",
        "seed style, error: DB_QUERY_FAILED",
        "native, error: DB_QUERY_FAILED",
    ],
}


@pytest.fixture(scope="module")
def runs(emulator: Emulator, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Run]]:
    """Every example started at once (they are independent), each in its own folder."""
    env = {
        **os.environ,
        "AEROSTACK_BASE_URL": emulator.base_url,
        "AEROSTACK_API_KEY": emulator.api_key,
    }
    started: dict[str, Run] = {}
    try:
        for name in sorted(EXPECTED):
            started[name] = Run(
                subprocess.Popen(
                    [sys.executable, str(EXAMPLES / name)],
                    cwd=tmp_path_factory.mktemp(name.removesuffix(".py")),
                    env=env,
                    stdout=subprocess.PIPE,
                    stderr=subprocess.PIPE,
                    text=True,
                )
            )
        yield started
    finally:
        for run in started.values():
            if run.process.poll() is None:
                run.process.kill()
            run.process.communicate()


class Run:
    """One example's process and, once finished, its output."""

    def __init__(self, process: subprocess.Popen[str]) -> None:
        self.process = process

    def wait(self) -> tuple[int, str, str]:
        out, err = self.process.communicate(timeout=120)
        return self.process.returncode, out, err


def test_every_example_has_expectations() -> None:
    assert sorted(path.name for path in EXAMPLES.glob("*.py")) == sorted(EXPECTED)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_example_runs_against_the_emulator(name: str, runs: dict[str, Run]) -> None:
    status, out, err = runs[name].wait()

    assert status == 0, err
    for expected in EXPECTED[name]:
        assert expected in out
