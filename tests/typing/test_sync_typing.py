"""Type checkers see the sync facade's real signatures (generated from the async classes)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

HERE = Path(__file__).parent
ROOT = HERE.parent.parent


def run_mypy(*files: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "mypy", "--strict", "--no-incremental",
         "--config-file", str(ROOT / "pyproject.toml"), *map(str, files)],
        capture_output=True, text=True, cwd=ROOT, timeout=600,
    )  # fmt: skip


@pytest.mark.slow
def test_typed_usage_passes_mypy_strict() -> None:
    result = run_mypy(HERE / "sync_usage.py")
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.slow
def test_every_misuse_is_reported() -> None:
    result = run_mypy(HERE / "misuse.py")
    source = (HERE / "misuse.py").read_text().splitlines()
    expected = {n for n, line in enumerate(source, 1) if "# E:" in line}
    reported = {int(m) for m in re.findall(r"misuse\.py:(\d+): error", result.stdout)}
    assert expected <= reported, result.stdout


def test_generated_stub_is_up_to_date() -> None:
    result = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "sync_stubgen.py"), "--check"],
        capture_output=True, text=True, cwd=ROOT, timeout=120,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
