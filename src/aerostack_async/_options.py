"""Client and per-call options: timeouts, connection limits, the retry policy.

These are plain frozen dataclasses so that nothing above the transport needs httpx; the
transport turns them into httpx's types once, when a client is built.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import TypedDict

from .errors import ConfigurationError

if sys.version_info >= (3, 11):  # pragma: no cover - depends on the interpreter
    from typing import Unpack
else:  # pragma: no cover
    from typing_extensions import Unpack

__all__ = [
    "DEFAULT_LIMITS",
    "DEFAULT_RETRY",
    "DEFAULT_TIMEOUT",
    "CallOptions",
    "Limits",
    "RetryPolicy",
    "Timeout",
    "Unpack",
    "coerce_limits",
    "coerce_timeout",
]


@dataclass(frozen=True, slots=True)
class Timeout:
    """How long one call may take.

    ``connect``, ``read``, ``write`` and ``pool`` bound each phase of every attempt (``None`` =
    unbounded); ``total`` bounds the whole call, every retry and backoff included.

    Example:
        ```python
        AsyncAerostack(timeout=Timeout(read=120, total=300))
        await client.cache.get("k", timeout=2.0)  # each phase 2 s, same total
        ```
    """

    connect: float | None = 5.0
    read: float | None = 60.0
    write: float | None = 60.0
    pool: float | None = 10.0
    total: float | None = 120.0

    def __post_init__(self) -> None:
        for name in ("connect", "read", "write", "pool", "total"):
            value = getattr(self, name)
            if value is not None and not (isinstance(value, (int, float)) and value > 0):
                raise ConfigurationError(f"Timeout.{name} must be a positive number or None")


DEFAULT_TIMEOUT = Timeout()
"""Connect 5 s, read and write 60 s, waiting for a pooled connection 10 s, whole call 120 s."""


def coerce_timeout(value: float | Timeout | None, base: Timeout = DEFAULT_TIMEOUT) -> Timeout:
    """A `Timeout` from a number (every phase, ``total`` kept from ``base``) or None."""
    if isinstance(value, Timeout):
        return value
    if value is None:
        return Timeout(None, None, None, None, None)
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ConfigurationError(f"timeout must be a number, a Timeout or None, not {value!r}")
    seconds = float(value)
    total = base.total if base.total is None else max(base.total, seconds)
    return Timeout(seconds, seconds, seconds, seconds, total)


@dataclass(frozen=True, slots=True)
class Limits:
    """The connection pool's size: open connections, idle ones kept, and how long idle ones live.

    ``None`` means no limit (for ``keepalive_expiry``: idle connections never expire). An
    ``httpx.Limits`` is accepted wherever a ``Limits`` is, with the same three fields.

    Example:
        ```python
        AsyncAerostack(limits=Limits(max_connections=10, max_keepalive_connections=10))
        AsyncAerostack(limits=httpx.Limits(max_connections=10))  # the same fields, httpx's type
        ```
    """

    max_connections: int | None = 100
    max_keepalive_connections: int | None = 20
    keepalive_expiry: float | None = 5.0

    def __post_init__(self) -> None:
        for name, least in (("max_connections", 1), ("max_keepalive_connections", 0)):
            value = getattr(self, name)
            if value is not None and (
                isinstance(value, bool) or not isinstance(value, int) or value < least
            ):
                raise ConfigurationError(
                    f"Limits.{name} must be an int of at least {least} or None, not {value!r}"
                )
        expiry = self.keepalive_expiry
        if expiry is not None and (
            isinstance(expiry, bool) or not isinstance(expiry, (int, float)) or expiry < 0
        ):
            raise ConfigurationError(
                f"Limits.keepalive_expiry must be a non-negative number or None, not {expiry!r}"
            )


DEFAULT_LIMITS = Limits()
"""Up to 100 connections, 20 kept alive for 5 s."""


def coerce_limits(value: object) -> Limits:
    """A `Limits` from ours or from an ``httpx.Limits`` (its three fields, as they are)."""
    if isinstance(value, Limits):
        return value
    import httpx  # a core dependency; imported here so that this module itself does not need it

    if isinstance(value, httpx.Limits):
        return Limits(
            max_connections=value.max_connections,
            max_keepalive_connections=value.max_keepalive_connections,
            keepalive_expiry=value.keepalive_expiry,
        )
    raise ConfigurationError(
        f"limits must be a Limits or an httpx.Limits, not {type(value).__name__}"
    )


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """When and how a failed call is tried again (driven by stamina).

    Retried: no response (connection refused, reset or lost, timeouts), 408, 429 and 5xx.
    Backoff is exponential with jitter (``wait_initial`` doubling up to ``wait_max``); a
    ``Retry-After`` header replaces it, unless it asks for more than ``max_retry_after`` seconds
    or beyond the call's total deadline, in which case the error is raised at once. Mutating
    calls carry one ``Idempotency-Key`` across all their attempts, so a retry never repeats a
    side effect.

    Example:
        ```python
        AsyncAerostack(retry=RetryPolicy(attempts=5, max_retry_after=60))
        await client.queue.enqueue("email", {...}, retry=None)  # this call: one attempt only
        ```
    """

    attempts: int = 3
    wait_initial: float = 0.1
    wait_max: float = 5.0
    wait_jitter: float = 1.0
    wait_exp_base: float = 2.0
    max_retry_after: float = 30.0

    def __post_init__(self) -> None:
        if isinstance(self.attempts, bool) or not isinstance(self.attempts, int):
            raise ConfigurationError("RetryPolicy.attempts must be an int")
        if self.attempts < 1:
            raise ConfigurationError("RetryPolicy.attempts must be at least 1")
        for name in ("wait_initial", "wait_max", "wait_jitter", "max_retry_after"):
            if getattr(self, name) < 0:
                raise ConfigurationError(f"RetryPolicy.{name} must not be negative")

    def with_attempts(self, attempts: int) -> RetryPolicy:
        """A copy with another number of attempts."""
        return replace(self, attempts=attempts)


DEFAULT_RETRY = RetryPolicy()
"""Three attempts, 0.1 s doubling backoff with jitter, ``Retry-After`` honoured up to 30 s."""


class CallOptions(TypedDict, total=False):
    """Keyword-only options every resource method accepts.

    - ``timeout``: a number (seconds per phase) or a `Timeout` for this call.
    - ``retry``: a `RetryPolicy` for this call, or ``None`` for a single attempt.
    - ``extra_headers``: headers added to this request (they cannot replace the API key).
    - ``idempotency_key``: use this ``Idempotency-Key`` instead of a fresh one (≤ 255 chars).
    """

    timeout: float | Timeout | None
    retry: RetryPolicy | None
    extra_headers: Mapping[str, str]
    idempotency_key: str
