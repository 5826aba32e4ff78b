"""The seed SDK's retry settings (``RetryConfig``, ``BackoffStrategy``), mapped onto RetryPolicy.

Code written for the seed keeps working after ``from aerostack.utils import …`` becomes
``from aerostack_async.utils import …``::

    from aerostack_async.utils import BackoffStrategy, RetryConfig

    retry = RetryConfig("backoff", BackoffStrategy(1, 50, 1.1, 100), False)

The seed counts in milliseconds and retries until ``max_elapsed_time`` has passed; the core
counts in seconds and retries a number of times. `RetryConfig.to_retry_policy()` turns the
one into the other (see its docstring for the small differences).
"""

from __future__ import annotations

from .._options import RetryPolicy
from ..errors import ConfigurationError

__all__ = ["BackoffStrategy", "RetryConfig"]

# The seed would retry for up to an hour by default; a bounded count is kinder to servers.
_MAX_ATTEMPTS = 10
# The seed adds up to 1 s of random jitter to every wait (capped by ``max_interval``).
_SEED_JITTER_S = 1.0


class BackoffStrategy:
    """Exponential backoff, in milliseconds, as the seed SDK spells it.

    The wait before retry *n* is ``initial_interval * exponent**n`` plus up to a second of
    jitter, at most ``max_interval``; retrying stops once ``max_elapsed_time`` has passed.
    """

    initial_interval: int
    max_interval: int
    exponent: float
    max_elapsed_time: int

    def __init__(
        self,
        initial_interval: int,
        max_interval: int,
        exponent: float,
        max_elapsed_time: int,
    ) -> None:
        for name, value in (
            ("initial_interval", initial_interval),
            ("max_interval", max_interval),
            ("exponent", exponent),
            ("max_elapsed_time", max_elapsed_time),
        ):
            if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
                raise ConfigurationError(
                    f"BackoffStrategy.{name} must be a non-negative number, not {value!r}"
                )
        self.initial_interval = initial_interval
        self.max_interval = max_interval
        self.exponent = exponent
        self.max_elapsed_time = max_elapsed_time

    def __repr__(self) -> str:
        return (
            f"BackoffStrategy({self.initial_interval}, {self.max_interval}, "
            f"{self.exponent}, {self.max_elapsed_time})"
        )


class RetryConfig:
    """The seed SDK's retry setting: ``strategy`` is ``"backoff"`` or ``"none"``.

    ``retry_connection_errors`` is kept for compatibility; the core always retries calls that
    got no response, which is safe because every mutating call carries an ``Idempotency-Key``.
    """

    strategy: str
    backoff: BackoffStrategy
    retry_connection_errors: bool

    def __init__(
        self, strategy: str, backoff: BackoffStrategy, retry_connection_errors: bool
    ) -> None:
        if strategy not in ("backoff", "none"):
            raise ConfigurationError(
                f"RetryConfig.strategy must be 'backoff' or 'none', not {strategy!r}"
            )
        if not isinstance(backoff, BackoffStrategy):
            raise ConfigurationError("RetryConfig.backoff must be a BackoffStrategy")
        self.strategy = strategy
        self.backoff = backoff
        self.retry_connection_errors = retry_connection_errors

    def to_retry_policy(self) -> RetryPolicy | None:
        """The equivalent `RetryPolicy` (``None`` means a single attempt).

        Waits convert from milliseconds to seconds with the seed's jitter; the number of
        attempts is how many of those waits fit in ``max_elapsed_time`` (at least 1, at most
        10), counting each wait at its expected length.
        """
        if self.strategy == "none":
            return None
        backoff = self.backoff
        wait_initial = backoff.initial_interval / 1000
        wait_max = backoff.max_interval / 1000
        budget = backoff.max_elapsed_time / 1000
        attempts, elapsed = 1, 0.0
        while attempts < _MAX_ATTEMPTS:
            expected = min(
                wait_initial * backoff.exponent ** (attempts - 1) + _SEED_JITTER_S / 2, wait_max
            )
            if elapsed + expected > budget:
                break
            elapsed += expected
            attempts += 1
        return RetryPolicy(
            attempts=attempts,
            wait_initial=wait_initial,
            wait_max=wait_max,
            wait_jitter=_SEED_JITTER_S,
            wait_exp_base=backoff.exponent,
        )

    def __repr__(self) -> str:
        return f"RetryConfig({self.strategy!r}, {self.backoff!r}, {self.retry_connection_errors!r})"
