"""Deadlines in the pool: a phase ends by its own timeout or by the call's deadline, whichever
comes first, and a timeout at the call's deadline is reported as the call's.

A deadline is a time on the running backend's clock (``anyio.current_time()``: the event loop's
``time()`` on asyncio, trio's clock on trio), so one clock read at the start of a call serves
every phase of it: waiting for a connection, connecting, writing, each read.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TypeVar

import anyio
import httpx

__all__ = ["DeadlineExceeded", "bounded", "limit_of", "past"]

A = TypeVar("A")
R = TypeVar("R")

_EARLY = 0.001
"""asyncio may run a timer up to its clock's resolution early: compare with this margin."""


class DeadlineExceeded(httpx.TimeoutException):
    """The call's whole deadline (``Timeout.total``) passed while the pool worked on it."""


def limit_of(seconds: float | None, deadline: float | None) -> float | None:
    """When a phase must end: ``seconds`` from now, or ``deadline`` if that comes first (None:
    unbounded). Reads the clock only when there are ``seconds`` to count."""
    if seconds is None:
        return deadline
    limit = anyio.current_time() + seconds
    return limit if deadline is None or limit < deadline else deadline


def past(deadline: float | None) -> bool:
    """Whether the call's ``deadline`` has come (a timeout at or after it is the call's)."""
    return deadline is not None and anyio.current_time() >= deadline - _EARLY


async def bounded(
    call: Callable[[A], Awaitable[R]], arg: A, seconds: float | None, deadline: float | None
) -> R:
    """``await call(arg)``, raising TimeoutError once ``seconds`` pass or the backend's clock
    reaches ``deadline`` (an anyio cancel scope, only if either is set): how a stream without a
    cheaper way of its own bounds a receive or a send."""
    limit = limit_of(seconds, deadline)
    if limit is None:
        return await call(arg)
    with anyio.CancelScope(deadline=limit):
        return await call(arg)
    raise TimeoutError
