"""Deadlines in the pool: a phase ends by its own timeout or by the call's deadline, whichever
comes first, and a timeout at the call's deadline is reported as the call's.

A deadline is a time on the running backend's clock (``anyio.current_time()``: the event loop's
``time()`` on asyncio, trio's clock on trio), so one clock read at the start of a call serves
every phase of it: waiting for a connection, connecting, writing, each read.
"""

from __future__ import annotations

import anyio
import httpx

__all__ = ["DeadlineExceeded", "limit_of", "past"]

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
