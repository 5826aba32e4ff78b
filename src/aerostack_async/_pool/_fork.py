"""Fork safety: a forked child never touches a connection its parent opened.

After ``os.fork()`` (``multiprocessing``'s fork start method, ``gunicorn --preload``, Celery's
prefork pool) parent and child hold the same sockets. If both used one pooled connection, each
could read the other's answers. So every live pool is tracked here, and in the child, right after
the fork, each one forgets what it inherited: its books start empty and the inherited sockets'
descriptors are closed in the child only, with no byte sent and no ``shutdown()``, so the
parent's connections carry on undisturbed.
"""

from __future__ import annotations

import os
import weakref
from typing import Protocol


class ForkAware(Protocol):
    """Something holding connections that a forked child must not use."""

    def forget_inherited(self) -> None:
        """Drop the parent's connections without a byte on their sockets (in the child)."""


_TRACKED: weakref.WeakSet[ForkAware] = weakref.WeakSet()


def track(holder: ForkAware) -> None:
    """Have ``holder.forget_inherited()`` called in every child forked from now on."""
    _TRACKED.add(holder)


def _forget_in_child() -> None:
    for holder in list(_TRACKED):
        holder.forget_inherited()


if hasattr(os, "register_at_fork"):  # not on Windows, which has no fork
    os.register_at_fork(after_in_child=_forget_in_child)
