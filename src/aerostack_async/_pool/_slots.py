"""The pool's bookkeeping: connection slots, a LIFO idle stack per origin, and fair waiters.

Every change to the books is synchronous, so a cancellation can never land between two halves of
one (a slot taken but not recorded, a connection handed to a waiter that already left). The only
awaits are closing connections the books already dropped, and waiting for a slot.

Invariant: while anyone waits, no connection is idle (a released connection goes straight to the
first waiter), so a newcomer never overtakes a waiter: waiters are served first come, first served.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Iterable
from typing import Generic, Protocol, TypeVar

import anyio

Origin = tuple[bytes, bytes, int]
"""(scheme, host, port): the key connections are pooled under."""


class Pooled(Protocol):
    """What the books need from a connection."""

    origin: Origin
    idle_since: float

    async def aclose(self) -> None:
        """Close the connection without waiting for the peer."""


C = TypeVar("C", bound=Pooled)


class PoolClosed(RuntimeError):
    """The pool was closed; no more connections are handed out."""


class SlotTimeout(Exception):
    """No slot became free within the pool timeout."""


class _Waiter(Generic[C]):
    __slots__ = ("conn", "event", "granted", "origin")

    def __init__(self, origin: Origin) -> None:
        self.origin = origin
        self.event = anyio.Event()
        self.granted = False
        self.conn: C | None = None


async def close_all(conns: Iterable[Pooled]) -> None:
    """Close connections the books have already dropped, even from a cancelled task."""
    for conn in conns:
        with anyio.CancelScope(shield=True):
            await conn.aclose()


class Slots(Generic[C]):
    """Connection slots (at most ``max_connections``) and the idle connections that hold some.

    A slot is held from the moment a request decides to open a connection until that connection
    is closed; idle connections hold theirs while they wait for reuse.
    """

    def __init__(
        self,
        max_connections: int | None,
        max_idle: int | None,
        keepalive_expiry: float | None,
    ) -> None:
        self._max = max_connections
        self._max_idle = max_idle
        self._expiry = keepalive_expiry
        self._total = 0
        self._n_idle = 0
        self._idle: dict[Origin, list[C]] = {}
        self._waiters: deque[_Waiter[C]] = deque()
        self.closed = False

    @property
    def in_use(self) -> int:
        """Slots held by requests: connections lent out, or being opened."""
        return self._total - self._n_idle

    @property
    def total(self) -> int:
        """Slots held: connections open or being opened, idle or in use."""
        return self._total

    @property
    def idle(self) -> int:
        """Idle connections waiting for reuse."""
        return self._n_idle

    @property
    def waiting(self) -> int:
        """Requests waiting for a slot."""
        return len(self._waiters)

    def take_idle(self, origin: Origin) -> C | None:
        """The hot path: lend the newest idle connection to ``origin`` if that is all it takes.

        None when there is none, when it has expired, or when others wait (they come first):
        then `acquire()` does the rest.
        """
        if self._waiters:
            return None
        idle = self._idle.get(origin)
        if not idle:
            return None
        conn = idle[-1]
        if self._expiry is not None and time.monotonic() - conn.idle_since >= self._expiry:
            return None
        idle.pop()
        self._n_idle -= 1
        return conn

    def put_back_nowait(self, conn: C) -> bool:
        """The hot path of `put_back()`: push ``conn`` on its idle stack if that is all.

        False when anything more is needed (a waiter to serve, a limit, an expired connection
        to drop): then await `put_back()`.
        """
        if self._waiters or self.closed:
            return False
        if self._max_idle is not None and self._n_idle >= self._max_idle:
            return False
        idle = self._idle.get(conn.origin)
        if idle is None:
            return False
        now = time.monotonic()
        if idle and self._expiry is not None and now - idle[0].idle_since >= self._expiry:
            return False
        conn.idle_since = now
        idle.append(conn)
        self._n_idle += 1
        return True

    async def acquire(self, origin: Origin, pool_timeout: float | None) -> C | None:
        """Lend an idle connection to ``origin``, or return None: a slot to open a new one with.

        Whoever gets None must later call `release_slot()` exactly once (when the connection
        it opened is closed, or at once if opening failed). Raises `SlotTimeout` after
        ``pool_timeout`` seconds without a slot.
        """
        while True:
            if self.closed:
                raise PoolClosed("the transport has been closed")
            if not self._waiters:
                idle = self._idle.get(origin)
                if idle:
                    conn = idle.pop()
                    if self._expiry is None or time.monotonic() - conn.idle_since < self._expiry:
                        self._n_idle -= 1
                        return conn
                    # The stack is ordered by idle time: everything under an expired top expired.
                    idle.append(conn)
                    await self._drop_idle(origin)
                    continue
                if self._max is None or self._total < self._max:
                    self._total += 1
                    return None
                if self._n_idle:
                    await self._evict_oldest()
                    continue
            return await self._wait(origin, pool_timeout)

    async def _wait(self, origin: Origin, pool_timeout: float | None) -> C | None:
        waiter: _Waiter[C] = _Waiter(origin)
        self._waiters.append(waiter)
        try:
            with anyio.move_on_after(pool_timeout):
                await waiter.event.wait()
        except BaseException:
            await self._abandon(waiter)
            raise
        if waiter.granted:
            return waiter.conn
        self._waiters.remove(waiter)
        if self.closed:
            raise PoolClosed("the transport has been closed")
        raise SlotTimeout

    async def _abandon(self, waiter: _Waiter[C]) -> None:
        """A waiter left (cancelled): withdraw it, or pass on what it was already granted."""
        if not waiter.granted:
            self._waiters.remove(waiter)
            return
        if waiter.conn is None:
            self.release_slot()
        else:
            await self.put_back(waiter.conn)

    async def put_back(self, conn: C) -> None:
        """Take back a lent connection that finished its exchange cleanly and may be reused."""
        if self._waiters:
            waiter = self._waiters.popleft()
            waiter.granted = True
            if waiter.origin == conn.origin:
                waiter.conn = conn
                waiter.event.set()
                return
            # The waiter wants another origin: the slot passes to it, this connection goes.
            waiter.event.set()
            await close_all((conn,))
            return
        if self.closed or (self._max_idle is not None and self._n_idle >= self._max_idle):
            self._total -= 1
            await close_all((conn,))
            return
        now = time.monotonic()
        conn.idle_since = now
        idle = self._idle.get(conn.origin)
        if idle is None:
            idle = self._idle[conn.origin] = []
        elif idle and self._expiry is not None and now - idle[0].idle_since >= self._expiry:
            # Under steady low concurrency the bottom of the stack is never reached: drop it here.
            stale = idle.pop(0)
            self._n_idle -= 1
            self._total -= 1
            await close_all((stale,))
        idle.append(conn)
        self._n_idle += 1

    def release_slot(self) -> None:
        """A lent connection (or a slot that never became one) is gone: pass its slot on."""
        if self._waiters:
            waiter = self._waiters.popleft()
            waiter.granted = True
            waiter.event.set()
        else:
            self._total -= 1

    async def discard(self, conn: C) -> None:
        """Close a lent connection that must not be reused, and pass its slot on."""
        self.release_slot()
        await close_all((conn,))

    async def drop_idle(self, origin: Origin) -> None:
        """Close every idle connection to ``origin``: one was found dead, older ones may be too."""
        await self._drop_idle(origin)

    async def _drop_idle(self, origin: Origin) -> None:
        idle = self._idle.pop(origin, None)
        if not idle:
            return
        self._n_idle -= len(idle)
        for _ in idle:
            self.release_slot()
        await close_all(idle)

    async def _evict_oldest(self) -> None:
        """At the limit with idle connections to other origins: close one to free a slot."""
        origin, idle = min(
            ((origin, idle) for origin, idle in self._idle.items() if idle),
            key=lambda item: item[1][0].idle_since,
        )
        conn = idle.pop(0)
        if not idle:
            del self._idle[origin]
        self._n_idle -= 1
        self._total -= 1
        await close_all((conn,))

    async def aclose(self) -> None:
        """Close every idle connection and refuse further requests; waiters get PoolClosed."""
        self.closed = True
        idle = [conn for conns in self._idle.values() for conn in conns]
        self._idle.clear()
        self._total -= len(idle)
        self._n_idle = 0
        for waiter in self._waiters:
            waiter.event.set()
        await close_all(idle)
