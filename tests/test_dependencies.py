"""Every module the package imports is declared in pyproject.toml, where it is needed.

Read from the source's syntax trees: an import in the core client must come from a core
dependency, one in ``server/`` from core or the ``server`` extra, one in ``cli/`` from core or
the ``cli`` extra (the command runs without the emulator). Imports guarded by ``try: ...
except ImportError`` or ``if TYPE_CHECKING:`` are optional and skipped. ``tests/wheel`` proves
the same from the built wheel in fresh virtual environments; this finds it in a second.
"""

from __future__ import annotations

import ast
import importlib.metadata
import sys
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - depends on the interpreter
    tomllib = pytest.importorskip("tomli")

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "src" / "aerostack_async"
PROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]


def _names(requirements: list[str]) -> set[str]:
    return {canonicalize_name(Requirement(r).name) for r in requirements}


CORE = _names(PROJECT["dependencies"])
EXTRAS = {name: _names(reqs) for name, reqs in PROJECT["optional-dependencies"].items()}
_DISTRIBUTIONS = importlib.metadata.packages_distributions()


def _part(path: Path) -> str:
    """Which install a module belongs to: ``core``, ``server`` or ``cli``."""
    first = path.relative_to(PACKAGE).parts[0]
    return first if first in ("server", "cli") else "core"


def _allowed(part: str) -> set[str]:
    return CORE | EXTRAS.get(part, set())


_IMPORT_ERRORS = {"ImportError", "ModuleNotFoundError"}

# Imports made only where the other library is known to be running (it called us), so it is
# installed whenever the import runs.
CALLED_BY_THEIR_OWNER = {
    "pydantic_core": "models/_base.py: __get_pydantic_core_schema__, which only pydantic calls",
    "trio": "imported only where sniffio says the running event loop is trio's",
    "pytest": "pytest_plugin.py: a pytest plugin, imported by pytest (its pytest11 entry point)",
    "pytest_asyncio": "pytest_plugin.py: only where pytest-asyncio's own plugin is running",
    "opentelemetry": "_tracing.py: only once the application has imported opentelemetry.trace",
}


def _names_in(node: ast.expr | None) -> set[str]:
    return {n.id for n in ast.walk(node) if isinstance(n, ast.Name)} if node is not None else set()


def _required_imports(path: Path) -> list[tuple[int, str]]:
    """(line, top-level module) of every third-party import that is not optional."""
    tree = ast.parse(path.read_text(), filename=str(path))
    optional: set[int] = set()
    for node in ast.walk(tree):
        guarded: list[ast.stmt] = []
        if (
            isinstance(node, ast.Try)
            and any(_IMPORT_ERRORS & _names_in(handler.type) for handler in node.handlers)
        ) or (isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test)):
            guarded = node.body
        optional.update(id(inner) for statement in guarded for inner in ast.walk(statement))
    found = []
    for node in ast.walk(tree):
        if id(node) in optional:
            continue
        if isinstance(node, ast.Import):
            modules = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            modules = [node.module]
        else:
            continue
        for module in modules:
            top = module.split(".")[0]
            if top not in sys.stdlib_module_names | {"aerostack_async", *CALLED_BY_THEIR_OWNER}:
                found.append((node.lineno, top))
    return found


SOURCES = sorted(PACKAGE.rglob("*.py"))
IMPORTS = {path: _required_imports(path) for path in SOURCES}


def test_the_package_has_sources_and_third_party_imports() -> None:
    assert len(SOURCES) > 50
    assert sum(len(found) for found in IMPORTS.values()) > 50


@pytest.mark.parametrize("path", SOURCES, ids=[str(p.relative_to(PACKAGE)) for p in SOURCES])
def test_every_import_is_declared_where_the_module_is_installed(path: Path) -> None:
    allowed = _allowed(_part(path))
    undeclared = []
    for line, top in IMPORTS[path]:
        distributions = {canonicalize_name(d) for d in _DISTRIBUTIONS.get(top, [])}
        if not distributions & allowed:
            undeclared.append(f"line {line}: {top} (from {sorted(distributions) or '?'})")
    assert not undeclared, f"{_part(path)} module imports undeclared modules: {undeclared}"


def test_every_core_dependency_is_imported_by_the_core() -> None:
    # A core dependency nothing in the core imports belongs in an extra (or nowhere).
    used: set[str] = set()
    for path in SOURCES:
        if _part(path) == "core":
            tree = ast.parse(path.read_text())
            for node in ast.walk(tree):
                if isinstance(node, ast.Import):
                    tops = [alias.name.split(".")[0] for alias in node.names]
                elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                    tops = [node.module.split(".")[0]]
                else:
                    continue
                for top in tops:
                    used.update(canonicalize_name(d) for d in _DISTRIBUTIONS.get(top, []))
    assert CORE - used == set()
