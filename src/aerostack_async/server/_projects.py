"""Projects: every key pair scopes its own database, cache, queue, users, storage and search.

The configured keys (``--api-key``/``--public-key``, by default ``sk_local_aerostack`` and
``pk_local_aerostack``) reach the default project, which lives at the top of the data
directory as it always has. Any other key ``sk_local_<name>`` (secret) or ``pk_local_<name>``
(public) reaches project ``<name>``, minted on first use, as the hosted platform scopes its
data per project: a test suite gives every test a fresh name and so a clean slate.
``--single-project`` turns minting off.

A minted project has its own SQLite files, storage folder, signing secret and background
tasks (cache sweep, queue delivery); dropping it (``DELETE /_emulator/project``) stops them
and deletes its data.
"""

from __future__ import annotations

import re
import shutil
from collections.abc import AsyncIterator, Callable, Coroutine
from contextlib import asynccontextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import anyio
import anyio.to_thread
from anyio.abc import TaskGroup

from ._state import ServerState

if TYPE_CHECKING:
    import httpx

SECRET_PREFIX = "sk_local_"  # noqa: S105 (a key prefix, not a password)
PUBLIC_PREFIX = "pk_local_"
# Lower case only: a project is a folder, and some file systems ignore case.
PROJECT_NAME = re.compile(r"[a-z0-9][a-z0-9_-]{0,62}")

Background = Callable[[ServerState], Coroutine[Any, Any, None]]


def project_of_key(key: str) -> tuple[str, bool] | None:
    """``(name, is secret)`` for a key ``sk_local_<name>`` or ``pk_local_<name>``, else None."""
    if key.startswith(SECRET_PREFIX):
        name, secret = key[len(SECRET_PREFIX) :], True
    elif key.startswith(PUBLIC_PREFIX):
        name, secret = key[len(PUBLIC_PREFIX) :], False
    else:
        return None
    return (name, secret) if PROJECT_NAME.fullmatch(name) else None


class Projects:
    """The default project and every project minted since the emulator started."""

    def __init__(self, default: ServerState, schema: str, background: list[Background]) -> None:
        self.default = default
        default.projects = self
        self._schema = schema
        self._background = background
        self._open: dict[str, ServerState] = {}
        self._scopes: dict[str, anyio.CancelScope] = {}
        self._lock = anyio.Lock()
        self._tasks: TaskGroup | None = None

    def get(self, name: str) -> ServerState | None:
        """Project ``name`` if it is open (no I/O: the request path's fast lookup)."""
        return self._open.get(name)

    async def resolve(self, name: str) -> ServerState:
        """Project ``name``, opened from disk or minted empty if it was never used."""
        state = self._open.get(name)
        if state is None:
            state = await self._open_project(name, create=True)
            assert state is not None
        return state

    async def find(self, name: str) -> ServerState | None:
        """Project ``name`` if it exists (open, or on disk); never mints one."""
        if not PROJECT_NAME.fullmatch(name):
            return None
        return self._open.get(name) or await self._open_project(name, create=False)

    async def _open_project(self, name: str, *, create: bool) -> ServerState | None:
        async with self._lock:
            state = self._open.get(name)
            if state is not None:
                return state
            if self._tasks is None:
                raise RuntimeError("the emulator's lifespan has not started")
            if not create and not await anyio.to_thread.run_sync(
                Path.is_dir, self.default.project_dir(name)
            ):
                return None
            state = await anyio.to_thread.run_sync(self._open_sync, name)
            self._open[name] = state
            await self._tasks.start(self._run, state)
            return state

    def _open_sync(self, name: str) -> ServerState:
        state = self.default.open_project(name)
        try:
            state.platform.run_sync(lambda conn: conn.executescript(self._schema))
        except BaseException:
            state.close()
            raise
        return state

    async def drop(self, name: str) -> bool:
        """Stop project ``name``'s tasks and delete its data; whether it existed."""
        async with self._lock:
            state = self._open.pop(name, None)
            if state is not None:
                self._scopes.pop(name).cancel()
            directory = self.default.project_dir(name)
            existed = state is not None or await anyio.to_thread.run_sync(Path.is_dir, directory)
            if state is not None:
                await anyio.to_thread.run_sync(lambda: state.close(delete=True))
            elif existed:
                await anyio.to_thread.run_sync(shutil.rmtree, directory, True)
            return existed

    async def _run(
        self, state: ServerState, *, task_status: Any = anyio.TASK_STATUS_IGNORED
    ) -> None:
        with anyio.CancelScope() as scope:
            if state.project is not None:
                self._scopes[state.project] = scope
            async with anyio.create_task_group() as tg:
                for background in self._background:
                    tg.start_soon(background, state)
                task_status.started()

    @asynccontextmanager
    async def running(self, http: httpx.AsyncClient) -> AsyncIterator[None]:
        """Run every project's background tasks while the app runs; close them all after."""
        self.default.http = http
        try:
            async with anyio.create_task_group() as tg:
                self._tasks = tg
                await tg.start(self._run, self.default)
                try:
                    yield
                finally:
                    tg.cancel_scope.cancel()
        finally:
            self._tasks = None
            for state in self._open.values():
                state.close()
            self._open.clear()
            self._scopes.clear()
            self.default.close()
