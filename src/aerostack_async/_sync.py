"""The sync facade: ``Aerostack`` runs ``AsyncAerostack`` on an event loop in a background thread.

Nothing here re-implements an operation. An anyio ``BlockingPortal`` owns one event loop in one
daemon thread; the async client is created, used and closed on that loop, and every attribute of
it is reached through a generic proxy that turns

- coroutine methods into blocking calls (``portal.call``),
- async iterators into sync iterators that pull one step per round trip,
- async context managers into sync ones (``portal.wrap_async_context_manager``),
- objects that have async methods of their own (resources, streams) into further proxies,

so the sync surface is derived from the async one and cannot drift from it. Type checkers see the
sync signatures through ``_sync_types.pyi``, which ``scripts/sync_stubgen.py`` generates from
the async classes; people and their tools (``dir``, ``help``, completion) see them at run time
through the per-class proxies that ``_sync_surface`` derives from the same classes.

The portal serialises every call onto its loop, so one ``Aerostack`` may be shared by threads.
"""

from __future__ import annotations

import atexit
import collections
import contextlib
import functools
import inspect
import os
import sys
import threading
import time
import warnings
import weakref
from collections.abc import Callable, Iterator
from concurrent.futures import Future
from contextlib import AbstractContextManager
from types import TracebackType
from typing import TYPE_CHECKING, Any, Final, Literal

import anyio
import sniffio
from anyio.from_thread import BlockingPortal

from . import _sync_surface, _tracing
from ._client import AsyncAerostack
from ._sync_surface import async_features as _async_features
from ._sync_surface import is_service_class
from .errors import AerostackError

if TYPE_CHECKING:
    from typing_extensions import Self

    from ._sync_types import SyncAerostack as _AerostackSurface
else:

    class _AerostackSurface:  # the generated signatures exist for type checkers only
        __slots__ = ()


__all__ = ["Aerostack", "SyncClient", "SyncClientClosedError", "SyncInEventLoopError"]


class SyncInEventLoopError(AerostackError, RuntimeError):
    """A sync client was called from a thread that is running an event loop."""


class SyncClientClosedError(AerostackError, RuntimeError):
    """A sync client was used after ``close()``."""


def _check_no_running_loop(owner: str, loop_thread: int | None = None) -> None:
    # The one place in src/ that asks which async library is running: blocking this thread
    # would stall that loop (and deadlock outright if it is our own portal's loop).
    if loop_thread is not None and threading.get_ident() == loop_thread:
        raise SyncInEventLoopError(
            f"{owner} was called from its own event loop thread (from inside one of its own "
            f"callbacks, say), where waiting for the call would deadlock"
        )
    try:
        library = sniffio.current_async_library()
    except sniffio.AsyncLibraryNotFoundError:
        return
    if _in_notebook_cell():
        return
    raise SyncInEventLoopError(
        f"{owner} is the blocking client, and it was called from a thread that is running "
        f"a {library} event loop, which the call would block. In async code use "
        f"AsyncAerostack and `await` its methods (or run the blocking call in a worker "
        f"thread, e.g. `await anyio.to_thread.run_sync(...)`)."
    )


def _in_notebook_cell() -> bool:
    """Whether this is the main thread of an IPython shell (a Jupyter kernel, say).

    A kernel runs its cells on the thread of its own asyncio loop, but a cell is a script: the
    kernel serves nothing else until the cell ends, so blocking it is what every blocking library
    does there, and it cannot deadlock our loop, which runs in a thread of its own.
    """
    ipython = sys.modules.get("IPython")
    if ipython is None or threading.current_thread() is not threading.main_thread():
        return False
    get_ipython = getattr(ipython, "get_ipython", None)
    return get_ipython is not None and get_ipython() is not None


