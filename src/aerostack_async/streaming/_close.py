"""Closing an httpx response that is being iterated, without leaving generators for the GC.

httpx reads a body through a chain of async generators (``aiter_bytes`` → ``aiter_raw`` → the
transport's streams). ``aclose()`` on the outermost one does not close the ones inside it, and
trio warns (ResourceWarning) about each one the garbage collector finds unfinished. So we close
the response first and then step the outer iterator: the read fails at the bottom of the chain
on the closed connection, and the failure unwinds, and so finishes, every generator on the way.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import anyio
import httpx

__all__ = ["close_response"]

# Stepping a closed response fails at once; this only bounds a transport that would not.
_UNWIND_SECONDS = 0.25


async def close_response(response: httpx.Response, body: AsyncIterator[bytes] | None) -> None:
    """Close ``response`` (freeing its connection) and finish ``body``, its open iterator."""
    with anyio.CancelScope(shield=True):
        await response.aclose()
        if body is None:
            return
        with anyio.move_on_after(_UNWIND_SECONDS):
            while True:
                try:
                    await body.__anext__()
                except Exception:  # StopAsyncIteration or the closed stream's read error
                    return
