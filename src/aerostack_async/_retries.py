"""Retries stay quiet: stamina drives them, our logger alone reports them.

stamina runs its global on-retry hooks for every retry it schedules, and its default hook logs
``stamina.retry_scheduled`` at ``WARNING``, which Python's last-resort handler prints to stderr
in any application that has not configured logging. stamina has no per-call hooks, so the
hooks it has are wrapped, once, in `_OthersOnly`: outside `retry_scope()` (the
application's own stamina retries, or another library's) they run as before; inside it (this
package's retries) they are skipped, and the retry is logged on ``aerostack_async`` instead,
at ``INFO``, with the method, path, attempt, wait and reason, never a key or a header.

Only the hooks are touched: ``stamina.set_testing`` and ``stamina.set_active`` apply to our
retries as to any other. An application that sets new hooks later gets them wrapped again at
our next retry.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager, ExitStack, contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from types import TracebackType
from typing import TYPE_CHECKING

from ._logging import logger, redact
from .errors import APIConnectionError, APIStatusError

if TYPE_CHECKING:
    from stamina.instrumentation import RetryDetails, RetryHook

__all__ = ["describe_failure", "retry_scope"]


@dataclass(frozen=True, slots=True)
class _Scope:
    method: str
    path: str
    attempts: int


_current: ContextVar[_Scope | None] = ContextVar("aerostack_async_retry", default=None)


@contextmanager
def retry_scope(method: str, path: str, attempts: int) -> Iterator[None]:
    """Mark the stamina retries run inside as this package's own (for the current task)."""
    _wrap_stamina_hooks()
    token = _current.set(_Scope(method, path, attempts))
    try:
        yield
    finally:
        _current.reset(token)


class _OthersOnly:
    """stamina's hooks, run for every retry but ours; ours are logged on our logger instead."""

    __slots__ = ("hooks",)

    def __init__(self, hooks: Sequence[RetryHook]) -> None:
        self.hooks = tuple(hooks)

    def __call__(self, details: RetryDetails) -> AbstractContextManager[None] | None:
        scope = _current.get()
        if scope is not None:
            _log_retry(scope, details)
            return None
        entered = [cm for cm in (hook(details) for hook in self.hooks) if cm is not None]
        if not entered:
            return None
        return entered[0] if len(entered) == 1 else _All(entered)

    def __repr__(self) -> str:
        return f"<aerostack_async: stamina hooks except for its own retries: {self.hooks!r}>"


class _All(AbstractContextManager[None]):
    """Several hooks' context managers as one (stamina enters and exits what a hook returns)."""

    def __init__(self, managers: list[AbstractContextManager[None]]) -> None:
        self._managers = managers
        self._stack = ExitStack()

    def __enter__(self) -> None:
        for manager in self._managers:
            self._stack.enter_context(manager)

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self._stack.__exit__(exc_type, exc, traceback)


def _wrap_stamina_hooks() -> None:
    from stamina.instrumentation import get_on_retry_hooks, set_on_retry_hooks

    hooks = get_on_retry_hooks()
    if len(hooks) == 1 and isinstance(hooks[0], _OthersOnly):
        return
    # Hooks added beside an earlier wrapper (get, append, set) join the ones it holds.
    flat: list[RetryHook] = []
    for hook in hooks:
        flat.extend(hook.hooks if isinstance(hook, _OthersOnly) else (hook,))
    set_on_retry_hooks([_OthersOnly(flat)])


def _log_retry(scope: _Scope, details: RetryDetails) -> None:
    if not logger.isEnabledFor(logging.INFO):
        return
    attempt = details.retry_num + 1  # retry_num counts the attempts that have failed
    wait = round(details.wait_for, 3)
    reason = redact(describe_failure(details.caused_by))
    logger.info(
        "retrying %s %s in %.2f s (attempt %d of %d): %s",
        scope.method,
        scope.path,
        wait,
        attempt,
        scope.attempts,
        reason,
        extra={
            "method": scope.method,
            "path": scope.path,
            "attempt": attempt,
            "attempts": scope.attempts,
            "wait": wait,
            "reason": reason,
        },
    )


def describe_failure(exc: BaseException) -> str:
    """Why an attempt failed, in a few words: ``503 UNAVAILABLE``, ``ConnectError: refused``."""
    if isinstance(exc, APIStatusError):
        return f"{exc.status_code} {exc.code}".strip()
    if isinstance(exc, APIConnectionError):
        cause = exc.__cause__
        if cause is not None:
            text = str(cause)
            return f"{type(cause).__name__}: {text}" if text else type(cause).__name__
        return type(exc).__name__
    return type(exc).__name__
