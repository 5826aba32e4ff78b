"""From the wheel, as a user gets it: what it holds, what imports, what runs.

The README snippets and examples are the same programs, with the same expectations, as
``tests/test_readme.py`` and ``tests/cli/test_examples.py`` run on the development install
(``tests/_programs.py``); here only the interpreter changes.
"""

from __future__ import annotations

import importlib.metadata
import itertools
import json
import subprocess
import sys
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from .._programs import EXPECTED, SNIPPETS, Run, program_env, run_snippet, start_examples
from ..test_dependencies import CALLED_BY_THEIR_OWNER
from .conftest import ROOT, Install, clean_env

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - depends on the interpreter
    tomllib = pytest.importorskip("tomli")

pytestmark = pytest.mark.wheel

PROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
# Extras a user installs; dev and docs are for working on this repository.
USER_EXTRAS = {
    name: {canonicalize_name(Requirement(r).name) for r in reqs}
    for name, reqs in PROJECT["optional-dependencies"].items()
    if name not in ("dev", "docs")
}


def test_the_wheel_holds_the_package_and_nothing_else(wheel: Path) -> None:
    names = zipfile.ZipFile(wheel).namelist()
    package = [n for n in names if n.startswith("aerostack_async/")]
    outside = [n for n in names if not n.startswith(("aerostack_async/", "aerostack_async-"))]
    assert outside == []
    # Development tools and tests stay in the repository.
    for name in package:
        parts = name.split("/")
        assert not {"tests", "test", "benchmarks", "scripts", "examples", "docs"} & set(parts)
        assert "conftest" not in name
        assert "stubgen" not in name
        assert "__pycache__" not in parts
    # And every module of the source is in it, with the typing files.
    source = ROOT / "src"
    expected = {
        path.relative_to(source).as_posix()
        for path in (source / "aerostack_async").rglob("*")
        if path.is_file() and path.suffix in (".py", ".pyi", ".typed")
    }
    assert expected - set(package) == set()
    assert "aerostack_async/py.typed" in package
    assert "aerostack_async/_sync_types.pyi" in package


def test_the_wheel_declares_what_the_sync_client_imports(wheel: Path) -> None:
    metadata = zipfile.ZipFile(wheel).read(
        next(n for n in zipfile.ZipFile(wheel).namelist() if n.endswith(".dist-info/METADATA"))
    )
    required = {
        canonicalize_name(Requirement(line.split(":", 1)[1]).name)
        for line in metadata.decode().splitlines()
        if line.startswith("Requires-Dist:") and "extra ==" not in line
    }
    assert {"anyio", "httpx", "msgspec", "stamina", "sniffio", "h11"} <= required


# Runs in the install's venv: every public module (no "_" in its dotted name), every name in its
# __all__. A module that cannot import says which module it missed.
_IMPORT_EVERYTHING = """
import importlib, json, pathlib, sys
import aerostack_async

root = pathlib.Path(aerostack_async.__file__).resolve().parent
report = {"file": str(root), "prefix": str(pathlib.Path(sys.prefix).resolve()), "modules": {}}
for path in sorted(root.rglob("*.py")):
    parts = path.relative_to(root.parent).with_suffix("").parts
    if parts[-1] == "__init__":
        parts = parts[:-1]
    if any(part.startswith("_") for part in parts):
        continue
    name = ".".join(parts)
    try:
        module = importlib.import_module(name)
    except ModuleNotFoundError as exc:
        report["modules"][name] = {"missing": exc.name}
        continue
    public = getattr(module, "__all__", None)
    if public is None:
        report["modules"][name] = {"no __all__": True}
        continue
    for attribute in public:
        getattr(module, attribute)  # an AttributeError or ImportError fails the run
    report["modules"][name] = {"names": len(public)}
print(json.dumps(report))
"""


def _extras_providing(module: str) -> set[str]:
    """The user-facing extras that declare the distribution a top-level module comes from."""
    top = module.split(".")[0]
    distributions = {
        canonicalize_name(d) for d in importlib.metadata.packages_distributions().get(top, [])
    }
    return {extra for extra, names in USER_EXTRAS.items() if names & distributions}


def test_every_public_name_imports_from_the_install(install: Install) -> None:
    done = subprocess.run(
        [install.python, "-c", _IMPORT_EVERYTHING],
        cwd=install.workdir,
        env=clean_env(),
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    # What ran is the installed wheel, not the source tree.
    assert Path(report["prefix"]) in Path(report["file"]).parents
    modules = report["modules"]
    assert {"aerostack_async", "aerostack_async.errors", "aerostack_async.compat"} <= set(modules)
    # Every public module says what it exports; the emulator's route modules are its insides.
    without = [name for name, result in modules.items() if "no __all__" in result]
    assert [name for name in without if not name.startswith("aerostack_async.server.routes")] == []
    installed = set(install.extras.split(",")) - {""}
    for name, result in modules.items():
        if "missing" in result:
            # Only a module of an extra this install left out may be missing, e.g. starlette for
            # aerostack_async.server in the bare install.
            if result["missing"].split(".")[0] in CALLED_BY_THEIR_OWNER:
                continue  # e.g. pytest for the pytest plugin, which only pytest imports
            providers = _extras_providing(result["missing"])
            assert providers, f"{name} needs {result['missing']}, which no extra declares"
            assert not providers & installed, f"{name} misses {result['missing']}: {providers}"
    imported = {name for name, result in modules.items() if "names" in result}
    assert {"aerostack_async", "aerostack_async.compat", "aerostack_async.batching"} <= imported
    if "server" in installed:
        assert "aerostack_async.server" in imported
    else:
        assert modules["aerostack_async.server"]["missing"].split(".")[0] in {
            "starlette", "uvicorn", "python_multipart", "multipart", "jwt", "httpx_sse",
        }  # fmt: skip


def test_the_command_starts_from_the_install(install: Install) -> None:
    done = subprocess.run(
        [install.command, "--help"],
        cwd=install.workdir,
        env=clean_env(),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "serve" in done.stdout


@pytest.mark.parametrize("code", SNIPPETS, ids=[f"snippet{n}" for n in range(len(SNIPPETS))])
def test_readme_snippet_runs_from_the_install(
    code: str, install: Install, install_emulator: tuple[str, str], tmp_path: Path
) -> None:
    base_url, api_key = install_emulator
    done = run_snippet(
        str(install.python), code, base_url, api_key, tmp_path, extra_env=install.env_for(code)
    )
    assert done.returncode == 0, done.stderr


@pytest.fixture(scope="session")
def example_runs(
    install: Install, install_emulator: tuple[str, str], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[dict[str, Run]]:
    """Every example started at once from the install, each in its own folder."""
    base_url, api_key = install_emulator
    folders = (tmp_path_factory.mktemp(f"example{n}") for n in itertools.count())
    with start_examples(
        str(install.python),
        base_url,
        api_key,
        folders,
        extra_env=install.env_for,
    ) as started:
        yield started


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_example_runs_from_the_install(name: str, example_runs: dict[str, Run]) -> None:
    status, out, err = example_runs[name].wait()

    assert status == 0, err
    for expected in EXPECTED[name]:
        assert expected in out


def test_programs_run_without_the_source_tree_on_their_path() -> None:
    env = program_env("http://127.0.0.1:9/v1", "sk_test")
    assert "PYTHONPATH" not in env
    assert not any(name.startswith("VIRTUAL_ENV") for name in env)
