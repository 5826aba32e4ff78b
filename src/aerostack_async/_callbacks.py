"""Callbacks a user passes in: one meaning of ``on_progress``, one way to call sync-or-async.

``on_progress(done, total)`` means the same everywhere (uploads, downloads, batches and their
streams): ``done`` grows with each report and ``total`` is the whole amount, or None while it is
unknown (a stream of unknown length, a download without ``Content-Length``). A plain function
or an ``async def`` (or an object with an async ``__call__``) may be given.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import TypeAlias

__all__ = ["ProgressCallback", "call_maybe_async", "is_async_callable"]

ProgressCallback: TypeAlias = Callable[[int, "int | None"], object]
"""``on_progress(done, total)``; ``total`` is None while unknown. Sync or async."""


async def call_maybe_async(callback: Callable[..., object], *args: object) -> None:
    """Call ``callback(*args)`` and await the result if it is awaitable."""
    result = callback(*args)
    if inspect.isawaitable(result):
        await result


def is_async_callable(callback: Callable[..., object]) -> bool:
    """Whether calling ``callback`` returns a coroutine (an ``async def`` or async ``__call__``)."""
    call = getattr(callback, "__call__", None)  # noqa: B004 (async __call__ of a callable object)
    return inspect.iscoroutinefunction(callback) or inspect.iscoroutinefunction(call)