class _LoopThread:
    """One event loop in one daemon thread, started on first use, holding the async root object.

    ``open_root`` is called on the loop (so the root is created there) and, if the root is an
    async context manager, entered there; ``close()`` exits it there and stops the thread.

    Three ways out besides ``close()``, none of which may hang the process:

    - garbage collection (``abandon``): the loop closes the root and stops, nobody waits;
    - interpreter exit with the client still open: an ``atexit`` hook closes it, waiting at most
      ``_EXIT_GRACE`` seconds (the thread is a daemon, so nothing joins it after that);
    - ``os.fork()``: the child forgets the parent's thread (it does not exist there) and starts
      its own on first use, on the same root, whose pool has dropped what it inherited.
    """

    def __init__(
        self,
        open_root: Callable[[], Any],
        *,
        backend: str,
        backend_options: dict[str, Any] | None,
        owner: str,
    ) -> None:
        self._open_root = open_root
        self._backend = backend
        self._backend_options = backend_options
        self.owner = owner
        self._lock = threading.Lock()
        self._portal: BlockingPortal | None = None
        self._hop: _Hop | None = None
        self._stopped: Future[None] | None = None
        self._root: Any = None
        self._root_open = False
        self._thread_id: int | None = None
        self.closed = False

    @property
    def started(self) -> bool:
        """Whether the loop thread is running."""
        return self._portal is not None

    def root(self) -> Any:
        """The async root object, starting the loop thread if needed."""
        self._ensure_started()
        return self._root

    def _ensure_started(self) -> BlockingPortal:
        portal = self._portal
        if portal is not None:
            return portal
        _check_no_running_loop(self.owner)
        with self._lock:
            if self.closed:
                raise SyncClientClosedError(f"this {self.owner} client is closed")
            if self._portal is None:
                portal, stopped, hop = _start_portal(self._backend, self._backend_options)
                try:
                    if not self._root_open:
                        self._root = portal.call(self._enter_root)
                        self._root_open = True
                    else:  # a forked child: the root is inherited, only the thread is new
                        portal.call(self._note_thread)
                except BaseException:
                    _stop_portal(portal, stopped, wait=True)
                    raise
                self._stopped = stopped
                self._hop = hop
                self._portal = portal
                _OPEN.add(self)
            return self._portal

    async def _note_thread(self) -> None:
        self._thread_id = threading.get_ident()

    async def _enter_root(self) -> Any:
        await self._note_thread()
        root = self._open_root()
        if hasattr(root, "__aenter__"):
            entered = await root.__aenter__()
            return root if entered is None else entered
        return root

    async def _exit_root(self) -> None:
        root = self._root
        if hasattr(root, "__aexit__"):
            await root.__aexit__(None, None, None)
        elif hasattr(root, "aclose"):
            await root.aclose()

    def call(self, func: Callable[..., Any], *args: Any) -> Any:
        """Run ``func(*args)`` (sync or async) on the loop and return its result here."""
        self._ensure_started()
        hop = self._hop
        if self.closed or hop is None:
            raise SyncClientClosedError(f"this {self.owner} client is closed")
        _check_no_running_loop(self.owner, self._thread_id)
        return hop.call(func, args)

    def wrap_async_context_manager(self, acm: Any) -> AbstractContextManager[Any]:
        """A sync context manager that enters and exits ``acm`` in one task on the loop."""
        portal = self._ensure_started()
        _check_no_running_loop(self.owner, self._thread_id)
        return portal.wrap_async_context_manager(acm)

    def close(self) -> None:
        """Close the root on the loop, stop the loop and join its thread; idempotent."""
        with self._lock:
            if self.closed:
                return
            self.closed = True
            _OPEN.discard(self)
            portal, stopped = self._portal, self._stopped
            if portal is None or stopped is None:
                return
            _check_no_running_loop(self.owner, self._thread_id)
            try:
                portal.call(self._exit_root)
            finally:
                # Streams left open by other threads must not keep the loop alive.
                _stop_portal(portal, stopped, wait=True)
                self._portal = None
                self._hop = None
                self._root = None

    def abandon(self) -> None:
        """Stop the loop without waiting (for ``__del__``): nothing awaited or joined here."""
        portal = self._portal
        if portal is None or self.closed or threading.get_ident() == self._thread_id:
            return
        self.closed = True
        _OPEN.discard(self)
        if sys.is_finalizing():
            return  # the loop thread is frozen by now: asking it anything would never return
        with contextlib.suppress(RuntimeError):
            portal.start_task_soon(self._shut_down, portal)

    def close_at_exit(self) -> None:
        """Close the root and stop the loop, waiting at most ``_EXIT_GRACE`` seconds."""
        portal = self._portal
        if portal is None or self.closed:
            return
        self.closed = True
        deadline = time.monotonic() + _EXIT_GRACE
        # Exiting anyway: past the grace period the daemon thread is simply not waited for.
        with contextlib.suppress(BaseException):
            portal.start_task_soon(self._shut_down, portal).result(_EXIT_GRACE)
        # The loop's own end too: on asyncio a transport closes its socket a loop turn after
        # it is told to, and that turn must come before the interpreter goes on exiting.
        stopped = self._stopped
        if stopped is not None:
            with contextlib.suppress(BaseException):
                stopped.result(max(0.0, deadline - time.monotonic()))

    def forget_after_fork(self) -> None:
        """In a forked child: the loop thread was the parent's; start a new one on first use."""
        self._lock = threading.Lock()  # it may have been held by a thread the child lacks
        self._portal = None
        self._hop = None
        self._stopped = None
        self._thread_id = None

    async def _shut_down(self, portal: BlockingPortal) -> None:
        # On the loop, for ``abandon`` and the exit hook: close the root, then end the loop.
        try:
            await self._exit_root()
        finally:
            await portal.stop(cancel_remaining=True)


