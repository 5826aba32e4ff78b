"""The pytest plugin, as a user runs it: the example project's tests in a pytest of their own.

Each run is a subprocess (its own pytest session, plugin loaded with ``-p``): plain, under
pytest-xdist, with every async test on an in-process emulator, and without the server extra.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from aerostack_async.testing import Emulator

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "testing_your_app"
pytestmark = pytest.mark.slow


def run_pytest(*args: str, cwd: Path = ROOT, env: dict[str, str] | None = None) -> str:
    command = [
        sys.executable, "-m", "pytest", "-p", "aerostack_async.pytest_plugin",
        "-p", "no:cacheprovider", "-q", *args,
    ]  # fmt: skip
    ran = subprocess.run(
        command,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=600,
        env={**os.environ, **(env or {})},
    )
    assert ran.returncode == 0, ran.stdout + ran.stderr
    return ran.stdout


def passed(output: str) -> int:
    summary = output.strip().splitlines()[-1]
    return int(summary.split(" passed")[0].split()[-1])


def test_the_example_project_passes_with_a_project_per_test() -> None:
    output = run_pytest(str(EXAMPLE))
    # 5 anyio tests x 2 backends, 2 blocking, 2 pytest-asyncio: nothing skipped.
    assert passed(output) == 14
    assert "skipped" not in output


def test_the_example_project_passes_in_parallel_under_xdist() -> None:
    output = run_pytest(str(EXAMPLE), "-n", "2")
    assert passed(output) == 14


def test_the_example_project_passes_with_every_async_test_in_process() -> None:
    output = run_pytest(str(EXAMPLE), "--aerostack-in-process")
    assert passed(output) == 14


def test_tests_see_no_data_of_tests_before_them(tmp_path: Path) -> None:
    # The same writes in many tests, each asserting it starts empty: a shared project would
    # fail from the second test on, in any order.
    (tmp_path / "test_clean.py").write_text(
        "import pytest\n"
        "pytestmark = pytest.mark.anyio\n"
        "@pytest.fixture\n"
        "def anyio_backend():\n"
        "    return 'asyncio'\n"
        "@pytest.mark.parametrize('n', range(6))\n"
        "async def test_starts_empty(async_aerostack, n):\n"
        "    assert (await async_aerostack.cache.get('k')).exists is False\n"
        "    await async_aerostack.cache.set('k', n)\n"
        "    await async_aerostack.database.query('CREATE TABLE t (x)')\n"
        "def test_blocking_starts_empty(aerostack):\n"
        "    assert aerostack.cache.get('k').exists is False\n"
        "    aerostack.cache.set('k', 1)\n"
    )
    (tmp_path / "pytest.ini").write_text("[pytest]\n")
    output = run_pytest(str(tmp_path), "-n", "2", cwd=tmp_path)
    assert passed(output) == 7


def test_without_the_server_extra_only_the_fixtures_fail_and_they_say_why(
    tmp_path: Path,
) -> None:
    blocked = tmp_path / "blocked"
    for name in ("starlette", "uvicorn"):
        (blocked / name).mkdir(parents=True)
        (blocked / name / "__init__.py").write_text(
            f'raise ImportError("No module named {name!r} (blocked by the test)")\n'
        )
    project = tmp_path / "project"
    project.mkdir()
    (project / "pytest.ini").write_text("[pytest]\n")
    (project / "test_it.py").write_text(
        "def test_plain():\n"
        "    assert True\n"
        "def test_uses_the_fixture(aerostack_project):\n"
        "    pass\n"
    )
    command = [
        sys.executable, "-m", "pytest", "-p", "aerostack_async.pytest_plugin",
        "-p", "no:cacheprovider", "-q", str(project),
    ]  # fmt: skip
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(blocked), str(ROOT / "src")])}
    ran = subprocess.run(command, cwd=project, capture_output=True, text=True, timeout=300, env=env)
    assert ran.returncode == 1, ran.stdout + ran.stderr
    assert "1 passed" in ran.stdout
    assert "1 error" in ran.stdout
    assert "pip install 'aerostack-async[testing]'" in ran.stdout


def test_the_ini_option_and_the_marker_choose_the_in_process_emulator(tmp_path: Path) -> None:
    (tmp_path / "pytest.ini").write_text("[pytest]\naerostack_in_process = true\n")
    (tmp_path / "test_choice.py").write_text(
        "import pytest\n"
        "pytestmark = pytest.mark.anyio\n"
        "@pytest.fixture\n"
        "def anyio_backend():\n"
        "    return 'trio'\n"
        "async def test_in_process_by_ini(async_aerostack):\n"
        "    assert async_aerostack.base_url == 'http://aerostack.in-process/v1'\n"
        "@pytest.mark.aerostack_in_process(False)\n"
        "async def test_opted_out(async_aerostack, aerostack_base_url):\n"
        "    assert async_aerostack.base_url == aerostack_base_url\n"
        "    assert async_aerostack.base_url.startswith('http://127.0.0.1:')\n"
    )
    assert passed(run_pytest(str(tmp_path), cwd=tmp_path)) == 2


def test_an_emulator_already_running_is_used_by_its_base_url(
    tmp_path: Path, emulator: Emulator
) -> None:
    (tmp_path / "pytest.ini").write_text("[pytest]\n")
    (tmp_path / "test_given.py").write_text(
        "def test_given_url(aerostack, aerostack_project):\n"
        f"    assert aerostack_project.base_url == {emulator.base_url!r}\n"
        "    aerostack.cache.set('k', 1)\n"
    )
    output = run_pytest(str(tmp_path), "--aerostack-base-url", emulator.base_url, cwd=tmp_path)
    assert passed(output) == 1
