"""The built wheel, installed in fresh virtual environments, outside the source tree.

Selected with ``-m wheel`` (``scripts/test`` does, after the main suite); any other run leaves
these tests out, since they build, create environments and install (about a minute).

Two installs of the same wheel: ``bare`` (``pip install aerostack-async``, nothing else) and
``server,cli`` (the emulator and the command's extras). Each runs in its own virtual
environment from a working directory outside the repository, with no ``PYTHONPATH``, so
nothing of ``src/`` can be imported by accident. The bare install gets its emulator from the
development environment; the ``server,cli`` one runs its own, from the wheel.
"""

from __future__ import annotations

import ast
import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from aerostack_async.testing import Emulator

from .._programs import EXAMPLES, EXPECTED, SNIPPETS

ROOT = Path(__file__).resolve().parents[2]
INSTALLS = ["bare", "server,cli"]

# Third-party modules the README snippets and examples import themselves (each program's own
# choice, not a dependency of ours), and what pip calls them. They are installed aside, in a
# folder that only the programs importing them get on their path.
PROGRAM_DEPENDENCIES = {"trio": "trio", "dask": "dask[distributed]"}


def program_imports(code: str) -> set[str]:
    """The third-party top-level modules a program imports (not ours, not the stdlib)."""
    found = set()
    for node in ast.walk(ast.parse(code)):
        if isinstance(node, ast.Import):
            found.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.add(node.module.split(".")[0])
    return found - set(sys.stdlib_module_names) - {"aerostack_async"}


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    # Only a run that asks for them (-m wheel) builds and installs the wheel.
    if "wheel" in (config.option.markexpr or ""):
        return
    here = Path(__file__).parent
    chosen, left = [], []
    for item in items:
        (left if here in Path(item.path).parents else chosen).append(item)
    if left:
        config.hook.pytest_deselected(items=left)
        items[:] = chosen


def _run(*command: str | os.PathLike[str], cwd: Path, timeout: float = 300) -> str:
    done = subprocess.run(
        [os.fspath(part) for part in command],
        cwd=cwd,
        env=clean_env(),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    if done.returncode != 0:
        pytest.fail(f"{' '.join(map(str, command))} failed:\n{done.stdout}\n{done.stderr}")
    return done.stdout


def clean_env() -> dict[str, str]:
    """This process's environment without anything that points Python at the source tree."""
    return {
        name: value
        for name, value in os.environ.items()
        if not name.startswith(("PYTHON", "VIRTUAL_ENV", "AEROSTACK_", "PIP_REQUIRE"))
    }


@pytest.fixture(scope="session")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The wheel, built from the working tree as ``pip wheel`` builds it for a user."""
    out = tmp_path_factory.mktemp("dist")
    _run(
        sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet",
        "--disable-pip-version-check", "--wheel-dir", out, ROOT,
        cwd=out,
    )  # fmt: skip
    (built,) = out.glob("aerostack_async-*.whl")
    return built


@dataclass(frozen=True)
class Install:
    """One fresh virtual environment with the wheel installed in it."""

    extras: str
    """``""`` for the bare install, else the extras it was installed with."""
    prefix: Path
    workdir: Path
    """An empty folder outside the repository: where its programs run."""
    aside: Path
    """The programs' own dependencies (trio, dask), installed aside, for those that import them."""

    def env_for(self, code: str) -> dict[str, str] | None:
        """What a program needs beyond ``tests/_programs.py``'s environment: its own imports."""
        return {"PYTHONPATH": str(self.aside)} if program_imports(code) else None

    @property
    def python(self) -> Path:
        return self.prefix / "bin" / "python"

    @property
    def command(self) -> Path:
        return self.prefix / "bin" / "aerostack-async"


@pytest.fixture(scope="session", params=INSTALLS)
def install(
    request: pytest.FixtureRequest,
    wheel: Path,
    aside: Path,
    tmp_path_factory: pytest.TempPathFactory,
) -> Install:
    """A fresh venv per install kind, the wheel installed from it with pip (its index, quietly)."""
    kind: str = request.param
    extras = "" if kind == "bare" else kind
    base = tmp_path_factory.mktemp(f"venv-{kind.replace(',', '-')}")
    prefix, workdir = base / "venv", base / "work"
    workdir.mkdir()
    _run(sys.executable, "-m", "venv", prefix, cwd=workdir)
    python = prefix / "bin" / "python"
    pip = (python, "-m", "pip", "install", "--quiet", "--disable-pip-version-check")
    _run(*pip, f"{wheel}[{extras}]" if extras else wheel, cwd=workdir)
    return Install(extras, prefix, workdir, aside)


@pytest.fixture(scope="session")
def aside(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The programs' own third-party imports, installed into a folder of their own."""
    programs = [*SNIPPETS, *((EXAMPLES / name).read_text() for name in EXPECTED)]
    needed = set().union(*(program_imports(code) for code in programs))
    unknown = needed - PROGRAM_DEPENDENCIES.keys()
    assert not unknown, f"add what pip calls {sorted(unknown)} to PROGRAM_DEPENDENCIES"
    folder = tmp_path_factory.mktemp("aside")
    if needed:
        _run(
            sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
            "--target", folder, *sorted(PROGRAM_DEPENDENCIES[name] for name in needed),
            cwd=folder,
        )  # fmt: skip
    return folder


@pytest.fixture(scope="session")
def install_emulator(install: Install, emulator: Emulator) -> Iterator[tuple[str, str]]:
    """(base URL, key) of an emulator: the wheel's own where the server extra is installed."""
    if "server" not in install.extras:
        yield emulator.base_url, emulator.api_key
        return
    host = subprocess.Popen(
        [install.python, "-c", _HOST_EMULATOR],
        cwd=install.workdir,
        env=clean_env(),
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert host.stdout is not None
    assert host.stdin is not None
    try:
        line = host.stdout.readline().split()
        assert len(line) == 2, "the wheel's emulator did not start"
        yield line[0], line[1]
    finally:
        host.stdin.close()  # the host stops its emulator when its input ends
        try:
            host.wait(timeout=30)
        except subprocess.TimeoutExpired:
            host.kill()
            host.wait()
        host.stdout.close()


# Runs in the install's venv: its emulator, from the wheel, until this process's input closes.
_HOST_EMULATOR = """
import sys
from aerostack_async.testing import run_emulator
with run_emulator("--ai-token-delay-ms", "2") as emulator:
    print(emulator.base_url, emulator.api_key, flush=True)
    sys.stdin.read()
"""
