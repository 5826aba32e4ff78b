"""The README's Python snippets and the scripts in ``examples/``, run as a user runs them.

Shared by ``tests/test_readme.py`` and ``tests/cli/test_examples.py`` (on the development
install) and ``tests/wheel/`` (on the built wheel, in fresh virtual environments): the same
programs and expectations, with only the Python interpreter changing.

The programs say ``environment="local"`` (``http://localhost:8787/v1``) or, in the seed's
style, ``server_idx=1``; an argument beats ``AEROSTACK_BASE_URL``, so each program is run from a
copy with that argument swapped for the base URL of the test's emulator.
"""

from __future__ import annotations

import os
import re
import subprocess
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
EXAMPLES = ROOT / "examples"

SNIPPETS: list[str] = re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.DOTALL)
"""Every fenced ``python`` block of the README, in order."""

# What each example must print; a new example needs an entry here.
EXPECTED: dict[str, list[str]] = {
    "quickstart_asyncio.py": ["latest note: hello from asyncio", "cached: {'text': 'hello'}"],
    "quickstart_trio.py": ["squares: [0, 1, 4]", "ai: "],
    "quickstart_sync.py": ["visits: 3", "answer: 42", "ai: "],
    "streaming_chat.py": ["finish reason:", "completion tokens:"],
    "upload_download.py": ["upload   100.0%", "download 100.0%", "checksums match: True"],
    "batching.py": ["cache entries written: 1000", "jobs enqueued: 100", "squares: [0, 1, 4"],
    "dask_batch.py": [
        "worker processes: 2, clients: 2",
        "task failures: 0, item failures: 0",
        "items: 200000, each written and read back exactly once: True",
    ],
    "migrating_from_seed.py": [
        "seed style, cached: hello",
        "seed style, error: DB_QUERY_FAILED",
        "native, error: DB_QUERY_FAILED",
    ],
}

_LOCAL = ('environment="local"', "server_idx=1")


def pointed_at(code: str, base_url: str) -> str:
    """``code`` with its local-emulator argument replaced by ``base_url``."""
    return code.replace(_LOCAL[0], f"base_url={base_url!r}").replace(
        _LOCAL[1], f"server_url={base_url!r}"
    )


def program_env(base_url: str, api_key: str) -> dict[str, str]:
    """The environment a program runs in: the emulator's key and URL, nothing of the caller's."""
    # AEROSTACK_HTTP_* stay: the second pass of scripts/test runs the programs on httpx's own
    # transport. PYTHONPATH and the like go: a wheel's test must not see the source tree.
    env = {
        name: value
        for name, value in os.environ.items()
        if name.startswith("AEROSTACK_HTTP_")
        or not name.startswith(("AEROSTACK_", "PYTHON", "VIRTUAL_ENV"))
    }
    env.update(AEROSTACK_BASE_URL=base_url, AEROSTACK_API_KEY=api_key)
    return env


def run_snippet(
    python: str,
    code: str,
    base_url: str,
    api_key: str,
    folder: Path,
    extra_env: Mapping[str, str] | None = None,
) -> subprocess.CompletedProcess[str]:
    """Run one README snippet with ``python`` in ``folder``; its exit status and output."""
    script = folder / "snippet.py"
    script.write_text(pointed_at(code, base_url))
    return subprocess.run(
        [python, str(script)],
        cwd=folder,
        env={**program_env(base_url, api_key), **(extra_env or {})},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


class Run:
    """One example's process and, once finished, its output."""

    def __init__(self, process: subprocess.Popen[str]) -> None:
        self.process = process

    def wait(self) -> tuple[int, str, str]:
        """Wait for the example to finish: exit status, stdout, stderr."""
        out, err = self.process.communicate(timeout=120)
        return self.process.returncode, out, err


@contextmanager
def start_examples(
    python: str,
    base_url: str,
    api_key: str,
    folders: Iterator[Path],
    extra_env: Callable[[str], Mapping[str, str] | None] | None = None,
) -> Iterator[dict[str, Run]]:
    """Every example started at once with ``python`` (they are independent), each in a folder.

    ``folders`` yields a fresh folder per example; ``extra_env`` may add variables for an
    example, given its source. Processes still running at the end are killed.
    """
    started: dict[str, Run] = {}
    env = program_env(base_url, api_key)
    try:
        for name in sorted(EXPECTED):
            folder = next(folders)
            script = folder / name
            code = (EXAMPLES / name).read_text()
            script.write_text(pointed_at(code, base_url))
            started[name] = Run(
                subprocess.Popen(
                    [python, str(script)],
                    cwd=folder,
                    env={**env, **((extra_env and extra_env(code)) or {})},
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
