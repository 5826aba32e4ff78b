"""Every Python snippet in the README runs against the emulator as written.

The snippets say ``environment="local"`` (``http://localhost:8787/v1``); each runs from a copy
pointed at the session's emulator instead (see ``tests/_programs.py``, shared with the wheel's
test, which runs the same snippets from an installed wheel).
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from aerostack_async.testing import Emulator

from ._programs import SNIPPETS, run_snippet


def test_the_readme_has_python_snippets() -> None:
    assert len(SNIPPETS) >= 4


@pytest.mark.parametrize("code", SNIPPETS, ids=[f"snippet{n}" for n in range(len(SNIPPETS))])
def test_readme_snippet_runs(code: str, emulator: Emulator, tmp_path: Path) -> None:
    done = run_snippet(sys.executable, code, emulator.base_url, emulator.api_key, tmp_path)
    assert done.returncode == 0, done.stderr
