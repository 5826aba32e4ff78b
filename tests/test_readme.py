"""Every Python snippet in the README runs against the emulator as written.

The snippets say ``environment="local"`` (``http://localhost:8787/v1``); ``AEROSTACK_BASE_URL``
points them at the session's emulator instead, and the seed example's ``server_idx=1`` (the
same local address) is swapped for the emulator's URL.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from aerostack_async.testing import Emulator

README = Path(__file__).resolve().parents[1] / "README.md"
SNIPPETS = re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.DOTALL)


def test_the_readme_has_python_snippets() -> None:
    assert len(SNIPPETS) >= 4


@pytest.mark.parametrize("code", SNIPPETS, ids=[f"snippet{n}" for n in range(len(SNIPPETS))])
def test_readme_snippet_runs(code: str, emulator: Emulator, tmp_path: Path) -> None:
    script = tmp_path / "snippet.py"
    script.write_text(code.replace("server_idx=1", f"server_url={emulator.base_url!r}"))
    env = {**os.environ, "AEROSTACK_BASE_URL": emulator.base_url}
    done = subprocess.run(
        [sys.executable, str(script)], env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