_EXIT_GRACE: Final = 1.0
"""Seconds an open client may take to close its connections at interpreter exit."""

_OPEN: Final[weakref.WeakSet[_LoopThread]] = weakref.WeakSet()
"""Loop threads that are running (for the exit hook and the fork hook)."""


def _start_portal(
    backend: str, backend_options: dict[str, Any] | None
) -> tuple[BlockingPortal, Future[None], _Hop]:
    """A blocking portal on a new event loop in a new daemon thread, the loop's end, and the
    light hop onto that loop.

    anyio's ``start_blocking_portal`` does the same as a context manager whose exit joins the
    thread; the daemon thread and the returned future let ``abandon`` and the exit hook stop the
    loop without joining anything.
    """
    ready: Future[tuple[BlockingPortal, _Hop]] = Future()
    stopped: Future[None] = Future()

    async def serve() -> None:
        async with BlockingPortal() as portal:
            ready.set_result((portal, _Hop(backend)))
            await portal.sleep_until_stopped()

    def run() -> None:
        try:
            anyio.run(serve, backend=backend, backend_options=backend_options)
        except BaseException as exc:
            if not ready.done():
                ready.set_exception(exc)
            stopped.set_exception(exc)
        else:
            stopped.set_result(None)

    thread = threading.Thread(target=run, name=f"aerostack-{backend}-loop", daemon=True)
    thread.start()
    portal, hop = ready.result()
    return portal, stopped, hop


class _Pending:
    """One call made through a `_Hop`: run as its own task on the loop, its outcome handed back
    through a lock the caller blocks on (released once, by the loop thread, when it is done).

    A bare lock is the cheapest cross-thread wake-up CPython has (a ``concurrent.futures.Future``
    waits on a condition built on one, with a new lock per wait), and waiting on it can still be
    interrupted by Ctrl-C.
    """

    __slots__ = ("_done", "args", "cancel_call", "cancelled", "failed", "finished", "func",
                 "outcome", "trace")  # fmt: skip

    def __init__(self, func: Callable[..., Any], args: tuple[Any, ...]) -> None:
        self.func = func
        self.args = args
        self._done = threading.Lock()
        self._done.acquire()  # (released when the outcome is in)
        self.finished = False
        self.failed = False
        self.outcome: Any = None
        self.cancelled = False
        self.cancel_call: Callable[[], object] | None = None  # the task's or scope's cancel()
        # The caller's OpenTelemetry context, when tracing is on: the call's span is its child.
        self.trace = _tracing.caller_context()

    def _finish(self, outcome: Any, failed: bool) -> None:
        self.outcome = outcome
        self.failed = failed
        self.finished = True
        self._done.release()

    def result(self) -> Any:
        """Block until the call is done; return its result or raise its exception."""
        self._done.acquire()
        outcome = self.outcome
        if self.failed:
            self.outcome = None  # (no cycle through the traceback)
            raise outcome
        return outcome

    async def run(self) -> None:
        """Run the call, its outcome to the caller (never raised: on trio this is a system
        task, and the caller's thread is the one that wants it)."""
        if self.cancelled:
            self._finish(KeyboardInterrupt(), True)
            return
        if self.trace is not None:
            _tracing.enter_context(self.trace)  # (this task's own context, gone when it ends)
        try:
            result = self.func(*self.args)
            if inspect.isawaitable(result):
                result = await result
        except BaseException as exc:  # handed to the caller's thread, whole
            self._finish(exc, True)
            return
        self._finish(result, False)

    async def run_in_scope(self) -> None:
        """`run()` in a trio cancel scope that `cancel()` can cancel."""
        import trio

        with trio.CancelScope() as scope:
            self.cancel_call = scope.cancel
            await self.run()

    def cancel(self) -> None:
        """On the loop: cancel the call, whether its task has started or not."""
        self.cancelled = True
        if self.cancel_call is not None:
            self.cancel_call()


