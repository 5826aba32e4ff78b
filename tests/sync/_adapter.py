"""Run async tests through the sync facade: an awaitable view of an ``Aerostack``.

``AsyncView(Aerostack(...))`` looks like an ``AsyncAerostack`` to test code (``await``,
``async for``, ``async with``), but every step is a blocking call on the sync client. The
integration suite can therefore run unchanged through ``Aerostack`` by handing tests this view
instead of an ``AsyncAerostack``.

What each attribute is comes from the async object the sync proxy wraps. Coroutine methods,
iteration steps and entering or leaving a context run in a worker thread
(``anyio.to_thread.run_sync``), so concurrent tests stay concurrent. Plain methods and
properties (``cache.list(...)``, ``chat_stream(...)``, ``stream.text_stream``) do no I/O; they
run at once in a helper thread, so argument errors are raised where the async client raises
them.
"""

from __future__ import annotations

import functools
import inspect
import threading
from collections.abc import Callable
from types import TracebackType
from typing import Any

import anyio.to_thread

from aerostack_async._sync import SyncClient, SyncProxy


def run_in_helper_thread(func: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """Call ``func`` from a thread that runs no event loop and wait (for quick, I/O-free calls)."""
    outcome: list[Any] = []

    def target() -> None:
        try:
            outcome.append((True, func(*args, **kwargs)))
        except BaseException as exc:
            outcome.append((False, exc))

    helper = threading.Thread(target=target)
    helper.start()
    helper.join()
    ok, value = outcome[0]
    if not ok:
        raise value
    return value


def loop_threads() -> set[threading.Thread]:
    """The sync clients' loop threads alive now (named ``aerostack-<backend>-loop``)."""
    return {
        thread
        for thread in threading.enumerate()
        if thread.name.startswith("aerostack-") and thread.name.endswith("-loop")
    }


def start_in_helper_thread(client: SyncClient) -> None:
    """Start the client's loop thread (and create its async client) before tests use it."""
    # No public call starts the loop without sending a request: the loop thread's own.
    run_in_helper_thread(client._sync_loop.root)


def _view(value: Any) -> Any:
    return AsyncView(value) if isinstance(value, (SyncProxy, SyncClient)) else value


async def _in_thread(func: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    return await anyio.to_thread.run_sync(functools.partial(func, *args, **kwargs))


class AsyncView:
    """An async-looking view of a sync-facade object."""

    __slots__ = ("_base",)

    def __init__(self, base: SyncProxy | SyncClient) -> None:
        self._base = base

    def _twin(self) -> Any:
        base = self._base
        if isinstance(base, SyncClient):
            # (Not the loop's root: a with_options() copy is a client over a copy of it.)
            return base._sync_root_proxy()._sync_target
        return base._sync_target

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)
        twin = self._twin()
        if name.startswith("_"):
            # Tests that inspect internals (the pool, the transport) see the async client's.
            return getattr(twin, name)
        static = inspect.getattr_static(twin, name)
        if isinstance(static, (staticmethod, classmethod)):
            static = static.__func__
        if inspect.iscoroutinefunction(static):
            method = getattr(self._base, name)

            async def call(*args: Any, **kwargs: Any) -> Any:
                return _view(await _in_thread(method, *args, **kwargs))

            return call
        if inspect.isfunction(static):

            def call_now(*args: Any, **kwargs: Any) -> Any:
                method = getattr(self._base, name)
                return _view(run_in_helper_thread(method, *args, **kwargs))

            return call_now
        if isinstance(static, (property, functools.cached_property)):
            return _view(run_in_helper_thread(getattr, self._base, name))
        return _view(getattr(self._base, name))

    async def __aenter__(self) -> Any:
        value = await _in_thread(self._base.__enter__)  # type: ignore[union-attr]
        return self if value is self._base else _view(value)

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> bool | None:
        return await _in_thread(self._base.__exit__, exc_type, exc, tb)  # type: ignore[no-any-return,union-attr]

    def __aiter__(self) -> _AsyncIterator:
        return _AsyncIterator(self._base)

    async def __anext__(self) -> Any:
        # For tests that step an iterator by hand (the base is then a sync iterator proxy).
        done = object()
        item = await _in_thread(next, self._base, done)
        if item is done:
            raise StopAsyncIteration
        return _view(item)

    def __repr__(self) -> str:
        return repr(self._base)


class _AsyncIterator:
    __slots__ = ("_iterable", "_iterator")

    def __init__(self, iterable: Any) -> None:
        self._iterable = iterable
        self._iterator: Any = None

    def __aiter__(self) -> _AsyncIterator:
        return self

    async def __anext__(self) -> Any:
        if self._iterator is None:
            self._iterator = await _in_thread(iter, self._iterable)
        done = object()
        item = await _in_thread(next, self._iterator, done)
        if item is done:
            raise StopAsyncIteration
        return _view(item)
