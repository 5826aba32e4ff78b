"""pytest plugin: the Aerostack emulator for your tests, and a project of its own for each test.

Installed with the package (a ``pytest11`` entry point) and active in every pytest run; its
fixtures need the emulator (``pip install 'aerostack-async[testing]'``) and say so if it is
missing. Fixtures:

- ``aerostack_emulator`` (session): the emulator, in a process of its own on a free port
  (one per pytest-xdist worker).
- ``aerostack_base_url`` (session): that emulator's base URL, or ``--aerostack-base-url``.
- ``aerostack_project`` (function): a `Project` nobody has
  used (its keys mint it on first use), deleted after the test.
- ``async_aerostack`` (function): an ``AsyncAerostack`` on the test's own project; with
  ``--aerostack-in-process`` (or the ``aerostack_in_process`` marker or ini option), on an
  emulator of the test's own in this process instead (no socket, no subprocess).
- ``aerostack`` (function): the blocking ``Aerostack`` on the test's own project.

Async tests run under anyio's plugin (``@pytest.mark.anyio``, asyncio or trio) or
pytest-asyncio (``@pytest.mark.asyncio``); ``async_aerostack`` works with either.
"""

from __future__ import annotations

import functools
import inspect
import os
from collections.abc import AsyncIterator, Generator, Iterator
from typing import TYPE_CHECKING, Any

import pytest

from .testing import Emulator, InProcessEmulator, Project, require_server_extra, start_emulator

if TYPE_CHECKING:
    from ._client import AsyncAerostack
    from ._sync import Aerostack

_MARKER = "aerostack_in_process"
# The emulator streams chat tokens without the default 15 ms pause between them.
_DEFAULT_ARGS = ("--ai-token-delay-ms", "0")


def pytest_addoption(parser: pytest.Parser) -> None:
    """The plugin's command-line and ini options."""
    group = parser.getgroup("aerostack", "Aerostack emulator")
    group.addoption(
        "--aerostack-in-process",
        action="store_true",
        default=None,
        help="async_aerostack: run an emulator per test in this process (no socket, no subprocess)",
    )
    group.addoption(
        "--aerostack-base-url",
        default=None,
        help="use the emulator already running at this base URL (…/v1) instead of starting one",
    )
    parser.addini(
        "aerostack_in_process", type="bool", default=False, help="as --aerostack-in-process"
    )
    parser.addini(
        "aerostack_emulator_args",
        type="args",
        default=[],
        help="extra 'aerostack-async serve' flags for the emulator the plugin starts",
    )


def pytest_configure(config: pytest.Config) -> None:
    """Register the marker."""
    config.addinivalue_line(
        "markers",
        f"{_MARKER}(enabled=True): async_aerostack runs this test's emulator in-process "
        "(or, with False, on the shared emulator process)",
    )


def _need_server_extra() -> None:
    try:
        require_server_extra()
    except ImportError as exc:
        problem = str(exc)
    else:
        return
    pytest.fail(problem, pytrace=False)


def _in_process(request: pytest.FixtureRequest) -> bool:
    marker = request.node.get_closest_marker(_MARKER)
    if marker is not None:
        return bool(marker.args[0]) if marker.args else bool(marker.kwargs.get("enabled", True))
    option = request.config.getoption("aerostack_in_process")
    if option is not None:
        return bool(option)
    return bool(request.config.getini("aerostack_in_process"))


@pytest.fixture(scope="session")
def aerostack_emulator(request: pytest.FixtureRequest) -> Iterator[Emulator]:
    """The emulator, in a process of its own on a free port, for the whole session."""
    _need_server_extra()
    args = [*_DEFAULT_ARGS, *request.config.getini("aerostack_emulator_args")]
    emulator = start_emulator(*args)
    try:
        yield emulator
    finally:
        emulator.stop()
        emulator.log_path.unlink(missing_ok=True)


@pytest.fixture(scope="session")
def aerostack_base_url(request: pytest.FixtureRequest) -> str:
    """The base URL of the emulator the tests use: ``--aerostack-base-url`` or our own."""
    given = request.config.getoption("aerostack_base_url") or os.environ.get(
        "AEROSTACK_TEST_BASE_URL"
    )
    if given:
        return str(given).rstrip("/")
    emulator: Emulator = request.getfixturevalue("aerostack_emulator")
    return emulator.base_url


@pytest.fixture
def aerostack_project(aerostack_base_url: str) -> Iterator[Project]:
    """A project nobody has used, on the session's emulator; deleted after the test."""
    project = Project.fresh(aerostack_base_url)
    yield project
    project.drop()


@pytest.fixture
def _aerostack_async_target(request: pytest.FixtureRequest) -> Project | None:
    # Resolved in a sync fixture, so no emulator process starts inside a running event loop.
    if _in_process(request):
        _need_server_extra()
        return None
    project: Project = request.getfixturevalue("aerostack_project")
    return project


@pytest.fixture
async def async_aerostack(_aerostack_async_target: Project | None) -> AsyncIterator[AsyncAerostack]:
    """An ``AsyncAerostack`` on a clean slate: the test's own project, or in-process emulator."""
    from ._client import AsyncAerostack

    project = _aerostack_async_target
    if project is None:
        async with InProcessEmulator() as emulator, emulator.client() as client:
            yield client
        return
    async with AsyncAerostack(api_key=project.api_key, base_url=project.base_url) as client:
        yield client


@pytest.fixture
def aerostack(aerostack_project: Project) -> Iterator[Aerostack]:
    """The blocking ``Aerostack`` client on the test's own project."""
    from ._sync import Aerostack

    with Aerostack(
        api_key=aerostack_project.api_key, base_url=aerostack_project.base_url
    ) as client:
        yield client


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_fixture_setup(fixturedef: Any, request: pytest.FixtureRequest) -> Generator[Any]:
    """Hand our async fixtures to pytest-asyncio when the test is not anyio's.

    anyio's plugin runs them for tests that use ``anyio_backend``; pytest-asyncio (in its
    default strict mode) runs only fixtures it was told about, so a test of its gets them
    marked as its own, on the test's event loop.
    """
    func = fixturedef.func
    if (
        getattr(func, "__module__", None) != __name__
        or not inspect.isasyncgenfunction(func)
        or "anyio_backend" in request.fixturenames
        or not request.config.pluginmanager.has_plugin("asyncio")
    ):
        return (yield)
    import pytest_asyncio

    @functools.wraps(func)
    async def for_pytest_asyncio(*args: Any, **kwargs: Any) -> AsyncIterator[Any]:
        async for value in func(*args, **kwargs):
            yield value

    # pytest_asyncio.fixture marks the function it is given as pytest-asyncio's own. The mark
    # stays until the fixture's teardown: pytest-asyncio checks it again when the test runs.
    pytest_asyncio.fixture(for_pytest_asyncio)
    fixturedef.func = for_pytest_asyncio
    try:
        return (yield)
    finally:
        request.addfinalizer(functools.partial(setattr, fixturedef, "func", func))


__all__ = [
    "aerostack",
    "aerostack_base_url",
    "aerostack_emulator",
    "aerostack_project",
    "async_aerostack",
]