class _Hop:
    """The sync facade's way onto the portal's loop for one call: one thread-safe callback that
    starts a task, and the caller waiting on a lock that the task releases.

    ``BlockingPortal.start_task_soon`` costs three thread handoffs a call (schedule the spawn,
    wait for it to be spawned in the portal's task group, wait for the result) and two cancel
    scopes; this costs two handoffs and no scope (on asyncio the task itself is cancelled). It
    runs on the same loop as the portal (built on the loop thread, from its running loop), so
    the facade is still one loop serving every thread. Created on the loop thread.
    """

    __slots__ = ("_spawn", "_submit")

    def __init__(self, backend: str) -> None:
        if backend == "asyncio":  # (uvloop too)
            from ._pool._asyncio_stream import loop_hooks

            submit, create_task = loop_hooks()

            def spawn(pending: _Pending) -> None:
                task: Any = create_task(pending.run())
                pending.cancel_call = task.cancel

            self._submit: Callable[..., object] = submit
            self._spawn: Callable[[_Pending], object] = spawn
        else:
            import trio.lowlevel

            spawn_system_task = trio.lowlevel.spawn_system_task
            self._submit = trio.lowlevel.current_trio_token().run_sync_soon
            self._spawn = lambda pending: spawn_system_task(pending.run_in_scope)

    def call(self, func: Callable[..., Any], args: tuple[Any, ...]) -> Any:
        """Run ``func(*args)`` (sync or async) on the loop and return (or raise) its outcome."""
        pending = _Pending(func, args)
        try:
            try:
                self._submit(self._spawn, pending)
            except RuntimeError:  # the loop has stopped (closed under us from another thread)
                raise SyncClientClosedError("the client's event loop has stopped") from None
            # (A Ctrl-C can land as soon as the call is submitted, even before this line: the
            # loop thread may already be running it.)
            return pending.result()
        except BaseException:
            if not pending.finished:
                # Ctrl-C (or any other interruption) while waiting: cancel the work on the loop.
                with contextlib.suppress(RuntimeError):
                    self._submit(pending.cancel)
            raise


def _stop_portal(portal: BlockingPortal, stopped: Future[None], *, wait: bool) -> None:
    with contextlib.suppress(RuntimeError):  # already stopped
        portal.call(portal.stop, True)
    if wait:
        with contextlib.suppress(BaseException):
            stopped.result()


def _close_open_clients_at_exit() -> None:
    for loop in list(_OPEN):
        loop.close_at_exit()


def _forget_loops_in_child() -> None:
    for loop in list(_OPEN):
        loop.forget_after_fork()


atexit.register(_close_open_clients_at_exit)
if hasattr(os, "register_at_fork"):  # not on Windows
    os.register_at_fork(after_in_child=_forget_loops_in_child)


# --- the generic proxy -----------------------------------------------------------------------

# Async dunder/method names and their sync spellings.
_SYNC_NAMES: Final = {"aclose": "close"}
_PLAIN_TYPES: Final = (str, bytes, bytearray, int, float, bool, type(None), dict, list, tuple)


def _needs_proxy(value: object) -> bool:
    if isinstance(value, (*_PLAIN_TYPES, type)):
        return False
    return any(_async_features(type(value)))


async def _invoke(func: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    # Runs on the loop: call, and await the result unless it is an async context manager,
    # which the caller enters with ``with`` instead.
    result = func(*args, **kwargs)
    if inspect.isawaitable(result) and not hasattr(result, "__aenter__"):
        result = await result
    return result


async def _anext_batch(iterator: Any) -> list[Any] | None:
    """The next item, plus any the iterator already holds (None at the end).

    An async iterator that fetches in pages may offer ``take_buffered()``: a plain method that
    hands over the items it has fetched but not yet yielded. The sync side then pulls a page per
    round trip through the portal instead of an item per round trip.
    """
    try:
        first = await iterator.__anext__()
    except StopAsyncIteration:
        return None
    take_buffered = getattr(iterator, "take_buffered", None)
    if take_buffered is None:
        return [first]
    return [first, *take_buffered()]


def _wrap(value: Any, loop: _LoopThread, keepalive: object, *, attribute: bool = False) -> Any:
    """Return ``value`` as the sync world should see it (a proxy if it has async behaviour)."""
    if not _needs_proxy(value):
        if attribute and not isinstance(value, type) and is_service_class(type(value)):
            return _sync_surface.proxy_class(type(value))(value, loop, keepalive)
        return value
    view = _VIEWS.get(type(value))
    if view is not None:
        return view(value, loop, keepalive)
    return _sync_surface.proxy_class(type(value))(value, loop, keepalive)


# Async classes whose instances (other than a client's root) get a sync view of their own
# instead of a proxy: ``AsyncAerostack``, from ``with_options``, becomes an ``Aerostack``.
_VIEWS: Final[dict[type, Callable[..., Any]]] = {}


class SyncProxy:
    """A blocking view of an async object; attributes are proxied on demand.

    ``keepalive`` is the sync client that owns the loop: holding it keeps the client (and its
    loop) alive for as long as any proxy derived from it is in use. Each async class gets its
    own subclass (``_sync_surface.proxy_class``) whose methods and properties are declared on
    it with their sync signatures and docstrings; ``__getattr__`` serves the rest.
    """

    __slots__ = (
        "__weakref__",
        "_sync_ahead",
        "_sync_cache",
        "_sync_cm",
        "_sync_keepalive",
        "_sync_loop",
        "_sync_target",
    )

    def __init__(self, target: Any, loop: _LoopThread, keepalive: object) -> None:
        self._sync_target = target
        self._sync_loop = loop
        self._sync_keepalive = keepalive
        self._sync_cache: dict[str, Any] = {}
        self._sync_ahead: collections.deque[Any] = collections.deque()

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__") and name.endswith("__"):
            raise AttributeError(name)
        cached = self._sync_cache.get(name)
        if cached is not None:
            return cached
        target = self._sync_target
        async_name = name
        if name in _SYNC_NAMES.values():
            async_name = next(a for a, s in _SYNC_NAMES.items() if s == name)
            if hasattr(type(target), name) or not hasattr(type(target), async_name):
                async_name = name
        static = inspect.getattr_static(target, async_name)
        if isinstance(static, (property, functools.cached_property)):
            # A property may touch loop state (anyio primitives need a running loop).
            value = self._sync_loop.call(getattr, target, async_name)
        else:
            value = getattr(target, async_name)
        if callable(value) and not isinstance(value, type) and not _needs_proxy(value):
            method = self._sync_method(value)
            self._sync_cache[name] = method
            return method
        wrapped = _wrap(value, self._sync_loop, self._sync_keepalive, attribute=True)
        if wrapped is not value and not isinstance(static, (property, functools.cached_property)):
            # Sub-objects such as resources are stable; properties are re-read each time.
            self._sync_cache[name] = wrapped
        return wrapped

    def _sync_call(self, name: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        """Call the target's method ``name`` on the loop and wait (the declared methods' body)."""
        loop = self._sync_loop
        func = getattr(self._sync_target, name)
        return _wrap(loop.call(_invoke, func, args, kwargs), loop, self._sync_keepalive)

    def _sync_method(self, func: Callable[..., Any]) -> Callable[..., Any]:
        loop, keepalive = self._sync_loop, self._sync_keepalive

        @functools.wraps(func)
        def method(*args: Any, **kwargs: Any) -> Any:
            return _wrap(loop.call(_invoke, func, args, kwargs), loop, keepalive)

        del method.__wrapped__  # so inspect does not report the async signature as ours
        with contextlib.suppress(TypeError, ValueError):  # a builtin, say: keep (*args, **kwargs)
            signature = _sync_surface.sync_signature(getattr(func, "__func__", func))
            if inspect.ismethod(func):
                signature = signature.replace(parameters=list(signature.parameters.values())[1:])
            method.__signature__ = signature  # type: ignore[attr-defined]
        return method

    def __dir__(self) -> list[str]:
        return _sync_surface.sync_dir(self._sync_target, object.__dir__(self))

    def __repr__(self) -> str:
        return f"<sync {self._sync_target!r}>"


class _ContextProxy(SyncProxy):
    __slots__ = ()

    def __enter__(self) -> Any:
        cm = self._sync_loop.wrap_async_context_manager(self._sync_target)
        value = cm.__enter__()
        self._sync_cm = cm
        if value is self._sync_target:
            return self
        return _wrap(value, self._sync_loop, self._sync_keepalive)

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> bool | None:
        cm = self._sync_cm
        del self._sync_cm
        return cm.__exit__(exc_type, exc, tb)


class _IterableProxy(SyncProxy):
    __slots__ = ()

    def __iter__(self) -> Iterator[Any]:
        iterator = self._sync_loop.call(self._sync_target.__aiter__)
        if iterator is self._sync_target and isinstance(self, _IteratorProxy):
            return self
        return _IteratorProxy(iterator, self._sync_loop, self._sync_keepalive)


class _IteratorProxy(_IterableProxy):
    __slots__ = ()

    def __next__(self) -> Any:
        ahead = self._sync_ahead
        if not ahead:
            batch = self._sync_loop.call(_anext_batch, self._sync_target)
            if batch is None:
                raise StopIteration
            ahead.extend(batch)
        return _wrap(ahead.popleft(), self._sync_loop, self._sync_keepalive)

    def take_buffered(self) -> list[Any]:
        """Items fetched but not yet yielded, without waiting (this side's read-ahead first)."""
        loop, keepalive = self._sync_loop, self._sync_keepalive
        taken = list(self._sync_ahead)
        self._sync_ahead.clear()
        take_buffered = getattr(self._sync_target, "take_buffered", None)
        if take_buffered is not None:
            taken += loop.call(take_buffered)
        return [_wrap(item, loop, keepalive) for item in taken]

    def close(self) -> None:
        """Close the underlying async iterator early (an async generator's ``aclose``)."""
        self._sync_ahead.clear()
        aclose = getattr(self._sync_target, "aclose", None)
        if aclose is not None and not self._sync_loop.closed:
            self._sync_loop.call(aclose)


class _ContextIterableProxy(_ContextProxy, _IterableProxy):
    __slots__ = ()


class _ContextIteratorProxy(_ContextProxy, _IteratorProxy):
    __slots__ = ()


_PROXY_CLASSES: Final[dict[tuple[bool, bool, bool], type[SyncProxy]]] = {
    (False, False, False): SyncProxy,
    (True, False, False): _ContextProxy,
    (False, True, False): _IterableProxy,
    (False, True, True): _IteratorProxy,
    (True, True, False): _ContextIterableProxy,
    (True, True, True): _ContextIteratorProxy,
}


def _proxy_base(cls: type) -> type[SyncProxy]:
    """The generic proxy for what ``cls`` is (an async context manager, iterator...)."""
    is_acm, is_aiterable, is_aiterator, _ = _async_features(cls)
    return _PROXY_CLASSES[(is_acm, is_aiterable, is_aiterator)]


_sync_surface.bind(_proxy_base)


# --- the clients -----------------------------------------------------------------------------


class SyncClient:
    """A blocking client over any async root object (see the module docstring).

    ``open_root`` is called on the loop thread to create the async object; if that object is an
    async context manager it is entered there, and exited by `close()`. Every public
    attribute of the root is reachable here, made blocking.
    """

    def __init__(
        self,
        open_root: Callable[[], Any],
        *,
        backend: str = "asyncio",
        backend_options: dict[str, Any] | None = None,
    ) -> None:
        if backend not in ("asyncio", "trio"):
            raise ValueError(f"backend must be 'asyncio' or 'trio', not {backend!r}")
        self._sync_loop = _LoopThread(
            open_root,
            backend=backend,
            backend_options=backend_options,
            owner=type(self).__name__,
        )
        self._sync_proxy: SyncProxy | None = None

    def _sync_root_proxy(self) -> SyncProxy:
        proxy = self._sync_proxy
        if proxy is None:
            root = self._sync_loop.root()
            proxy = _sync_surface.proxy_class(type(root))(root, self._sync_loop, self)
            self._sync_proxy = proxy
        elif self._sync_loop.closed:
            raise SyncClientClosedError(f"this {self._sync_loop.owner} client is closed")
        return proxy

    if not TYPE_CHECKING:
        # Hidden from type checkers so that a misspelt attribute is an error, not ``Any``.
        def __getattr__(self, name: str) -> Any:
            if name.startswith("_"):
                raise AttributeError(name)
            return getattr(self._sync_root_proxy(), name)

    def close(self) -> None:
        """Close the async client on its loop and stop the loop thread. Safe to call twice."""
        self._sync_loop.close()

    def __dir__(self) -> list[str]:
        """The client's names, for completion: answered without starting the loop thread.

        ``Aerostack`` declares its root's members on the class (``_sync_surface.install_root``);
        a generic root's names are added once the root exists.
        """
        names = set(object.__dir__(self))
        proxy = self._sync_proxy
        if proxy is not None and not self._sync_loop.closed:
            names.update(n for n in dir(proxy) if not n.startswith("_"))
        return sorted(names)

    def __enter__(self) -> Self:
        self._sync_loop.root()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def __del__(self) -> None:
        loop = getattr(self, "_sync_loop", None)
        if loop is None or not loop.started or loop.closed:
            return
        warnings.warn(
            f"unclosed {type(self).__name__}: use `with {type(self).__name__}(...)` or call "
            f".close()",
            ResourceWarning,
            stacklevel=1,
            source=self,
        )
        loop.abandon()

    def __repr__(self) -> str:
        loop = self._sync_loop
        if loop.closed:
            return f"<{type(self).__name__} closed>"
        if not loop.started:
            return f"<{type(self).__name__} not started>"
        return f"<{type(self).__name__} over {loop.root()!r}>"


_ASYNC_SIGNATURE: Final = inspect.signature(AsyncAerostack)


class Aerostack(_AerostackSurface, SyncClient):
    """The blocking client: ``AsyncAerostack``'s whole surface, made synchronous.

    Takes the same arguments as `AsyncAerostack`, plus ``backend`` (``"asyncio"``, the
    default, or ``"trio"``) and ``backend_options`` for the loop it runs on. The loop thread
    starts on first use (or ``with``) and stops on `close()`. Share one instance between
    threads; do not call it from async code.

    Example:
        ```python
        with Aerostack(api_key="sk_...") as client:
            client.cache.set("greeting", "hello")
            with client.ai.chat_stream([{"role": "user", "content": "Hi"}]) as stream:
                for text in stream.text_stream:
                    print(text, end="")
        ```
    """

    if not TYPE_CHECKING:  # type checkers see the generated signature in _sync_types.pyi

        def __init__(
            self,
            *args: Any,
            backend: Literal["asyncio", "trio"] = "asyncio",
            backend_options: dict[str, Any] | None = None,
            **kwargs: Any,
        ) -> None:
            # A misspelt or missing argument fails here; values are checked on first use,
            # when the async client is created on its loop. (inspect.signature shows the
            # arguments by name: see install_root below.)
            _ASYNC_SIGNATURE.bind(*args, **kwargs)

            def open_root() -> Any:
                return AsyncAerostack(*args, **kwargs)

            SyncClient.__init__(self, open_root, backend=backend, backend_options=backend_options)


class _AerostackCopy(Aerostack):
    """What ``with_options()`` gives: an ``Aerostack`` over a copy of the async client.

    The copy shares the client's loop thread and connection pool (see
    ``AsyncAerostack.with_options``); closing it closes the copy only, and only closing the
    client it came from stops the loop.
    """

    if not TYPE_CHECKING:

        def __init__(self, target: AsyncAerostack, loop: _LoopThread, keepalive: object) -> None:
            self._sync_loop = loop
            self._sync_proxy = _sync_surface.proxy_class(AsyncAerostack)(target, loop, keepalive)

    def close(self) -> None:
        """Close this copy; the client it came from, its loop and its pool stay open."""
        if not self._sync_loop.closed:
            self._sync_root_proxy().close()

    def __del__(self) -> None:
        pass  # the loop thread belongs to the client this copy came from

    def __repr__(self) -> str:
        if self._sync_loop.closed:
            return "<Aerostack copy, closed>"
        return f"<Aerostack copy over {self._sync_root_proxy()._sync_target!r}>"


_VIEWS[AsyncAerostack] = _AerostackCopy
_sync_surface.register(AsyncAerostack, Aerostack)
_sync_surface.install_root(Aerostack, AsyncAerostack)
